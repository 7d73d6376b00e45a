"""Flags and handler of `cellsrun rotate` (the companion rotator)."""

from __future__ import annotations

import argparse

from cellsrun import datatypes as dt
from cellsrun import defaults
from cellsrun.cli.flags import add_archive_care, converter


def add_rotate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", metavar="FIFO", help="read this FIFO (created 0600 if missing, "
                   "held open read-write); default: stdin, exit at end of input")
    p.add_argument("--dir", metavar="DIR", help="log directory (default: $CELLS_LOG_DIR, else "
                   "$CELLS_WORKING_DIR/logs, else ~/.config/pydio/cells/logs)")
    p.add_argument("--name", default=defaults.LIVE_NAME, type=converter(dt.file_name, "name"),
                   help=f"live file name (default: {defaults.LIVE_NAME})")
    add_archive_care(p)
    p.add_argument("--format", choices=("raw", "json"), default="raw",
                   help="raw: bytes as they come (default); json: every line one JSON object "
                   "(other lines wrapped)")
    p.add_argument("--stamp", action="store_true", help="begin each line with the time it arrived, "
                   "RFC 3339 with microseconds and the offset, then a space, as s6-log T and svlogd "
                   "-tt do (default: lines as they come; not with --format json)")
    p.add_argument("--utc", action="store_true", help="rotate at midnight UTC, and stamp in UTC "
                   "(default: local time, TZ honoured)")
    p.add_argument("--logger", default="", help="logger name in wrapped lines (default: NAME's stem)")
    p.add_argument("--max-line", type=converter(dt.max_line, "max-line"),
                   default=defaults.MAX_LINE_BYTES, metavar="SIZE",
                   help="cut lines longer than SIZE (default 1MiB)")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="(set by supervisord's config) when the parent dies, read on until the "
                   "service has closed the FIFO, then exit; not for `cmd | cellsrun rotate` (default off)")


def run_rotate(args) -> int:
    from cellsrun.rotate.main import RotateSettings, run_rotate as run
    settings = RotateSettings(directory=args.dir or defaults.default_log_dir(), name=args.name,
                              input=args.input, keep_days=args.keep_days,
                              max_total=args.max_total, compress=args.compress,
                              format=args.format, utc=args.utc, logger=args.logger,
                              max_line=args.max_line, stamp=args.stamp)
    settings.exit_with_parent = args.exit_with_parent
    return run(settings)
