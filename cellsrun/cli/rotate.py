"""Flags and handler of `cellsrun rotate` (the companion rotator).

The flags are one table (:data:`FLAGS`) read two ways: :func:`add_rotate` gives it to
argparse, and :func:`parse_plain` reads the usual command lines with it directly, so that
the rotator (started at every restart of the service) does not load argparse at all. Any
word it does not know for sure (``--help``, an abbreviation, a bad value, ``-x``) makes it
return None, and argparse then parses the line and says what is wrong: one behaviour, two
speeds.
"""

from __future__ import annotations

from cellsrun import datatypes as dt
from cellsrun import defaults
from cellsrun.cli.flags import archive_care, converter

_ON = "store_true"

# option -> argparse keywords (only "type", "default", "choices" and "action" are read by
# parse_plain; the dest is the option's name with "-" as "_").
FLAGS = {
    "--input": dict(metavar="FIFO", help="read this FIFO (created 0600 if missing, "
                    "held open read-write); default: stdin, exit at end of input"),
    "--dir": dict(metavar="DIR", help="log directory (default: $CELLS_LOG_DIR, else "
                  "$CELLS_WORKING_DIR/logs, else ~/.config/pydio/cells/logs)"),
    "--name": dict(default=defaults.LIVE_NAME, type=converter(dt.file_name, "name"),
                   help=f"live file name (default: {defaults.LIVE_NAME})"),
    **archive_care("archives"),
    "--format": dict(choices=("raw", "json"), default="raw",
                     help="raw: bytes as they come (default); json: every line one JSON object "
                     "(other lines wrapped)"),
    "--stamp": dict(action=_ON, help="begin each line with the time it arrived, RFC 3339 with "
                    "microseconds and the offset, then a space, as s6-log T and svlogd -tt do "
                    "(default: lines as they come; not with --format json)"),
    "--utc": dict(action=_ON, help="rotate at midnight UTC, and stamp in UTC (default: local "
                  "time, TZ honoured)"),
    "--logger": dict(default="", help="logger name in wrapped lines (default: NAME's stem)"),
    "--max-line": dict(type=converter(dt.max_line, "max-line"), default=defaults.MAX_LINE_BYTES,
                       metavar="SIZE", help="cut lines longer than SIZE (default 1MiB)"),
    "--exit-with-parent": dict(action=_ON, help="(set by supervisord's config) when the parent "
                               "dies, read on until the service has closed the FIFO, then exit; "
                               "not for `cmd | cellsrun rotate` (default off)"),
}


def add_rotate(p) -> None:
    for option, keywords in FLAGS.items():
        p.add_argument(option, **keywords)


class _Args:
    """What argparse's Namespace would hold for the same words."""

    def __init__(self, **values):
        self.__dict__.update(values)


def parse_plain(words: list[str]) -> _Args | None:
    """The arguments of ``cellsrun rotate WORDS`` when every word is a flag of :data:`FLAGS`
    written out in full (``--flag value``, ``--flag=value``, ``--utc``) with a valid value,
    or ``--debug``; else None (argparse decides). The result equals argparse's (tested)."""
    values = {}
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--debug":
            values["debug"] = True
            continue
        option, eq, value = word.partition("=")
        keywords = FLAGS.get(option)
        if keywords is None:
            return None
        if keywords.get("action") == _ON:
            if eq:
                return None
            values[option] = True
            continue
        if not eq:
            if i == len(words) or words[i].startswith("-"):
                return None
            value = words[i]
            i += 1
        convert = keywords.get("type")
        if convert is not None:
            try:
                value = convert(value)
            except Exception:  # noqa: BLE001 - argparse reads the line again and says why
                return None
        if "choices" in keywords and value not in keywords["choices"]:
            return None
        values[option] = value
    args = _Args(subcommand="rotate", run=run_rotate, debug=values.pop("debug", False))
    for option, keywords in FLAGS.items():
        if option in values:
            value = values[option]
        else:
            value = keywords.get("default", False if keywords.get("action") else None)
            if isinstance(value, str) and "type" in keywords:
                value = keywords["type"](value)  # as argparse converts a default given as text
        setattr(args, option[2:].replace("-", "_"), value)
    return args


def run_rotate(args) -> int:
    from cellsrun.rotate.main import RotateSettings, run_rotate as run
    settings = RotateSettings(directory=args.dir or defaults.default_log_dir(), name=args.name,
                              input=args.input, keep_days=args.keep_days,
                              max_total=args.max_total, compress=args.compress,
                              format=args.format, utc=args.utc, logger=args.logger,
                              max_line=args.max_line, stamp=args.stamp)
    settings.exit_with_parent = args.exit_with_parent
    return run(settings)
