"""The ``cellsrun`` command line: parse, build settings, call the core, map errors to exit codes.

Each subcommand is one entry of :data:`COMMANDS`: a function that adds its flags
and a handler that imports its core lazily (``cellsrun rotate`` and ``cellsrun
logs`` start often and must not pay for supervisor or psutil).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from cellsrun import __version__
from cellsrun.errors import CellsrunError, UsageError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is our UsageError (one ``Error:`` line, exit 2)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _converter(func, flag):
    """Wrap a datatypes converter so that argparse reports ``--flag: <ValueError text>``."""
    def convert(text):
        try:
            return func(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = flag
    return convert


# -- rotate ---------------------------------------------------------------------------------

def _add_rotate(p: argparse.ArgumentParser) -> None:
    from cellsrun import datatypes as dt
    p.add_argument("--input", metavar="FIFO", help="read this FIFO (created 0600 if missing, "
                   "held open read-write); default: stdin, exit at end of input")
    p.add_argument("--dir", metavar="DIR", help="log directory (default: $CELLS_LOG_DIR, else "
                   "$CELLS_WORKING_DIR/logs, else ~/.config/pydio/cells/logs)")
    p.add_argument("--name", default="cells.out", type=_converter(dt.file_name, "name"),
                   help="live file name (default: cells.out)")
    p.add_argument("--keep-days", type=_converter(dt.non_negative_int, "keep-days"), default=30,
                   metavar="N", help="remove archives dated more than N days ago (default 30; 0: never)")
    p.add_argument("--max-total", type=_converter(dt.byte_size, "max-total"), default=0,
                   metavar="SIZE", help="remove the oldest archives while all exceed SIZE (e.g. 5GB)")
    p.add_argument("--compress", choices=("gzip", "none"), default="gzip")
    p.add_argument("--format", choices=("raw", "json"), default="raw",
                   help="json: every line one JSON object (other lines wrapped)")
    p.add_argument("--utc", action="store_true", help="rotate at midnight UTC, not local time")
    p.add_argument("--logger", default="", help="logger name in wrapped lines (default: NAME's stem)")
    p.add_argument("--max-line", type=_converter(dt.byte_size, "max-line"), default="1MiB",
                   metavar="SIZE", help="cut lines longer than SIZE (default 1MiB)")


def default_log_dir(env=os.environ) -> str:
    """$CELLS_LOG_DIR, else <working dir>/logs; the working dir is $CELLS_WORKING_DIR or
    ~/.config/pydio/cells, as for Cells itself."""
    if env.get("CELLS_LOG_DIR"):
        return env["CELLS_LOG_DIR"]
    home = env.get("CELLS_WORKING_DIR") or os.path.join(os.path.expanduser("~"), ".config", "pydio", "cells")
    return os.path.join(home, "logs")


def _run_rotate(args) -> int:
    from cellsrun.rotate import RotateSettings, run_rotate
    if args.max_line < 1024:
        raise UsageError(f"--max-line {args.max_line} is too small (at least 1KiB)")
    settings = RotateSettings(directory=args.dir or default_log_dir(), name=args.name,
                              input=args.input, keep_days=args.keep_days,
                              max_total=args.max_total, compress=args.compress,
                              format=args.format, utc=args.utc, logger=args.logger,
                              max_line=args.max_line)
    return run_rotate(settings)


# -- launcher -------------------------------------------------------------------------------

def _add_home(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", metavar="DIR", help="working dir (default: $CELLS_WORKING_DIR, "
                   "else ~/.config/pydio/cells)")


def _add_start(p: argparse.ArgumentParser) -> None:
    from cellsrun import datatypes as dt
    _add_home(p)
    p.add_argument("--log", metavar="MODE", help="Cells' log mode: production = JSON lines, "
                   "else console lines (default: $PYDIO_LOGS_LEVEL, else the saved one, else info)")
    p.add_argument("--demo", action="store_true", help="run the bundled demo service "
                   "(what follows -- goes to the demo)")
    p.add_argument("--keep-days", type=_converter(dt.non_negative_int, "keep-days"), metavar="N")
    p.add_argument("--max-total", type=_converter(dt.byte_size, "max-total"), metavar="SIZE")
    p.add_argument("--compress", choices=("gzip", "none"))
    p.add_argument("--startsecs", type=_converter(dt.non_negative_int, "startsecs"), metavar="S",
                   help="seconds the service must stay up to count as started (default 2)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS... (saved for next time)")


def _settings(args, flags: dict | None = None):
    from cellsrun.settings import resolve
    return resolve(args.home, flags or {})


def _start_flags(args) -> dict:
    flags = {}
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if command and command[0].startswith("-") and not args.demo:
        raise UsageError(f"unknown option {command[0]!r} (a service command goes after --)")
    if args.demo:
        flags.update(demo=True, command=command)
    elif command:
        flags.update(demo=False, command=command)
    for key in ("log", "keep_days", "max_total", "compress", "startsecs"):
        if getattr(args, key) is not None:
            flags[key] = getattr(args, key)
    return flags


def _run_start(args, restart: bool = False) -> int:
    from cellsrun.launcher import Launcher
    flags = _start_flags(args)
    s = _settings(args, flags)
    launcher = Launcher(s)
    if restart:
        launcher.stop()
    launcher.start()
    if flags:
        s.save_file()
    return _print_status(launcher, as_json=False)


def _run_restart(args) -> int:
    return _run_start(args, restart=True)


def _add_stop(p: argparse.ArgumentParser) -> None:
    _add_home(p)
    p.add_argument("--all", action="store_true", help="also stop the rotator (after it drained "
                   "the FIFO) and shut supervisord down")


def _run_stop(args) -> int:
    from cellsrun.launcher import Launcher
    launcher = Launcher(_settings(args))
    if not launcher.running():
        print(f"supervisord is not running ({launcher.s.home})")
        return 0
    killed = launcher.stop(everything=args.all)
    if killed:
        print(f"killed {len(killed)} process(es) left behind by the service: {killed}")
    print("stopped everything" if args.all else "stopped the service (the rotator keeps draining)")
    return 0


def _add_status(p: argparse.ArgumentParser) -> None:
    _add_home(p)
    p.add_argument("--json", action="store_true", help="machine-readable")


def _print_status(launcher, as_json: bool) -> int:
    from cellsrun import status
    data = status.collect(launcher)
    print(status.as_json(data) if as_json else status.render(data))
    states = {p["name"]: p["state"] for p in data["programs"]}
    return 0 if states.get("cells") == "RUNNING" else 1


def _run_status(args) -> int:
    from cellsrun.launcher import Launcher
    return _print_status(Launcher(_settings(args)), args.json)


def _add_exec(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", required=True, metavar="FIFO")
    p.add_argument("--log", metavar="MODE", help="set PYDIO_LOGS_LEVEL for the service")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")


def _run_exec(args) -> int:
    from cellsrun.execshim import exec_service
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return exec_service(args.output, command, args.log)


def _add_demo(p: argparse.ArgumentParser) -> None:
    from cellsrun import datatypes as dt
    p.add_argument("--log", metavar="MODE", help="production: JSON lines (default: $PYDIO_LOGS_LEVEL)")
    p.add_argument("--rate", type=float, default=20, metavar="N", help="lines per second (default 20)")
    p.add_argument("--count", type=_converter(dt.non_negative_int, "count"), default=0,
                   metavar="N", help="stop after N lines (default: run until stopped)")


def _run_demo(args) -> int:
    from cellsrun.demo import run_demo
    if args.rate < 0:
        raise UsageError(f"--rate {args.rate} must be 0 (as fast as possible) or more")
    return run_demo(args.log, args.rate, args.count)


def _add_config(p: argparse.ArgumentParser) -> None:
    _add_home(p)
    p.add_argument("--supervisor", action="store_true", required=True,
                   help="print the [program:] blocks for a system supervisord (/etc/supervisor/conf.d/)")


def _run_config(args) -> int:
    from cellsrun import supervisor_conf
    s = _settings(args)
    print(f"; cellsrun programs for {s.home}: save as /etc/supervisor/conf.d/cells.conf,\n"
          f"; then `supervisorctl reread && supervisorctl update`.\n")
    print(supervisor_conf.programs(s, require_cells=False))
    return 0


# -- logs -----------------------------------------------------------------------------------

def _add_logs(p: argparse.ArgumentParser) -> None:
    from cellsrun import datatypes as dt
    p.add_argument("--dir", metavar="DIR", help="log directory (default: $CELLS_LOG_DIR, else "
                   "$CELLS_WORKING_DIR/logs, else ~/.config/pydio/cells/logs)")
    p.add_argument("--name", default="cells.out", type=_converter(dt.file_name, "name"))
    p.add_argument("-q", dest="terms", action="append", default=[], metavar="TEXT",
                   help="full text, case-insensitive; repeat: all must match")
    p.add_argument("--day", metavar="DATE", help="YYYY-MM-DD, today or yesterday")
    p.add_argument("--since", metavar="T", help="ISO date/time (local without offset) or 30m, 2h, 3d")
    p.add_argument("--until", metavar="T", help="inclusive; same forms as --since")
    p.add_argument("--level", metavar="L", help="debug, info, warn, error... or '>=warn'")
    p.add_argument("--service", metavar="S", help="a part of the logger name")
    p.add_argument("--user", metavar="U", help="UserName, exactly")
    p.add_argument("--ip", metavar="IP", help="RemoteAddress, exactly")
    p.add_argument("--around", metavar="T", help="entries within --minutes of T")
    p.add_argument("--minutes", type=float, default=5, metavar="N", help="for --around (default 5)")
    p.add_argument("-n", type=_converter(dt.non_negative_int, "n"), default=0, metavar="N",
                   help="only the last N matches")
    p.add_argument("--reverse", action="store_true", help="newest first")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new entries (Ctrl-C ends)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per entry")
    out.add_argument("--csv", action="store_true", help="Date,Level,IP,User,Service,Message")
    out.add_argument("--detail", action="store_true", help="every field of each entry")
    p.add_argument("--stats", action="store_true", help="entries per hour by level (--json: numbers)")


def _logs_query(args, now: float):
    from cellsrun.query import Query, parse_day, parse_level, parse_moment
    import datetime as _dt
    try:
        since = parse_moment(args.since, now) if args.since else None
        until = parse_moment(args.until, now, end_of_day=True) if args.until else None
        if args.day:
            day = parse_day(args.day, now)
            start = _dt.datetime.combine(day, _dt.time()).timestamp()
            stop = _dt.datetime.combine(day + _dt.timedelta(days=1), _dt.time()).timestamp() - 1e-6
            since = start if since is None else max(since, start)
            until = stop if until is None else min(until, stop)
        if args.around:
            if args.minutes < 0:
                raise ValueError(f"invalid --minutes {args.minutes} (must be 0 or more)")
            t = parse_moment(args.around, now)
            since = t - args.minutes * 60 if since is None else max(since, t - args.minutes * 60)
            until = t + args.minutes * 60 if until is None else min(until, t + args.minutes * 60)
        level = parse_level(args.level) if args.level else None
    except ValueError as e:
        raise UsageError(str(e)) from None
    return Query(args.terms, since, until, level, args.service, args.user, args.ip)


def _run_logs(args) -> int:
    import time
    from cellsrun.logs import run_logs
    if args.follow and (args.reverse or args.stats):
        raise UsageError("--follow cannot go with --reverse or --stats")
    query = _logs_query(args, time.time())
    fmt = ("stats-json" if args.json else "stats") if args.stats else (
        "json" if args.json else "csv" if args.csv else "detail" if args.detail else "table")
    return run_logs(args.dir or default_log_dir(), query, name=args.name, fmt=fmt, last=args.n,
                    reverse=args.reverse, follow=args.follow)


# -- the table ------------------------------------------------------------------------------

COMMANDS = {
    # name: (help, add flags, run)
    "start": ("start supervisord, the rotator and the service", _add_start, _run_start),
    "stop": ("stop the service (--all: everything)", _add_stop, _run_stop),
    "restart": ("stop the service, then start again", _add_start, _run_restart),
    "status": ("show supervisord, the programs, the service's processes and the logs",
               _add_status, _run_status),
    "rotate": ("read a service's output and write it to rotated log files",
               _add_rotate, _run_rotate),
    "exec": ("(run by supervisord) point stdout/stderr at the FIFO and exec the service",
             _add_exec, _run_exec),
    "demo": ("a stand-in for Pydio Cells writing realistic log lines", _add_demo, _run_demo),
    "config": ("print supervisord configuration", _add_config, _run_config),
    "logs": ("browse the logs: filter, follow, detail, export (Cells' Backend > Logs)",
             _add_logs, _run_logs),
}


def build_parser(argv: list[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` gets its flags (argparse costs ~7 ms to
    build them all, and `cellsrun logs` and `rotate` start often). Without argv: all of them."""
    parser = _Parser(prog="cellsrun", description="Run Pydio Cells (or any service that logs to "
                     "stdout) under supervisord, with lossless midnight log rotation.")
    parser.add_argument("--version", action="version", version=f"cellsrun {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (help_text, add, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if not argv or name == chosen:
            add(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code (0 ok, 1 runtime failure, 2 usage)."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser(argv).parse_args(argv)
        if not getattr(args, "run", None):
            raise UsageError("a command is needed (see 'cellsrun --help')")
        return args.run(args)
    except CellsrunError as e:
        if debug:
            raise
        print(f"Error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        return _quiet_epipe()
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        if debug:
            raise
        if e.errno == errno.EPIPE:
            return _quiet_epipe()
        where = f" {e.filename}" if e.filename else ""
        print(f"Error:{where} {e.strerror or e}", file=sys.stderr)
        return 1


def _quiet_epipe() -> int:
    """`cellsrun logs | head`: the reader left; exit quietly (as click does)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return 1
