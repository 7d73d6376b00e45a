"""Pieces every subcommand's flags use: argparse types from the pure converters, --home."""

from __future__ import annotations

from cellsrun import datatypes as dt
from cellsrun import defaults


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


def archive_care(what: str = "archives") -> dict:
    """--keep-days, --max-total, --compress (option -> argparse keywords): what happens to
    finished days (``what``), for the rotator and for `cellsrun housekeep` alike."""
    return {
        "--keep-days": dict(type=converter(dt.keep_days, "keep-days"), default=defaults.KEEP_DAYS,
                            metavar="N", help=f"remove {what} dated more than N days ago "
                            f"(default {defaults.KEEP_DAYS}; 0: never)"),
        "--max-total": dict(type=converter(dt.byte_size, "max-total"), default=0, metavar="SIZE",
                            help=f"remove the oldest {what} while all exceed SIZE, e.g. 5GB "
                            "(default 0: no limit)"),
        "--compress": dict(choices=defaults.COMPRESSIONS, default=defaults.COMPRESS,
                           help=f"compress {what} (default {defaults.COMPRESS})"),
    }


def add_archive_care(p, what: str = "archives") -> None:
    for option, keywords in archive_care(what).items():
        p.add_argument(option, **keywords)


def add_home(p) -> None:
    p.add_argument("--home", metavar="DIR", help="working dir (default: $CELLS_WORKING_DIR, "
                   "else ~/.config/pydio/cells)")


def service_command(remainder: list[str]) -> list[str]:
    """The words after ``--`` (argparse.REMAINDER keeps the ``--`` itself)."""
    return remainder[1:] if remainder[:1] == ["--"] else remainder
