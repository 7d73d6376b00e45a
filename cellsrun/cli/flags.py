"""Pieces every subcommand's flags use: argparse types from the pure converters, --home."""

from __future__ import annotations


def converter(func, flag: str):
    """Wrap a :mod:`cellsrun.datatypes` converter so that argparse reports
    ``argument --flag: <the converter's ValueError text>``."""
    def convert(text):
        try:
            return func(text)
        except ValueError as e:
            import argparse  # only on this error path: a plain `cellsrun rotate` never loads it
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = flag
    return convert


def add_home(p) -> None:
    p.add_argument("--home", metavar="DIR", help="working dir (default: $CELLS_WORKING_DIR, "
                   "else ~/.config/pydio/cells)")


def service_command(remainder: list[str]) -> list[str]:
    """The words after ``--`` (argparse.REMAINDER keeps the ``--`` itself)."""
    return remainder[1:] if remainder[:1] == ["--"] else remainder
