"""`cellsrun logs`: select, filter and print entries; optionally follow the live file."""

from __future__ import annotations

import os
import sys
from collections import deque

from cellsrun.defaults import LIVE_NAME


def run_logs(directory: str, query, *, name: str = LIVE_NAME, fmt: str = "table", last: int = 0,
             reverse: bool = False, follow: bool = False, out=sys.stdout) -> int:
    """Print the matches; returns 0 if any matched, 1 if none. ``fmt``: table, json, csv,
    detail, stats or stats-json. ``last``: only the last N matches (0: all). A file that cannot
    be read is skipped with a ``warning:`` line on stderr; the exit code still says whether
    anything matched. Raises RuntimeFailure when ``follow`` has no regular live file to follow."""
    from cellsrun.browse import output
    from cellsrun.browse.reader import Reader, follow as follow_live, select_files

    tty = out.isatty() if hasattr(out, "isatty") else False
    width = os.get_terminal_size(out.fileno()).columns if tty else 120
    writer = {"table": lambda: output.TableWriter(out, tty, width),
              "json": lambda: output.JsonWriter(out),
              "csv": lambda: output.CsvWriter(out),
              "detail": lambda: output.DetailWriter(out),
              "stats": lambda: output.StatsWriter(out, False, width if tty else 100),
              "stats-json": lambda: output.StatsWriter(out, True)}[fmt]()
    first, end = query.day_range()
    files = select_files(directory, name, first, end)
    reader = Reader(query)
    matched = 0
    entries = reader.entries(files)
    if last or reverse:
        entries = deque(entries, maxlen=last or None)
        if reverse:
            entries.reverse()
    for entry in entries:
        writer.write(entry)
        matched += 1
    writer.close()
    out.flush()
    if follow:
        from cellsrun.browse.files import Unreadable
        from cellsrun.errors import RuntimeFailure
        live = os.path.join(directory, name)
        offset = reader.live_offset if any(f.live for f in files) else 0

        def emit(entry):
            writer.write(entry)
            out.flush()
        try:
            follow_live(live, reader, offset, emit)
        except FileNotFoundError:
            raise RuntimeFailure(f"nothing to follow: {live} does not exist") from None
        except Unreadable as e:
            raise RuntimeFailure(f"cannot follow {live}: {e}") from None
        except KeyboardInterrupt:
            return 0
    return 0 if matched else 1
