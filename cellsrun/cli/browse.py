"""Flags and handler of `cellsrun logs` (the browser)."""

from __future__ import annotations

import argparse

from cellsrun import datatypes as dt
from cellsrun import defaults
from cellsrun.cli.flags import converter
from cellsrun.errors import UsageError


def add_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", metavar="DIR", action="append", help="log directory (default: $CELLS_LOG_DIR, "
                   "else HOME/logs); repeat, or a quoted glob such as '/var/log/cells/*', for several "
                   "hosts: merged in time order, with a Host column")
    p.add_argument("--host", metavar="NAME", action="append", default=[],
                   help="with several directories: only this host's entries (a directory's name; repeat) "
                   "(default: every host)")
    p.add_argument("--home", metavar="HOME", help="working dir whose logs to read, as for start "
                   "(default: $CELLS_WORKING_DIR, else ~/.config/pydio/cells)")
    p.add_argument("--name", default=defaults.LIVE_NAME, type=converter(dt.file_name, "name"),
                   help=f"live file name (default: {defaults.LIVE_NAME})")
    p.add_argument("-q", dest="terms", action="append", default=[], metavar="TEXT",
                   help="full text, case-insensitive; repeat: all must match (default: any text)")
    p.add_argument("--day", metavar="DATE", help="YYYY-MM-DD, today or yesterday (default: every day)")
    p.add_argument("--since", metavar="T", help="inclusive: 2026-11-27, 2026-11-27T13:30[+01:00], "
                   "13:30 (today), 30m, 2h, 3d, 1w (default: the oldest entry)")
    p.add_argument("--until", metavar="T", help="inclusive; same forms as --since (default: the newest)")
    p.add_argument("--level", metavar="L", help="debug, info, warn, error... or '>=warn' "
                   "(default: every level)")
    p.add_argument("--service", metavar="S", help="a part of the logger name (default: any)")
    p.add_argument("--user", metavar="U", help="UserName, exactly (default: any)")
    p.add_argument("--ip", metavar="IP", help="RemoteAddress, exactly (default: any)")
    p.add_argument("--around", metavar="T", help="entries within --minutes of T; same forms as "
                   "--since (default: none)")
    p.add_argument("--minutes", metavar="N", help="for --around, and only with it "
                   f"(default {defaults.AROUND_MINUTES})")
    p.add_argument("-n", type=converter(dt.non_negative_int, "n"), default=0, metavar="N",
                   help="only the last N matches (default 0: all)")
    p.add_argument("--reverse", action="store_true", help="newest first (default: oldest first)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new entries, Ctrl-C "
                   "ends (default: stop at the end)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per entry (default: a table)")
    out.add_argument("--csv", action="store_true", help="Date,Level,IP,User,Service,Message "
                     "(default: a table)")
    out.add_argument("--detail", action="store_true", help="every field of each entry (default: a table)")
    p.add_argument("--stats", action="store_true", help="entries per hour by level, --json: numbers "
                   "(default: the entries)")


def run_logs(args) -> int:
    import sys
    import time
    from cellsrun.browse.main import run_logs as run
    from cellsrun.browse.query import build_query
    if args.follow and (args.reverse or args.stats):
        raise UsageError("--follow cannot go with --reverse or --stats")
    try:
        query = build_query(time.time(), terms=args.terms, day=args.day, since=args.since,
                            until=args.until, around=args.around, minutes=args.minutes,
                            level=args.level, service=args.service, user=args.user, ip=args.ip)
    except ValueError as e:
        raise UsageError(str(e)) from None
    fmt = ("stats-json" if args.json else "stats") if args.stats else (
        "json" if args.json else "csv" if args.csv else "detail" if args.detail else "table")
    if hasattr(sys.stdout, "reconfigure"):  # (not when stdout was closed or replaced)
        # A log can hold what UTF-8 cannot write (a JSON "\ud800" escape decodes to a lone
        # surrogate): shown as its escape, never a crash. And PYTHONUNBUFFERED (container
        # images set it) would make each row a system call: into a file or a pipe the output
        # is written in blocks (--follow flushes each entry).
        sys.stdout.reconfigure(errors="backslashreplace", write_through=sys.stdout.isatty() and
                               sys.stdout.write_through)
    dirs = args.dir or []
    if len(dirs) > 1 or args.host or any(c in d for d in dirs for c in "*?["):
        from cellsrun import logdirs
        from cellsrun.browse.merge import hosts_of
        hosts = hosts_of(logdirs.expand(dirs or [_log_dir(args)]), args.host)
        return run(dirs[0] if dirs else "", query, name=args.name, fmt=fmt, last=args.n,
                   reverse=args.reverse, follow=args.follow, hosts=hosts)
    directory = _log_dir(args)
    return run(directory, query, name=args.name, fmt=fmt, last=args.n,
               reverse=args.reverse, follow=args.follow)


def _log_dir(args, env=None) -> str:
    """The log directory to read: --dir, else $CELLS_LOG_DIR, else <working dir>/logs. One
    that is not a directory (or a working dir that is not) is a usage error naming where it
    came from; one that does not exist is not (run_logs says there are no logs in it)."""
    import os
    env = os.environ if env is None else env
    if args.dir:
        found = [(args.dir[0], "the log dir", "--dir")]
    elif env.get("CELLS_LOG_DIR"):
        found = [(env["CELLS_LOG_DIR"], "the log dir", "$CELLS_LOG_DIR")]
    else:
        home = args.home or defaults.default_home(env)
        source = "--home" if args.home else "--home and $CELLS_WORKING_DIR"
        found = [(home, "the working dir", source), (os.path.join(home, "logs"), "the log dir", source)]
    for path, what, source in found:
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f"{what} {path} is not a directory (see {source})")
    return found[-1][0]
