"""Flags and handlers of the launcher's commands: start, stop, restart, status, exec, demo, config."""

from __future__ import annotations

import argparse
import sys

from cellsrun import datatypes as dt
from cellsrun import defaults
from cellsrun.cli.flags import add_home, converter, service_command
from cellsrun.errors import UsageError

SERVICE_OPTIONS = ("log", "keep_days", "max_total", "compress", "startsecs", "web", "web_listen", "stamp")


def _add_service_options(p: argparse.ArgumentParser) -> None:
    """What runs and how its logs are kept: the options `start`, `restart` and `config
    --supervisor` share (given ones are saved in cellsrun.toml)."""
    add_home(p)
    p.add_argument("--log", metavar="MODE", type=converter(dt.log_mode, "log"),
                   help="Cells' log mode: production = JSON lines, "
                   "else console lines (default: $PYDIO_LOGS_LEVEL, else the saved one, else info)")
    p.add_argument("--demo", action="store_true", help="run the bundled demo service; what follows -- "
                   "goes to the demo, e.g. --demo -- --rate 3000 (default: the saved choice, else off)")
    p.add_argument("--keep-days", type=converter(dt.keep_days, "keep-days"), metavar="N",
                   help=f"days of archives kept; 0: all (default: the saved value, else {defaults.KEEP_DAYS})")
    p.add_argument("--max-total", type=converter(dt.byte_size, "max-total"), metavar="SIZE",
                   help="size all archives may use, e.g. 5GB; 0: no limit (default: the saved value, else 0)")
    p.add_argument("--compress", choices=defaults.COMPRESSIONS,
                   help=f"compress archives (default: the saved value, else {defaults.COMPRESS})")
    stamp = p.add_mutually_exclusive_group()
    stamp.add_argument("--stamp", action="store_true", default=None,
                       help="the rotator begins each line with the time it arrived, for a service "
                       "whose lines carry none (not with --log production; saved) "
                       "(default: the saved choice, else off)")
    stamp.add_argument("--no-stamp", dest="stamp", action="store_false",
                       help="lines are written as the service wrote them (saved) "
                       "(default: the saved choice, else no stamp)")
    p.add_argument("--startsecs", type=converter(dt.seconds, "startsecs"), metavar="S",
                   help="seconds the service must stay up to count as started "
                   f"(default: the saved value, else {defaults.STARTSECS})")
    web = p.add_mutually_exclusive_group()
    web.add_argument("--web", action="store_true", default=None,
                     help=f"also serve the logs as a web page (program {defaults.WEB}; saved) "
                     "(default: the saved choice, else off)")
    web.add_argument("--no-web", dest="web", action="store_false",
                     help="no web page (saved) (default: the saved choice, else no page)")
    p.add_argument("--web-listen", type=converter(_listen_text, "web-listen"), metavar="HOST:PORT",
                   help=f"the page's address (default: the saved one, else {defaults.WEB_LISTEN})")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="-- COMMAND ARGS...: the service to run, saved for next time "
                   "(default: the saved command, else `cells start` when cells is on PATH)")


def _listen_text(text: str) -> str:
    dt.listen_address(text)  # refuses a bad one, naming it
    return text.strip()


def _add_supervisor_conf(p: argparse.ArgumentParser) -> None:
    p.add_argument("--supervisor-conf", metavar="FILE",
                   help="the configuration of the system's supervisord that runs this working dir "
                   "(default: found in /etc/supervisor/supervisord.conf, /etc/supervisord.conf, "
                   "or from the running programs; else cellsrun's own supervisord)")


def add_start(p: argparse.ArgumentParser) -> None:
    _add_service_options(p)
    _add_supervisor_conf(p)


def _context(args, flags: dict | None = None, must_exist: bool = False, find_system: bool = True,
             trusted=()):
    """(settings, the system supervisord that runs the working dir or None). The system's
    blocks name the user that may own the working dir (see launch/ownership.py)."""
    from cellsrun.launch import settings
    system = None
    if find_system:
        from cellsrun.launch import orphans
        from cellsrun.launch import system as system_conf
        from cellsrun.launch.processes import supervisord_pid
        paths = settings.locate(args.home, must_exist=must_exist)
        system = system_conf.find(paths.home, getattr(args, "supervisor_conf", None),
                                  members=lambda: orphans.members(paths),
                                  own_pid=supervisord_pid(paths.pidfile))
        if system is not None and system.uid is not None:
            trusted = (*trusted, system.uid)
    return settings.resolve(args.home, flags or {}, trusted=trusted, must_exist=must_exist), system


def _start_flags(args) -> dict:
    flags = {}
    command = service_command(args.command)
    if command and command[0].startswith("-") and not args.demo:
        raise UsageError(_option_after_dashes(args, command))
    if args.demo:
        flags.update(demo=True, command=command)
    elif command:
        flags.update(demo=False, command=command)
    for key in SERVICE_OPTIONS:
        if getattr(args, key) is not None:
            flags[key] = getattr(args, key)
    return flags


def _option_after_dashes(args, command: list[str]) -> str:
    """The message for `start -- --rate 5`: the words after -- are the service's command,
    which cannot begin with an option; say what the option probably was."""
    name = args.subcommand + (" --supervisor" if args.subcommand == "config" else "")
    word = command[0].split("=", 1)[0]
    demo = argparse.ArgumentParser(add_help=False)
    add_demo(demo)
    if word in demo._option_string_actions:
        return (f"{word!r} after -- would be the service's command, but it is an option of the demo: "
                f"cellsrun {name} --demo -- {' '.join(command)}")
    return (f"a service command cannot begin with an option ({word!r}): give the program first, "
            f"e.g. cellsrun {name} -- /path/to/service {' '.join(command)}")


def _check_demo(s, flags: dict) -> None:
    """The demo's options, parsed in-process by the demo's own parser before anything is
    made or started, as a service's command is checked: a bad one is a UsageError now,
    not a service that supervisord sees die (in a loop) with the same message."""
    if not s.demo:
        return
    where = "after --demo --" if "command" in flags else f"the command saved in {s.settings_file}"
    parser = _DemoParser(prog="cellsrun demo", add_help=False)
    add_demo(parser)
    try:
        _checked_demo(parser.parse_args(s.command))
    except UsageError as e:
        raise UsageError(f"the demo's options ({where}): {e}") from None


class _DemoParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def run_start(args, restart: bool = False) -> int:
    from cellsrun.launch.launcher import Launcher
    from cellsrun.launch.outcome import Interrupted
    flags = _start_flags(args)
    s, system = _context(args, flags)
    s.check()
    _check_demo(s, flags)
    if system is not None and flags:
        raise UsageError(
            f"the programs of {s.home} are run by the system's supervisord ({system.conf}), whose blocks "
            f"({system.blocks}) decide what runs: change them with `cellsrun config --supervisor --home "
            f"{s.home} OPTIONS > {system.blocks}`, then `supervisorctl reread && supervisorctl update`")
    launcher = Launcher(s, system=system)
    try:
        line = launcher.start(restart=restart)
    except Interrupted as e:
        if flags and e.applied:
            s.save_file()  # supervisord runs these settings now: the next start keeps them
        raise
    if flags:
        s.save_file()
    if line:
        print(line, flush=True)
    return _print_status(launcher, as_json=False)


def run_restart(args) -> int:
    return run_start(args, restart=True)


def add_stop(p: argparse.ArgumentParser) -> None:
    add_home(p)
    p.add_argument("--all", action="store_true", help="also stop the rotator (after it drained "
                   "the FIFO) and shut cellsrun's own supervisord down (the system's keeps running)")
    _add_supervisor_conf(p)


def run_stop(args) -> int:
    from cellsrun.errors import RuntimeFailure
    from cellsrun.launch.launcher import Launcher
    from cellsrun.launch.rpc import UP
    s, system = _context(args, must_exist=True)
    launcher = Launcher(s, system=system)
    running = launcher.running()
    was, killed = launcher.stop(everything=args.all) if running else (None, [])
    if killed:
        print(f"killed {len(killed)} process(es) left behind by the service: {killed}")
    line = launcher.end_orphans()  # what a supervisord that died left behind
    if line:
        print(line)
    if not args.all:
        if not running:
            why = (f"{launcher.where()} does not answer" if system else f"no supervisord runs for {s.home}")
            print(f"{launcher.service} was not running ({why})")
        elif was in UP:
            print("stopped the service (the rotator keeps draining)")
        else:
            print(f"{launcher.service} was not running ({was}); the rotator keeps running")
        return 0
    left = launcher.leftovers()
    if left:
        raise RuntimeFailure("still running after stop --all: " + ", ".join(
            f"{m.role} pid {m.pid}" + (f" (under supervisord {m.owner})" if m.owner else "")
            for m in left))
    if not running and not line:
        print(f"nothing was running ({s.home})")
    elif system:
        print(f"stopped everything; the system's supervisord (pid {launcher.supervisord_pid()}) keeps running "
              f"for its other programs ({system.conf})")
    else:
        print("stopped everything")
    return 0


def add_status(p: argparse.ArgumentParser) -> None:
    add_home(p)
    p.add_argument("--json", action="store_true", help="machine-readable")
    _add_supervisor_conf(p)


def _print_status(launcher, as_json: bool) -> int:
    from cellsrun.launch import report, survey
    data = survey.collect(launcher)
    print(report.as_json(data) if as_json else report.render(data))
    return survey.exit_code(data)


def run_status(args) -> int:
    from cellsrun.launch.launcher import Launcher
    s, system = _context(args, must_exist=True)
    return _print_status(Launcher(s, system=system), args.json)


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


def _checked_demo(args):
    """What argparse cannot check of the demo's options (UsageError); ``args`` if fine."""
    if args.rate < 0:
        raise UsageError(f"--rate {args.rate} must be 0 (as fast as possible) or more")
    return args


def run_demo(args) -> int:
    from cellsrun.launch.demo import run_demo as run
    _checked_demo(args)
    return run(args.log, args.rate, args.count)


def add_config(p: argparse.ArgumentParser) -> None:
    from cellsrun.cli.ship import add_rsyslog_config
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--supervisor", action="store_true",
                       help="print the [program:] blocks for a system supervisord (/etc/supervisor/conf.d/), "
                       "after preparing the working dir for it (no default: one of the three modes is required)")
    add_rsyslog_config(p, which)
    p.add_argument("--user", metavar="NAME",
                   help="run both programs as this user (user= in the blocks) and give it the working "
                   "dir (default: none, i.e. as supervisord's own user, root under a system supervisord)")
    _add_service_options(p)


def run_config(args) -> int:
    if args.rsyslog_ship or args.rsyslog_collect:
        from cellsrun.cli.ship import run_rsyslog_config
        if args.user or _start_flags(args):
            raise UsageError("the service's options (--user, --log, --demo, --web, a command ...) go with "
                             "config --supervisor, not with the rsyslog snippets")
        return run_rsyslog_config(args, lambda: _context(args, find_system=False)[0].log_dir)
    from cellsrun.launch import account, supervisor_conf, workdir
    from cellsrun.launch.execshim import check_command
    from cellsrun.launch.outcome import EXEC_LOG, ROTATE_LOG, WEB_LOG
    flags = _start_flags(args)
    user = account.lookup(args.user) if args.user else None
    other = user is not None and account.is_other(user)
    s, _ = _context(args, flags, find_system=False, trusted=(user.pw_uid,) if user else ())
    s.check()
    _check_demo(s, flags)
    argv = s.service_argv(require_cells=False)
    program = argv[0] if s.command and not s.demo else None
    try:
        check_command(argv, s.home)
    except UsageError as e:  # it may be installed later: the service starts once it is there
        print(f"warning: {e}; supervisord will not start the service until it is", file=sys.stderr)
        program = None
    text = supervisor_conf.system_blocks(s, user)  # a broken template or value: before any mkdir
    owner = (user.pw_uid, user.pw_gid) if other else None
    if other:
        account.check_can_run(user, program, s.home)
    workdir.prepare(s, [EXEC_LOG, ROTATE_LOG] + ([WEB_LOG] if s.web else []), owner)
    if flags:
        s.save_file()
        if owner:
            workdir.hand_over(s, owner)
    print(text)
    return 0
