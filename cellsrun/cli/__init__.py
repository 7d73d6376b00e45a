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
    "config": ("print supervisord or rsyslog configuration", "launch"),
    "housekeep": ("compress and expire the finished days of a directory nobody rotates "
                  "(a collector's)", "ship"),
    "logs": ("browse the logs: filter, follow, detail, export (Cells' Backend > Logs)", "browse"),
    "web": ("serve the logs as a web page (Cells' Backend > Logs in the browser)", "web"),
}
_FLAGS_OF = {"restart": "start"}  # commands that take another's flags


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is our UsageError (one ``Error:`` line, exit 2)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser(argv: list[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` gets its flags. Without argv: all.
    ``parser.commands`` maps each command's name to its own parser."""
    parser = _Parser(prog="cellsrun", description="Run Pydio Cells (or any service that logs to "
                     "stdout) under supervisord, with lossless midnight log rotation.")
    parser.add_argument("--version", action="version", version=f"cellsrun {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND", parser_class=_Parser)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser.commands = {}
    for name, (help_text, module) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        parser.commands[name] = p
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
        parser = build_parser(argv)
        argv = _attach_dash_values(parser, argv)
        args, extra = parser.parse_known_args(argv)
        if extra:
            raise UsageError(_unknown_options(parser, args, extra))
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


def _option_actions(parser, argv: list[str]) -> tuple[str | None, dict]:
    """(the command named in argv, its parser's option string -> action)."""
    name = next((a for a in argv if not a.startswith("-")), None)
    sub = parser.commands.get(name)
    return name, (sub._option_string_actions if sub is not None else {})


def _attach_dash_values(parser, argv: list[str]) -> list[str]:
    """``--max-total -5GB`` -> ``--max-total=-5GB``, so that the value reaches its converter
    (which says what is wrong with it) instead of argparse taking it for an option."""
    _, actions = _option_actions(parser, argv)
    out = list(argv)
    i = 0
    while i < len(out) - 1:
        word = out[i]
        if word == "--":
            break
        action = actions.get(word)
        following = out[i + 1]
        if (action is not None and action.nargs is None and action.option_strings
                and following.startswith("-") and following not in actions and following != "--"
                and not isinstance(action, (argparse._StoreConstAction, argparse._StoreTrueAction,
                                            argparse._StoreFalseAction, argparse._CountAction))):
            out[i:i + 2] = [f"{word}={following}"]
        i += 1
    return out


def _unknown_options(parser, args, extra: list[str]) -> str:
    """The message for words argparse did not take: name the command's help, suggest the
    nearest option (``--levle`` -> ``--level``)."""
    name = getattr(args, "subcommand", None)
    _, actions = _option_actions(parser, [name] if name else [])
    word = extra[0]
    flag = word.split("=", 1)[0]
    where = f"cellsrun {name} --help" if name else "cellsrun --help"
    if flag.startswith("-"):
        import difflib  # only on this error path: `cellsrun logs` and `rotate` start often
        near = difflib.get_close_matches(flag, [o for o in actions if o.startswith("--")], n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]}?" if near else ""
        if not near and name in ("start", "restart", "config"):
            hint = ("; a service's own flags go after --, and the demo's after --demo --, "
                    f"e.g. cellsrun {name} --demo -- {' '.join(extra + _remainder(args))}")
        return f"unknown option {flag!r} for 'cellsrun {name}'{hint} (see '{where}')"
    return f"unexpected argument {word!r} (see '{where}')"


def _remainder(args) -> list[str]:
    words = getattr(args, "command", None)
    return [w for w in words if w != "--"] if isinstance(words, list) else []


def _quiet_epipe() -> int:
    """`cellsrun logs | head`: the reader left; exit quietly (as click does)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return 1
