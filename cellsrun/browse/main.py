"""`cellsrun logs`: select, filter and print entries; optionally follow the live file."""

from __future__ import annotations

import os
import sys
from collections import deque

from cellsrun.defaults import LIVE_NAME


def run_logs(directory: str, query, *, name: str = LIVE_NAME, fmt: str = "table", last: int = 0,
             reverse: bool = False, follow: bool = False, out=sys.stdout, hosts=None) -> int:
    """Print the matches; returns 0 if any matched, 1 if none. ``fmt``: table, json, csv,
    detail, stats or stats-json. ``last``: only the last N matches (0: all). A file that cannot
    be read is skipped with a ``warning:`` line on stderr; the exit code still says whether
    anything matched. Raises RuntimeFailure when ``directory`` holds no log file at all (no logs
    yet: said, unlike "nothing matched"), or when ``follow`` has no regular live file to follow.

    ``hosts``: several directories (a list of :class:`cellsrun.browse.merge.Host`) instead of
    ``directory``: their entries merged in time order, each shown with its host."""
    from cellsrun.browse import output
    from cellsrun.browse.reader import Reader, follow as follow_live, select_files

    many = hosts is not None
    if not many:
        first, end = query.day_range()
        files = select_files(directory, name, first, end)
        if not files and not select_files(directory, name, None, None):
            from cellsrun.errors import RuntimeFailure
            raise RuntimeFailure(f"no logs in {directory} (is the rotator running? see cellsrun status)")
    tty = out.isatty() if hasattr(out, "isatty") else False
    width = os.get_terminal_size(out.fileno()).columns if tty else 120
    writer = {"table": lambda: output.TableWriter(out, tty, width, hosts=many),
              "json": lambda: output.JsonWriter(out, hosts=many),
              "csv": lambda: output.CsvWriter(out, hosts=many),
              "detail": lambda: output.DetailWriter(out, hosts=many),
              "stats": lambda: output.StatsWriter(out, False, width if tty else 100),
              "stats-json": lambda: output.StatsWriter(out, True)}[fmt]()
    if many:
        from cellsrun.browse.merge import Merge
        merge = Merge(hosts, query, name=name)
    else:
        # CELLSRUN_QUICK=0: every line becomes an entry (the reference the fast rows are tested against)
        fast = hasattr(writer, "quick") and os.environ.get("CELLSRUN_QUICK", "1") != "0"
        reader = Reader(query, quick=writer.quick() if fast else None)
    pairs = merge.entries() if many else ((None, entry) for entry in reader.entries(files))
    if last or reverse:
        pairs = deque(_one_per_row(pairs), maxlen=last or None)
        if reverse:
            pairs.reverse()
    matched = 0
    for host, entry in pairs:
        writer.write(entry, host)
        matched += 1
    writer.close()
    out.flush()
    if follow and many:
        def emit_from(host, entry):
            writer.write(entry, host)
            out.flush()
        try:
            merge.follow(emit_from)
        except KeyboardInterrupt:
            return 0
    elif follow:
        from cellsrun.browse.files import Unreadable
        from cellsrun.errors import RuntimeFailure
        live = os.path.join(directory, name)
        reader.quick = None  # follow() reads entries
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


def _one_per_row(pairs):
    """(host, item) ``pairs`` with each run of fast rows (a str: rows that each end with the
    one newline they hold) given row by row, so that -n and --reverse pick and turn rows."""
    for host, item in pairs:
        if item.__class__ is str:
            for row in item.split("\n")[:-1]:
                yield host, row + "\n"
        else:
            yield host, item
