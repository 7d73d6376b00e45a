"""The ``cellsrun`` command line: parse, build settings, call the core, map errors to exit codes.

Each subcommand is one row of :data:`COMMANDS`: the module of ``cellsrun.cli`` that holds
its flags (``add_<name>``) and its handler (``run_<name>``), one module per part of
cellsrun. Only the chosen command's module is imported and only its flags are built:
``cellsrun rotate`` and ``cellsrun logs`` start often and must not pay for the others.
The core never imports this package.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from cellsrun import __version__
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
    "config": ("print supervisord configuration", "launch"),
    "logs": ("browse the logs: filter, follow, detail, export (Cells' Backend > Logs)", "browse"),
    "web": ("serve the logs as a web page (Cells' Backend > Logs in the browser)", "web"),
}
_FLAGS_OF = {"restart": "start"}  # commands that take another's flags


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is our UsageError (one ``Error:`` line, exit 2)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser(argv: list[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` gets its flags. Without argv: all."""
    parser = _Parser(prog="cellsrun", description="Run Pydio Cells (or any service that logs to "
                     "stdout) under supervisord, with lossless midnight log rotation.")
    parser.add_argument("--version", action="version", version=f"cellsrun {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (help_text, module) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if not argv or name == chosen:
            mod = importlib.import_module(f"cellsrun.cli.{module}")
            getattr(mod, f"add_{_FLAGS_OF.get(name, name)}")(p)
            p.set_defaults(run=getattr(mod, f"run_{name}"))
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
