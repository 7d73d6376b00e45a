"""The ``cellsrun`` command line: parse, build settings, call the core, map errors to exit codes.

Each subcommand is one row of :data:`COMMANDS`: the module of ``cellsrun.cli`` that holds
its flags (``add_<name>``) and its handler (``run_<name>``), one module per part of
cellsrun. Only the chosen command's module is imported and only its flags are built:
``cellsrun rotate`` and ``cellsrun logs`` start often and must not pay for the others.
``cellsrun rotate`` with plain flags is even parsed without argparse (see
:func:`cellsrun.cli.rotate.parse_plain`): argparse, with the shutil and locale it pulls in,
costs ~5 ms of a start whose whole budget is ~25 ms. The core never imports this package.
"""

from __future__ import annotations

import errno
import os
import sys

from cellsrun.errors import CellsrunError, UsageError

COMMANDS = {
    # name: (help, module in cellsrun.cli; it holds add_<name> and run_<name>)
    "start": ("start supervisord, the rotator and the service", "launch"),
    "stop": ("stop the service (--all: everything)", "launch"),
    "restart": ("stop the service, then start again", "launch"),
    "status": ("show supervisord, the programs, the service's processes and the logs", "launch"),
    "rotate": ("read a service's output and write it to rotated log files", "rotate"),
    "exec": ("(run by supervisord) point stdout/stderr at the FIFO and exec the service", "launch"),
    "demo": ("a stand-in for Pydio Cells writing realistic log lines", "launch"),
    "config": ("print supervisord or rsyslog configuration", "launch"),
    "housekeep": ("compress and expire the finished days of a directory nobody rotates "
                  "(a collector's)", "ship"),
    "logs": ("browse the logs: filter, follow, detail, export (Cells' Backend > Logs)", "browse"),
    "web": ("serve the logs as a web page (Cells' Backend > Logs in the browser)", "web"),
}
FLAGS_OF = {"restart": "start"}  # commands that take another's flags


def build_parser(argv: list[str] = ()):
    """The argparse parser; see :func:`cellsrun.cli.parsing.build_parser`."""
    from cellsrun.cli.parsing import build_parser as build
    return build(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code (0 ok, 1 runtime failure, 2 usage)."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = None
        if argv[:1] == ["rotate"]:
            from cellsrun.cli.rotate import parse_plain
            args = parse_plain(argv[1:])  # None: anything unusual, for argparse to handle
        if args is None:
            args = _parse(argv)
        return args.run(args)
    except CellsrunError as e:
        if debug:
            raise
        print(f"Error: {_shown(str(e))}", file=sys.stderr)
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
        print(_shown(f"Error:{where} {e.strerror or e}"), file=sys.stderr)
        return 1


def _shown(message: str) -> str:
    """An error message fit for the terminal: it may quote a path, a process's words or a log's
    (a failed start's message holds what the service wrote): control characters as \\xNN,
    its line breaks and tabs kept."""
    from cellsrun.terminal import visible_lines
    return visible_lines(message)


def _parse(argv: list[str]):
    """``argv`` parsed by argparse, with our messages for what it does not take."""
    from cellsrun.cli import parsing
    parser = parsing.build_parser(argv)
    argv = parsing.attach_dash_values(parser, argv)
    args, extra = parser.parse_known_args(argv)
    if extra:
        raise UsageError(parsing.unknown_options(parser, args, extra))
    if not getattr(args, "run", None):
        raise UsageError("a command is needed (see 'cellsrun --help')")
    return args


def _quiet_epipe() -> int:
    """`cellsrun logs | head`: the reader left; exit quietly (as click does)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return 1
