"""Flags and handlers of the launcher's commands: start, stop, restart, status, exec, demo, config."""

from __future__ import annotations

import argparse

from cellsrun import datatypes as dt
from cellsrun import defaults
from cellsrun.cli.flags import add_home, converter, service_command
from cellsrun.errors import UsageError


def add_start(p: argparse.ArgumentParser) -> None:
    add_home(p)
    p.add_argument("--log", metavar="MODE", type=converter(dt.log_mode, "log"),
                   help="Cells' log mode: production = JSON lines, "
                   "else console lines (default: $PYDIO_LOGS_LEVEL, else the saved one, else info)")
    p.add_argument("--demo", action="store_true", help="run the bundled demo service "
                   "(what follows -- goes to the demo)")
    p.add_argument("--keep-days", type=converter(dt.keep_days, "keep-days"), metavar="N",
                   help=f"days of archives kept (default {defaults.KEEP_DAYS}; 0: all)")
    p.add_argument("--max-total", type=converter(dt.byte_size, "max-total"), metavar="SIZE",
                   help="size all archives may use, e.g. 5GB (default 0: no limit)")
    p.add_argument("--compress", choices=defaults.COMPRESSIONS,
                   help=f"compress archives (default {defaults.COMPRESS})")
    p.add_argument("--startsecs", type=converter(dt.seconds, "startsecs"), metavar="S",
                   help=f"seconds the service must stay up to count as started "
                   f"(default {defaults.STARTSECS})")
    web = p.add_mutually_exclusive_group()
    web.add_argument("--web", action="store_true", default=None,
                     help=f"also serve the logs as a web page (program {defaults.WEB}; saved)")
    web.add_argument("--no-web", dest="web", action="store_false", help="no web page (saved)")
    p.add_argument("--web-listen", type=converter(_listen_text, "web-listen"), metavar="HOST:PORT",
                   help=f"the page's address (default {defaults.WEB_LISTEN})")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS... (saved for next time)")


def _listen_text(text: str) -> str:
    dt.listen_address(text)  # refuses a bad one, naming it
    return text.strip()


def _settings(args, flags: dict | None = None):
    from cellsrun.launch.settings import resolve
    return resolve(args.home, flags or {})


def _start_flags(args) -> dict:
    flags = {}
    command = service_command(args.command)
    if command and command[0].startswith("-") and not args.demo:
        raise UsageError(f"unknown option {command[0]!r} (a service command goes after --)")
    if args.demo:
        flags.update(demo=True, command=command)
    elif command:
        flags.update(demo=False, command=command)
    for key in ("log", "keep_days", "max_total", "compress", "startsecs", "web", "web_listen"):
        if getattr(args, key) is not None:
            flags[key] = getattr(args, key)
    return flags


def run_start(args, restart: bool = False) -> int:
    from cellsrun.launch.launcher import Launcher
    flags = _start_flags(args)
    s = _settings(args, flags)
    launcher = Launcher(s)
    if restart:
        launcher.stop()
    launcher.start()
    if flags:
        s.save_file()
    return _print_status(launcher, as_json=False)


def run_restart(args) -> int:
    return run_start(args, restart=True)


def add_stop(p: argparse.ArgumentParser) -> None:
    add_home(p)
    p.add_argument("--all", action="store_true", help="also stop the rotator (after it drained "
                   "the FIFO) and shut supervisord down")


def run_stop(args) -> int:
    from cellsrun.errors import RuntimeFailure
    from cellsrun.launch.launcher import Launcher
    launcher = Launcher(_settings(args))
    was_running = launcher.running()
    if was_running:
        killed = launcher.stop(everything=args.all)
        if killed:
            print(f"killed {len(killed)} process(es) left behind by the service: {killed}")
    else:
        print(f"supervisord is not running ({launcher.s.home})")
    line = launcher.end_orphans()  # what a supervisord that died left behind
    if line:
        print(line)
    if not args.all:
        if was_running:
            print("stopped the service (the rotator keeps draining)")
        return 0
    left = launcher.leftovers()
    if left:
        raise RuntimeFailure("still running after stop --all: " + ", ".join(
            f"{m.role} pid {m.pid}" + (f" (under supervisord {m.owner})" if m.owner else "")
            for m in left))
    print("stopped everything")
    return 0


def add_status(p: argparse.ArgumentParser) -> None:
    add_home(p)
    p.add_argument("--json", action="store_true", help="machine-readable")


def _print_status(launcher, as_json: bool) -> int:
    from cellsrun.launch import report, survey
    data = survey.collect(launcher.s, launcher.sup)
    print(report.as_json(data) if as_json else report.render(data))
    return survey.exit_code(data)


def run_status(args) -> int:
    from cellsrun.launch.launcher import Launcher
    return _print_status(Launcher(_settings(args)), args.json)


def add_exec(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", required=True, metavar="FIFO")
    p.add_argument("--log", metavar="MODE", help="set PYDIO_LOGS_LEVEL for the service")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")


def run_exec(args) -> int:
    from cellsrun.launch.execshim import exec_service
    return exec_service(args.output, service_command(args.command), args.log)


def add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log", metavar="MODE", help="production: JSON lines (default: $PYDIO_LOGS_LEVEL)")
    p.add_argument("--rate", type=float, default=20, metavar="N", help="lines per second (default 20)")
    p.add_argument("--count", type=converter(dt.non_negative_int, "count"), default=0,
                   metavar="N", help="stop after N lines (default: run until stopped)")


def run_demo(args) -> int:
    from cellsrun.launch.demo import run_demo as run
    if args.rate < 0:
        raise UsageError(f"--rate {args.rate} must be 0 (as fast as possible) or more")
    return run(args.log, args.rate, args.count)


def add_config(p: argparse.ArgumentParser) -> None:
    from cellsrun.cli.ship import add_rsyslog_config
    add_home(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--supervisor", action="store_true",
                       help="print the [program:] blocks for a system supervisord (/etc/supervisor/conf.d/)")
    add_rsyslog_config(p, which)


def run_config(args) -> int:
    if args.rsyslog_ship or args.rsyslog_collect:
        from cellsrun.cli.ship import run_rsyslog_config
        return run_rsyslog_config(args, lambda: _settings(args).log_dir)
    from cellsrun.launch import supervisor_conf
    print(supervisor_conf.system_blocks(_settings(args)))
    return 0
