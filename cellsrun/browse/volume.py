"""Entries per minute by level: the page's volume picture (bars stacked by level).

The counts are those of the entries `cellsrun logs` shows for the same filter — the same files
(opened by :func:`files.open_log`, a ``.gz`` decompressed by the reader's own code, a file that
cannot be read skipped with the reader's warning), the same lines (cut at 1 MiB where the reader
cuts them: :func:`lines.whole_lines`), the same entries (a line is counted when the reader would
parse it into an entry with a level and a time, its own or the one before it). Two ways to get
them, one answer:

- The common view — no full text, service, user or IP filter — keeps per file a table of counts
  per minute and level, so each file is read once: an archive's table is kept while it is
  unchanged (inode, size, mtime); the live file's is carried forward from where the last count
  ended, so only new lines are read. Console lines are counted by one regular expression per
  block, at C speed: it takes a line's minute, zone and level only where the reader's parser
  would take the same (any other line that starts like a time is parsed by the reader's
  parser); JSON lines are decoded one by one as the parser does. Time filters take the whole
  minutes inside the period from the tables, and count the minutes cut by its edges exactly,
  by reading them (:class:`newest.Newest`: a few reads).
- Any other filter goes through :class:`~cellsrun.browse.reader.Reader` (the same selection
  as `cellsrun logs`), with a time budget: past it the answer says ``partial``.

Memory: at most ``MAX_FILES`` files' minute tables (~1,440 rows a day each).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter, OrderedDict, namedtuple

from cellsrun.browse.entries import LEVELS, RANK, parse_line, parse_time
from cellsrun.browse.files import Unreadable, gunzip, open_log, plain_chunks
from cellsrun.browse.lines import whole_lines
from cellsrun.browse.query import Query
from cellsrun.browse.reader import SLACK

MAX_FILES = 40
BLOCK = 2 << 20
EDGE_BUDGET = 5.0        # seconds for counting the minutes cut by a period's edges
_ANSI = rb"(?:\x1b\[[0-9;]*[A-Za-z])*"
# A line that starts like a time (the reader then tries it as a console line); the rest is
# matched only when the reader's parser takes from it this minute, zone and level: a time
# fromisoformat takes (seconds 00-59), the level alone between the first two tabs (colour
# codes around it are removed by the parser too).
_CONSOLE = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d)(?:(?::[0-5]\d(?:\.\d+)?)?(Z|[+-]\d\d:?\d\d)?\t"
                      + _ANSI + rb"([A-Za-z]+)" + _ANSI + rb"\t)?", re.M)
_TIME_START = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")  # as the parser's (str: any digit)
_scan_json = json.JSONDecoder().scan_once
_SUSPECT = 128  # a JSON line longer than this may nest too deep: the parser decides
_MINUTE_CACHE_MAX = 50_000

Counts = namedtuple("Counts", "minutes partial warnings")


def simple(query) -> bool:
    """Whether ``query`` can be counted from the minute tables."""
    return not (query.terms or query.service or query.user or query.ip)


class _Minutes:
    """minute (epoch seconds) -> counts per level (a list in LEVELS order); ``last_ts``: the
    time of the last line with one (what a following line without a time takes)."""

    def __init__(self):
        self.rows: dict[int, list[int]] = {}
        self.last_ts: float | None = None
        self._epoch: dict[tuple, int | None] = {}

    def add_block(self, block: bytes) -> None:
        """Count the lines of ``block`` (whole lines, as the reader cuts them)."""
        if block[:1] == b"{" or b"\n{" in block:
            self._add_lines(block)  # JSON lines: decoded one by one, in order
            return
        unsure = False
        for (minute, zone, level), n in Counter(_CONSOLE.findall(block)).items():
            if level:
                self._add_minute(minute, zone, level, n)
            else:
                unsure = True
        if unsure:
            for m in _CONSOLE.finditer(block):
                if not m.group(3):
                    end = block.find(b"\n", m.start())
                    e = parse_line(block[m.start():end].decode("utf-8", "replace"))
                    self._add(e.ts, e.level)  # console entries have a time of their own
        t = _last_time(block)
        if t is not None:
            self.last_ts = t

    def _add_lines(self, block: bytes) -> None:
        last_ts = self.last_ts
        for line in block.decode("utf-8", "replace").split("\n")[:-1]:
            first = line[:1]
            if first == "{":
                ts, level = _json_line(line)
            elif first.isdigit() and _TIME_START.match(line):
                e = parse_line(line)
                ts, level = e.ts, e.level
            else:
                continue  # text: no time, no level
            if ts is None:
                ts = last_ts
            else:
                last_ts = ts
            self._add(ts, level)
        self.last_ts = last_ts

    def _add(self, ts: float | None, level: str) -> None:
        rank = RANK.get(level)
        if rank is None or ts is None:
            return
        t = int(ts // 60 * 60)
        row = self.rows.get(t)
        if row is None:
            row = self.rows[t] = [0] * len(LEVELS)
        row[rank] += 1

    def _add_minute(self, minute: bytes, zone: bytes, level: bytes, n: int) -> None:
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


def _json_line(line: str) -> tuple[float | None, str]:
    """(own time, level) of a line starting with "{", as the parser takes them (a line that
    is not one JSON object, or nests too deep, is text: no time, no level)."""
    try:
        obj, end = _scan_json(line, 0)
    except (ValueError, StopIteration, RecursionError):
        return None, ""
    if end != len(line) and line[end:].strip(" \t\r"):
        return None, ""  # more after the object: not JSON
    if len(line) > _SUSPECT and line.count("{") + line.count("[") > 64:
        e = parse_line(line)  # maybe nested too deep: the parser decides
        return (e.ts, e.level) if e.kind == "json" else (None, "")
    if not isinstance(obj, dict):
        return None, ""
    ts_text = str(obj.get("ts", ""))
    return (parse_time(ts_text) if ts_text else None), str(obj.get("level", "")).lower()


def _last_time(block: bytes) -> float | None:
    """The time of the last line of ``block`` that has one of its own."""
    end = len(block) - 1
    while end >= 0:
        begin = block.rfind(b"\n", 0, end) + 1
        ts = parse_line(block[begin:end].decode("utf-8", "replace")).ts
        if ts is not None:
            return ts
        end = begin - 1
    return None


class VolumeCounter:
    """Counts per minute and level for the files a query selects; shared between requests
    (thread-safe), so that the live file is read again only from where it was counted.
    ``gz_cache``: the page's archive indexes (the edges of a period are read through them)."""

    def __init__(self, gz_cache, block: int = BLOCK):
        self.gz_cache = gz_cache
        self.block = block
        self._files: OrderedDict[tuple, tuple] = OrderedDict()
        self._lock = threading.Lock()
        self._counting: dict[tuple, threading.Lock] = {}  # one count per file at a time

    def file_minutes(self, lf, warnings: list, until: float | None = None) -> _Minutes | None:
        """The minute table of one LogFile (None if it vanished or cannot be read: then the
        reader's warning is added to ``warnings``, as for an archive cut short by damage,
        whose lines before the damage are counted — unless they all lie past ``until``: the
        reader then stops before the damage, and says nothing). Requests that need the same file at once
        wait for one count instead of each making their own."""
        try:
            f = open_log(lf.path)
        except FileNotFoundError:
            return None
        except (OSError, Unreadable) as e:
            warnings.append(_skipped(lf.path, e))
            return None
        with f:
            st = os.fstat(f.fileno())
            with self._lock:
                busy = self._counting.setdefault((st.st_dev, st.st_ino), threading.Lock())
            with busy:
                minutes, error = self._file_minutes(f, st, lf)
        if error and (until is None or minutes.last_ts is None or minutes.last_ts <= until + SLACK):
            warnings.append(_skipped(lf.path, error))  # the reader reads up to the damage, and says so
        return minutes

    def _file_minutes(self, f, st, lf):
        key = (st.st_dev, st.st_ino) if lf.live else (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            done, minutes, error = self._files.get(key, (0, None, None))
        if minutes is not None and (not lf.live or done == st.st_size):
            self._touch(key)
            return minutes, error
        if minutes is None or done > st.st_size:
            done, minutes = 0, _Minutes()
        done, error = self._count(f, lf, done, minutes)
        with self._lock:
            self._files[key] = (done, minutes, error)
            self._files.move_to_end(key)
            while len(self._files) > MAX_FILES:
                self._files.popitem(last=False)
        return minutes, error

    def _count(self, f, lf, start: int, minutes: _Minutes) -> tuple[int, str | None]:
        """Count the lines of ``f`` from ``start`` (a place where a line starts or was cut) as
        the reader reads them; returns (where counting ended, why it stopped early or None).
        The live file's last line is left until complete, as the reader leaves it."""
        chunks = gunzip(f) if lf.compressed else plain_chunks(f, start, self.block)
        done = start
        try:
            for block, done in whole_lines(chunks, start, complete_last=not lf.live):
                minutes.add_block(block)
        except (OSError, Unreadable) as e:
            return done, (e.strerror or str(e)) if isinstance(e, OSError) else str(e)
        return done, None

    def _touch(self, key) -> None:
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)

    def count(self, reader, files, budget: float = 10.0, clock=time.monotonic) -> Counts:
        """The counts ({minute: counts per level}), whether they are partial (the budget ran
        out), and the warnings of the files skipped, for ``reader``'s query over ``files``."""
        q = reader.q
        out: dict[int, list[int]] = {}
        warnings: list[str] = []
        if not simple(q):
            reader.warn = warnings.append
            deadline = clock() + budget
            for i, e in enumerate(reader.entries(files)):
                rank = RANK.get(e.level)
                if rank is not None and e.ts is not None:
                    out.setdefault(int(e.ts // 60 * 60), [0] * len(LEVELS))[rank] += 1
                if i % 1000 == 999 and clock() > deadline:
                    return Counts(out, True, warnings)
            return Counts(out, False, warnings)
        edges = _edges(q.since, q.until)
        for lf in files:
            minutes = self.file_minutes(lf, warnings, q.until)
            if minutes is None:
                continue
            for t, row in minutes.rows.items():
                if (q.since is not None and t < q.since) or (q.until is not None and t + 60 - 1e-6 > q.until):
                    continue  # outside, or cut by an edge (counted below)
                acc = out.setdefault(t, [0] * len(LEVELS))
                for rank, n in enumerate(row):
                    if n and _level_ok(q.level, rank):
                        acc[rank] += n
        partial = False
        deadline = clock() + EDGE_BUDGET
        for minute, lo, hi in edges:
            row, cut_short = self._edge(q, files, minute, lo, hi, deadline, clock)
            partial |= cut_short
            if any(row):
                acc = out.setdefault(minute, [0] * len(LEVELS))
                for rank, n in enumerate(row):
                    acc[rank] += n
        return Counts({t: row for t, row in out.items() if any(row)}, partial, warnings)

    def _edge(self, q, files, minute: int, lo, hi, deadline: float, clock):
        """Counts per level of the matching entries of ``minute`` within [lo, hi], read as
        the page reads (newest first, only near that minute); and whether time ran out."""
        from cellsrun.browse.newest import Newest
        from cellsrun.browse.reader import Reader
        # Over the files of the whole query, as the reader reads them (an entry may sit in the
        # next day's file): reading stops before --since, and starts after --until, quickly.
        newest = Newest(Reader(Query(since=lo, until=hi, level=q.level), block=self.block), self.gz_cache,
                        clock=clock)
        row = [0] * len(LEVELS)
        start = None
        while True:
            page = newest.page(files, start, 2000, budget=max(0.0, deadline - clock()))
            for _, e in page.entries:
                rank = RANK.get(e.level)
                if rank is not None and e.ts is not None and int(e.ts // 60 * 60) == minute:
                    row[rank] += 1
            if page.next is None:
                return row, False
            if clock() > deadline:
                return row, True
            start = page.next


def _edges(since, until) -> list[tuple[int, float, float]]:
    """The minutes a period cuts (its edges, not wholly inside): (minute, from, to)."""
    out = []
    if since is not None and since % 60:
        m = int(since // 60 * 60)
        out.append((m, since, m + 60.0 if until is None else min(until, m + 60.0)))
    if until is not None:
        m = int(until // 60 * 60)
        if until < m + 60 - 1e-6 and not (out and out[0][0] == m) and (since is None or since < m + 60):
            out.append((m, m if since is None else max(since, m), until))
    return out


def _skipped(path: str, e) -> str:
    reason = (e.strerror or str(e)) if isinstance(e, OSError) else str(e)
    return f"skipped {path}: {reason}"


def _level_ok(level, rank: int) -> bool:
    if level is None:
        return True
    op, want = level
    return {"=": rank == want, ">=": rank >= want, ">": rank > want,
            "<=": rank <= want, "<": rank < want}[op]


def buckets(minutes: dict[int, list[int]], offset_minutes: int, since=None, until=None):
    """Group per-minute counts into bars: (bucket seconds, [(start, counts)...]). A period
    of up to 3 hours gets minutes, up to 36 hours ten minutes, up to 14 days hours, longer
    days; hours and days start at the browser's local boundaries (``offset_minutes`` east of
    UTC)."""
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
