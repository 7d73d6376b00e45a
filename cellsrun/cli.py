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


# -- the table ------------------------------------------------------------------------------

COMMANDS = {
    # name: (help, add flags, run)
    "rotate": ("read a service's output and write it to rotated log files",
               _add_rotate, _run_rotate),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cellsrun", description="Run Pydio Cells (or any service that logs to "
                     "stdout) under supervisord, with lossless midnight log rotation.")
    parser.add_argument("--version", action="version", version=f"cellsrun {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, add, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        add(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code (0 ok, 1 runtime failure, 2 usage)."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
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
