"""Entries per minute by level: the page's volume picture (bars stacked by level).

Two ways to count, one answer:

- The common view — no full text, service, user or IP filter — does not parse entries: a
  regular expression takes the minute, zone and level of every console or JSON line of a
  block at C speed (~190 MB/s), and the counts of a file are kept per minute. An archive's
  counts are kept while it is unchanged (inode, size, mtime); the live file's counts are
  carried forward from where the last count ended, so only new lines are read again. Time
  filters then take whole minutes: a minute is counted when it overlaps the period.
- Any other filter goes through :class:`~cellsrun.browse.reader.Reader` (the same selection
  as `cellsrun logs`), with a time budget: past it the answer says ``partial``.

Lines that are not entries (a panic's lines) have no level and are not counted.
Memory: at most ``MAX_FILES`` files' minute tables (~1,440 rows a day each).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter, OrderedDict

from cellsrun.browse.entries import LEVELS, RANK, parse_time

MAX_FILES = 40
BLOCK = 2 << 20
_CONSOLE = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d)[:.\d]*(Z|[+-]\d\d:?\d\d)?\t(?:\x1b\[[0-9;]*m)?"
                      rb"([A-Za-z]+)", re.M)
_JSON = re.compile(rb'^\{(?=[^\n]*?"level" ?: ?"([a-zA-Z]+)")(?=[^\n]*?"ts" ?: ?"(\d{4}-\d\d-\d\dT\d\d:\d\d)'
                   rb'[:.\d]*(Z|[+-]\d\d:?\d\d)?")', re.M)
_MINUTE_CACHE_MAX = 50_000


def simple(query) -> bool:
    """Whether ``query`` can be counted by minute without parsing entries."""
    return not (query.terms or query.service or query.user or query.ip)


class _Minutes:
    """minute (epoch seconds) -> counts per level (a list in LEVELS order)."""

    def __init__(self):
        self.rows: dict[int, list[int]] = {}
        self._epoch: dict[tuple, int | None] = {}

    def add_block(self, block: bytes) -> None:
        for (minute, zone, level), n in Counter(_CONSOLE.findall(block)).items():
            self._add(minute, zone, level, n)
        if block[:1] == b"{" or b"\n{" in block:  # JSON lines (console lines hold "{" too)
            for (level, minute, zone), n in Counter(_JSON.findall(block)).items():
                self._add(minute, zone, level, n)

    def _add(self, minute: bytes, zone: bytes, level: bytes, n: int) -> None:
        rank = RANK.get(level.decode("ascii").lower())
        if rank is None:
            return
        key = (minute, zone)
        t = self._epoch.get(key, -1)
        if t == -1:
            ts = parse_time(minute.decode("ascii") + ":00" + zone.decode("ascii"))
            t = int(ts) if ts is not None else None
            if len(self._epoch) < _MINUTE_CACHE_MAX:
                self._epoch[key] = t
        if t is None:
            return
        row = self.rows.get(t)
        if row is None:
            row = self.rows[t] = [0] * len(LEVELS)
        row[rank] += n


class VolumeCounter:
    """Counts per minute and level for the files a query selects; shared between requests
    (thread-safe), so that the live file is read again only from where it was counted."""

    def __init__(self):
        self._files: OrderedDict[tuple, tuple[int, _Minutes]] = OrderedDict()
        self._lock = threading.Lock()
        self._counting: dict[tuple, threading.Lock] = {}  # one count per file at a time

    def file_minutes(self, lf) -> _Minutes | None:
        """The minute table of one LogFile (None if it vanished or cannot be read). Requests
        that need the same file at once wait for one count instead of each making their own."""
        try:
            st = os.stat(lf.path)
        except OSError:
            return None
        with self._lock:
            busy = self._counting.setdefault((st.st_dev, st.st_ino), threading.Lock())
        with busy:
            return self._file_minutes(lf)

    def _file_minutes(self, lf) -> _Minutes | None:
        try:
            f = open(lf.path, "rb")
        except OSError:
            return None
        with f:
            st = os.fstat(f.fileno())
            key = (st.st_dev, st.st_ino) if lf.live else (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            with self._lock:
                done, minutes = self._files.get(key, (0, None))
            if minutes is not None and (not lf.live or done == st.st_size):
                self._touch(key)
                return minutes
            if minutes is None or done > st.st_size:
                done, minutes = 0, _Minutes()
            done = _count(f, lf.compressed, done, minutes, lf.live)
            with self._lock:
                self._files[key] = (done, minutes)
                self._files.move_to_end(key)
                while len(self._files) > MAX_FILES:
                    self._files.popitem(last=False)
            return minutes

    def _touch(self, key) -> None:
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)

    def count(self, reader, files, budget: float = 10.0, clock=time.monotonic):
        """({minute: counts per level}, partial) for ``reader``'s query over ``files``."""
        q = reader.q
        out: dict[int, list[int]] = {}
        if simple(q):
            lo = None if q.since is None else int(q.since // 60 * 60)
            for lf in files:
                minutes = self.file_minutes(lf)
                if minutes is None:
                    continue
                for t, row in minutes.rows.items():
                    if (lo is not None and t < lo) or (q.until is not None and t > q.until):
                        continue
                    acc = out.setdefault(t, [0] * len(LEVELS))
                    for rank, n in enumerate(row):
                        if n and _level_ok(q.level, rank):
                            acc[rank] += n
            return {t: row for t, row in out.items() if any(row)}, False
        deadline = clock() + budget
        for i, e in enumerate(reader.entries(files)):
            rank = RANK.get(e.level)
            if rank is not None and e.ts is not None:
                out.setdefault(int(e.ts // 60 * 60), [0] * len(LEVELS))[rank] += 1
            if i % 1000 == 999 and clock() > deadline:
                return out, True
        return out, False


def _level_ok(level, rank: int) -> bool:
    if level is None:
        return True
    op, want = level
    return {"=": rank == want, ">=": rank >= want, ">": rank > want,
            "<=": rank <= want, "<": rank < want}[op]


def _count(f, compressed: bool, start: int, minutes: _Minutes, live: bool) -> int:
    """Count the whole lines of ``f`` from ``start``; returns where counting ended."""
    if compressed:
        from cellsrun.browse.reader import _gunzip
        chunks = _gunzip(f)
        pos = 0
    else:
        f.seek(start)
        chunks = iter(lambda: f.read(BLOCK), b"")
        pos = start
    carry = b""
    for data in chunks:
        data = carry + data if carry else data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) > BLOCK * 2:
            cut = len(data)  # a huge line: count (or skip) it in pieces, memory stays bounded
        carry = data[cut:]
        minutes.add_block(data[:cut])
        pos += cut
    if carry and not live:
        minutes.add_block(carry)
        pos += len(carry)
    return pos


def buckets(minutes: dict[int, list[int]], offset_minutes: int, since=None, until=None):
    """Group per-minute counts into bars: (bucket seconds, [(start, counts)...]). A period
    of up to 3 hours gets minutes, up to 36 hours ten minutes, up to 14 days hours, longer
    days; hours and days start
    at the browser's local boundaries (``offset_minutes`` east of UTC)."""
    ts = sorted(minutes)
    first = since if since is not None else (ts[0] if ts else 0)
    last = until if until is not None else (ts[-1] if ts else first)
    span = max(0, last - first)
    size = (60 if span <= 3 * 3600 else 600 if span <= 36 * 3600 else 3600 if span <= 14 * 86400
            else 86400)
    shift = offset_minutes * 60
    bars: dict[int, list[int]] = {}
    for t in ts:
        b = (t + shift) // size * size - shift
        acc = bars.setdefault(b, [0] * len(LEVELS))
        for i, n in enumerate(minutes[t]):
            acc[i] += n
    return size, sorted(bars.items())
