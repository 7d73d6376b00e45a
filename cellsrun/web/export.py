"""Exports of the page: CSV (the table's columns) and NDJSON (each entry whole), streamed.

CSV is made safe for spreadsheets by :func:`cellsrun.browse.output.csv_cell` (shared with
``logs --csv``): a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
return, which some spreadsheets skip before a formula) gets a leading ``'`` so it is shown as
text and never evaluated — log text is written by whoever reaches the server.
"""

from __future__ import annotations

import csv
import time

from cellsrun.browse.output import COLUMNS, HOST_COLUMNS, JsonWriter, csv_cell, local_time

CHUNK_ENTRIES = 500


def when(ts, offset_minutes: int | None) -> str:
    """The date column: the browser's local time when its offset is known, else the server's."""
    if ts is None:
        return ""
    if offset_minutes is None:
        return local_time(ts)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts + offset_minutes * 60))


class _Sink:
    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> bytes:
        """What was written since the last take, in UTF-8; a character UTF-8 cannot write (a
        lone surrogate, from a JSON escape in a log) as its escape, as `cellsrun logs` shows it."""
        text = "".join(self.parts)
        self.parts.clear()
        return text.encode("utf-8", "backslashreplace")


def stream(entries, fmt: str, offset_minutes: int | None = None, hosts: bool = False):
    """Yield the export of ``entries`` (bytes) in chunks of CHUNK_ENTRIES (bounded memory). ``hosts``:
    ``entries`` are (host, entry) pairs (several log directories), shown as `cellsrun logs`
    shows them: a Host column after the date, a first ``"host"`` key."""
    sink = _Sink()
    if fmt == "csv":
        w = csv.writer(sink)
        w.writerow(HOST_COLUMNS if hosts else COLUMNS)

        def write(e, host=None):
            cells = (when(e.ts, offset_minutes), e.level.upper(), e.ip, e.user, e.service, e.msg)
            if host is not None:
                cells = (cells[0], host) + cells[1:]
            w.writerow([csv_cell(c) for c in cells])
    elif hosts:
        write = JsonWriter(sink, hosts=True).write
    else:
        def write(e):
            sink.write(e.json_line() + "\n")  # a stamped JSON line: its object with "arrived"
    n = 0
    for item in entries:
        if hosts:
            host, e = item
            write(e, host)
        else:
            write(item)
        n += 1
        if n % CHUNK_ENTRIES == 0:
            yield sink.take()
    rest = sink.take()
    if rest:
        yield rest
