"""argparse for the command line: the parser of the chosen command, and the friendlier
messages for what it does not take. Imported only when a command needs it (see
:func:`cellsrun.cli.main`: `cellsrun rotate` with plain flags never loads argparse).
"""

from __future__ import annotations

import argparse
import importlib

from cellsrun import __version__
from cellsrun.cli import COMMANDS, FLAGS_OF
from cellsrun.errors import UsageError


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
    # A known command gets its own parser only: each parser costs argparse ~0.4 ms (its
    # gettext look-ups and help formatters), and `rotate`/`logs` start often. Without a
    # known command (`cellsrun --help`, a typo) all are built, for the list and the error.
    names = [chosen] if chosen in COMMANDS else list(COMMANDS)
    parser.commands = {}
    for name in names:
        help_text, module = COMMANDS[name]
        p = sub.add_parser(name, help=help_text, description=help_text)
        parser.commands[name] = p
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if not argv or name == chosen:
            mod = importlib.import_module(f"cellsrun.cli.{module}")
            getattr(mod, f"add_{FLAGS_OF.get(name, name)}")(p)
            p.set_defaults(run=getattr(mod, f"run_{name}"))
    return parser


def option_actions(parser, argv: list[str]) -> tuple[str | None, dict]:
    """(the command named in argv, its parser's option string -> action)."""
    name = next((a for a in argv if not a.startswith("-")), None)
    sub = parser.commands.get(name)
    return name, (sub._option_string_actions if sub is not None else {})


def attach_dash_values(parser, argv: list[str]) -> list[str]:
    """``--max-total -5GB`` -> ``--max-total=-5GB``, so that the value reaches its converter
    (which says what is wrong with it) instead of argparse taking it for an option."""
    _, actions = option_actions(parser, argv)
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


def unknown_options(parser, args, extra: list[str]) -> str:
    """The message for words argparse did not take: name the command's help, suggest the
    nearest option (``--levle`` -> ``--level``)."""
    name = getattr(args, "subcommand", None)
    _, actions = option_actions(parser, [name] if name else [])
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
