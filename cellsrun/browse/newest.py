"""Newest first, a page at a time: what the page (`cellsrun web`) shows and pages through.

A page starts at a :class:`Position` — a file of the log dir (by name and inode) and a byte
offset where a line starts — and reads backwards from there: the matching entries before the
position, newest first, and the position where the next (older) page starts. Nothing is
re-read from the top: a plain file is read backwards in blocks (64 KiB first, growing to 4 MiB
while matches are rare; a 1 GB ``cells.out`` costs one small read for its first page); a
``.gz`` archive, which cannot seek, is indexed once (see :mod:`gzindex`) and then read the
same way through the index. Offsets into a ``.gz`` archive are offsets of its content.

The page shows exactly what ``cellsrun logs`` shows, in reverse: the same files, opened the
same way (:func:`files.open_log`: regular files only; a file that cannot be read is skipped
with the reader's warning, a ``.gz`` decompressed by the reader's own code and shown up to its
damage), lines cut where the reader cuts them (a line over 1 MiB in pieces at its start + k MiB:
:func:`lines.cut`; a piece starts at a position like a line), the same candidates and times
(:meth:`Reader.block_matches`: the byte needle, a line without a time of its own takes the time
of the line before it), the same :class:`~cellsrun.browse.query.Query` and time-order slack
(:data:`reader.SLACK`). The live file's last line is shown once complete, as the reader does.

Reading backwards, the start of a long line is not in view: it is looked for (one read for an
archive, through its index; scanning back for a plain file), since the cuts count from it.
"The line before" a line without a time is looked for up to :data:`source.LOOK_BACK` bytes back.

A position survives the midnight rotation: the live file renamed to its archive keeps its
inode, and a position is looked up by inode when its name now holds another file. Once that
archive is compressed (a new inode) an old position cannot be found: :class:`StalePosition`.
"""

from __future__ import annotations

import bisect
import os
import time
from collections import namedtuple

from cellsrun.browse.entries import parse_line
from cellsrun.browse.files import LogFile, Unreadable
from cellsrun.browse.gzindex import GzIndexCache
from cellsrun.browse.lines import MAX_LINE
from cellsrun.browse.reader import SLACK
from cellsrun.browse.source import FIRST_BLOCK, MAX_BLOCK, Position, Source, first_time, last_time, skipped

__all__ = ["Newest", "Page", "Position", "StalePosition", "forward_from", "line_at", "live_end", "locate"]

class StalePosition(ValueError):
    """A position whose file is gone (compressed or removed since it was given)."""


class Page(namedtuple("Page", "entries next head")):
    """``entries``: (Position of the line, Entry) pairs, newest first; ``next``: where the
    older page starts (None: the beginning was reached); ``head``: the live file's end of
    complete lines when the page started at the top (where following starts), else None."""

    __slots__ = ()


def open_source(lf: LogFile, gz_cache: GzIndexCache, warnings: list) -> Source | None:
    """``lf`` opened, or None: gone since it was listed (nothing said, as the reader), or
    unreadable (the reader's warning added to ``warnings``). An archive readable up to some
    damage is opened (its warning is for who reads up to the damage)."""
    try:
        return Source(lf, gz_cache)
    except FileNotFoundError:
        return None
    except (OSError, Unreadable) as e:
        _add(warnings, skipped(lf.path, e))
        return None


def _add(warnings: list, text: str) -> None:
    if text not in warnings:
        warnings.append(text)


class Newest:
    """Pages of the entries of ``files`` (oldest first, as select_files lists them) that match
    ``reader``'s query, newest first. ``warnings``: the files skipped (or cut short by damage),
    in the reader's words. With ``slim``, a page's entries keep only the first ``slim``
    characters of their line, message, user and IP, and no other field (what a table row
    shows): a page of 100 pieces of a long line would otherwise hold 100 MiB of text, and
    the detail reads its line again anyway."""

    def __init__(self, reader, gz_cache: GzIndexCache, clock=time.monotonic, slim: int | None = None):
        self.reader = reader
        self.q = reader.q
        self.gz_cache = gz_cache
        self.clock = clock
        self.slim = slim
        self.warnings: list[str] = []

    def page(self, files: list[LogFile], start: Position | None, limit: int,
             budget: float = 2.0) -> Page:
        """Up to ``limit`` matches before ``start`` (None: from the newest). Stops early, with a
        ``next`` position, after ``budget`` seconds of reading (rare matches in big files), so
        that no request runs long; the caller asks again from ``next``."""
        deadline = self.clock() + budget
        if start is None:
            first, offset = len(files) - 1, None
        else:
            first, offset = locate(files, start)
        out: list = []
        head = None
        for i in range(first, -1, -1):
            lf = files[i]
            src = open_source(lf, self.gz_cache, self.warnings)
            if src is None:
                offset = None
                continue
            with src:
                end = src.head() if offset is None else min(offset, src.size)
                if start is None and lf.live:
                    head = src.position(end)
                offset = None
                if self.q.until is not None and end > 0:
                    end = min(end, seek_after(src, end, self.q.until + SLACK))
                if src.error and self._reaches(src):
                    _add(self.warnings, skipped(lf.path, src.error))
                status, nxt = self._file(src, end, limit - len(out), deadline, out)
            if status == "full" and i == 0 and nxt.offset == 0:
                nxt = None  # the oldest file's first line: nothing older (no empty last page)
            if status != "done":
                return Page(out, nxt, head)
        return Page(out, None, head)

    def _reaches(self, src: Source) -> bool:
        """Whether the reader reads up to the end of ``src`` for this query (it stops at the
        first line past --until): then it meets the damage there and says so."""
        if self.q.until is None:
            return True
        t = src.time_before(src.size)
        return t is None or t <= self.q.until + SLACK

    def _file(self, src: Source, end: int, want: int, deadline: float, out: list):
        """Add matches of ``src`` before ``end`` to ``out``, newest first. Returns (status,
        next position): "full" (``want`` reached), "budget" (time is up), "before-since" (the
        lines are older than --since: no older file can match) or "done" (the file's start)."""
        size = FIRST_BLOCK
        since = self.q.since
        while end > 0:
            start, block, inserted = src.block_before(end, size)
            found = self.matches(src, start, block, inserted)
            found.reverse()
            if len(found) >= want:
                out.extend(found[:want])
                return "full", out[-1][0]
            out.extend(found)
            want -= len(found)
            end = start
            if since is not None:
                t = first_time(block)
                if t is not None and t < since - SLACK:
                    return "before-since", None
            if end > 0 and self.clock() > deadline:
                return "budget", src.position(end)
            size = min(size * 4, MAX_BLOCK)
        return "done", None

    def matches(self, src: Source, base: int, block: bytes, inserted: list[int], last_ts=None) -> list:
        """[(Position, Entry)] of the lines of ``block`` (cut lines read from ``base``) that
        match the query, in file order: the reader's candidates and times; a line without a
        time before any in the block takes the time of the line before it in the file
        (``last_ts`` if known, else looked for)."""
        q = self.q
        out = []
        before = None
        for i, e in self.reader.block_matches(block, last_ts, src.lf.day):
            if e.ts is None and last_ts is None:
                if before is None:
                    before = [src.time_before(base)]
                e.ts = before[0]
            if q.matches(e):
                if self.slim is not None:
                    _slim(e, self.slim)
                out.append((src.position(base + i - bisect.bisect_left(inserted, i)), e))
        return out


def _slim(e, n: int) -> None:
    e.raw, e.msg, e.obj = e.raw[:n], e.msg[:n], None
    e.fields = {k: str(e.fields[k])[:n] for k in ("RemoteAddress", "UserName") if k in e.fields}


def seek_after(src: Source, end: int, t: float) -> int:
    """A place where a line starts (or ``end``), after every line with time <= ``t`` (and the
    lines without a time that follow one), in a file whose lines are in time order: where
    reading backwards for --until starts. A plain file is binary-searched; an archive's index
    points are looked at in turn (the first time after each is kept on the point)."""
    if src.index is not None:
        for p in src.index.points[1:]:
            if p.pos >= end:
                break
            if p.first is None:
                p.first = _first_stamp(src, p.pos, end)
            at, ts = p.first
            if ts is not None and ts > t:
                return min(at, end)
        return end
    lo, hi = 0, end
    while hi - lo > (1 << 16):
        mid = (lo + hi) // 2
        _, ts = _first_stamp(src, mid, end)
        if ts is None or ts <= t:  # no time found: assume earlier (reading more is safe)
            lo = mid
        else:
            hi = mid
    if hi >= end:
        return end
    at, ts = _first_stamp(src, hi, end)
    return min(at, end) if ts is not None and ts > t else end


def _first_stamp(src: Source, offset: int, end: int, look: int = 50) -> tuple[int, float | None]:
    """(offset, time) of the first line with a time of its own that starts after ``offset``
    (at it, for 0), among the next ``look`` lines in 64 KiB; (end, None) if there is none."""
    data = src.read(offset, min(end, offset + (1 << 16)))
    pos = 0 if offset == 0 else data.find(b"\n") + 1
    if offset and pos == 0:
        return end, None
    for _ in range(look):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        ts = parse_line(data[pos:nl].decode("utf-8", "replace")).ts
        if ts is not None:
            return offset + pos, ts
        pos = nl + 1
    return end, None


def locate(files: list[LogFile], pos: Position) -> tuple[int, int]:
    """(index in ``files``, offset) of a position: the file of that name if it is still the
    same inode, else the listed plain file with that inode (the live file renamed at
    midnight). Raises StalePosition when neither exists."""
    by_ino = None
    for i, lf in enumerate(files):
        try:
            ino = os.lstat(lf.path).st_ino
        except FileNotFoundError:
            continue
        if ino == pos.ino:
            if os.path.basename(lf.path) == pos.name:
                return i, pos.offset
            if not lf.compressed:
                by_ino = i
    if by_ino is not None:
        return by_ino, pos.offset
    raise StalePosition(f"{pos.name} changed since this view was loaded (rotated or compressed)")


def live_end(path: str, gz_cache: GzIndexCache) -> Position | None:
    """The live file's end of the lines the reader shows (where following it starts), or None
    if it is missing or cannot be read."""
    try:
        with Source(LogFile(path, None, False, True), gz_cache) as src:
            return src.position(src.head())
    except (OSError, Unreadable):
        return None


def line_at(files: list[LogFile], pos: Position, gz_cache: GzIndexCache):
    """The entry whose line (or piece of a line over 1 MiB) starts at ``pos``, its time
    inherited as when it was listed. Raises StalePosition, :class:`Unreadable` or ValueError
    (an offset where no line starts)."""
    i, offset = locate(files, pos)
    with Source(files[i], gz_cache) as src:
        if offset > src.size or src.boundary(offset) != offset:
            raise ValueError("no line starts at this position")
        data = src.read(offset, offset + MAX_LINE + 1)
        nl = data.find(b"\n")
        raw = data[:nl] if 0 <= nl <= MAX_LINE else data[:MAX_LINE]
        e = parse_line(raw.decode("utf-8", "replace"))
        if e.ts is None:
            e.ts = src.time_before(offset)
        return e


def forward_from(files: list[LogFile], pos: Position, reader, gz_cache: GzIndexCache, emit) -> None:
    """``emit(entry, position)`` for the matching entries of the file of ``pos`` from its
    offset to its end (what a renamed live file received after a page was read, before
    following the new one)."""
    i, offset = locate(files, pos)
    newest = Newest(reader, gz_cache)
    with Source(files[i], gz_cache) as src:
        last_ts = src.time_before(offset)
        head = src.head()
        while offset < head:
            stop, block, inserted = src.block_after(offset, MAX_BLOCK)
            for p, e in newest.matches(src, offset, block, inserted, last_ts):
                emit(e, p)
            t = last_time(block)
            last_ts = t if t is not None else last_ts
            offset = stop
