"""Flags and handlers for several servers: `cellsrun housekeep`, and the rsyslog flags of
`cellsrun config` (``--rsyslog-ship``, ``--rsyslog-collect``; `config` itself lives in launch.py)."""

from __future__ import annotations

import argparse
import shlex
import sys

from cellsrun import datatypes as dt
from cellsrun import defaults
from cellsrun.cli.flags import add_archive_care, converter
from cellsrun.errors import UsageError


def add_rsyslog_config(p: argparse.ArgumentParser, which) -> None:
    """The rsyslog flags of `cellsrun config`; ``which`` is its group of mutually exclusive modes."""
    which.add_argument("--rsyslog-ship", action="store_true",
                       help="print the rsyslog snippet for a Cells host (/etc/rsyslog.d/cells.conf) "
                       "(no default: one of the three modes is required)")
    which.add_argument("--rsyslog-collect", action="store_true",
                       help="print the rsyslog snippet for the collector (no default: one of the three "
                       "modes is required)")
    p.add_argument("--to", type=converter(dt.host_port, "to"), metavar="HOST:PORT",
                   help="with --rsyslog-ship: the collector (required there; no default)")
    p.add_argument("--listen", type=converter(dt.listen_port, "listen"), metavar="[ADDR:]PORT",
                   help="with --rsyslog-collect: where to listen (default: every address)")
    p.add_argument("--relp", action="store_true", help="RELP (acknowledged delivery) rather than TCP (default: TCP)")
    p.add_argument("--dir", metavar="DIR", help=f"--rsyslog-ship: the log dir to read (default: the "
                   f"working dir's); --rsyslog-collect: where to write (default {defaults.COLLECT_DIR})")
    p.add_argument("--max-line", type=converter(dt.max_line, "max-line"),
                   default=defaults.MAX_LINE_BYTES, metavar="SIZE",
                   help="the rotator's --max-line: lines this long travel whole (default 1MiB)")
    p.add_argument("--rsyslog-conf", default=defaults.RSYSLOG_CONF, metavar="FILE",
                   help="the main rsyslog configuration the snippet joins: what it loads or sets "
                   f"already is not set again (default {defaults.RSYSLOG_CONF})")


def run_rsyslog_config(args, log_dir) -> int:
    """Print the chosen snippet. ``log_dir()``: the working dir's log dir (for --rsyslog-ship)."""
    from cellsrun.ship import rsyslog
    command = "config " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["config"] else [])
    if args.rsyslog_ship:
        if not args.to:
            raise UsageError("--rsyslog-ship needs --to HOST:PORT (the collector)")
        if args.listen:
            raise UsageError("--listen goes with --rsyslog-collect, not --rsyslog-ship")
        host, port = args.to
        text = rsyslog.ship(args.dir or log_dir(), host, port, relp=args.relp, max_line=args.max_line,
                            rsyslog_conf=args.rsyslog_conf, command=command)
    else:
        if not args.listen:
            raise UsageError("--rsyslog-collect needs --listen [ADDR:]PORT")
        if args.to:
            raise UsageError("--to goes with --rsyslog-ship, not --rsyslog-collect")
        address, port = args.listen
        text = rsyslog.collect(args.dir or defaults.COLLECT_DIR, address, port, relp=args.relp,
                               max_line=args.max_line, rsyslog_conf=args.rsyslog_conf,
                               command=command)
    sys.stdout.write(text)
    return 0


def add_housekeep(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", action="append", required=True, metavar="DIR",
                   help="a directory of cells.out.YYYY-MM-DD files (repeat; a quoted glob such as "
                   "'/var/log/cells/*' names every host's)")
    add_archive_care(p, "finished days")
    p.add_argument("-v", "--verbose", action="store_true", help="say what was compressed and removed")


def run_housekeep(args) -> int:
    import os
    from cellsrun import logdirs
    from cellsrun.clock import Clock
    from cellsrun.errors import RuntimeFailure
    from cellsrun.ship.housekeep import housekeep
    directories = logdirs.expand(args.dir)
    for directory in directories:
        if not os.path.isdir(directory):
            raise RuntimeFailure(f"{directory} is not a directory")
    warned = False
    for directory in directories:
        result = housekeep(directory, clock=Clock(), compress=args.compress,
                           keep_days=args.keep_days, max_total=args.max_total)
        for text in result.warnings:
            print(f"cellsrun housekeep: warning: {directory}: {text}", file=sys.stderr)
            warned = True
        if args.verbose:
            for filename in result.compressed:
                print(f"compressed {os.path.join(directory, filename)}")
            for filename in result.removed:
                print(f"removed {os.path.join(directory, filename)}")
    return 1 if warned else 0
