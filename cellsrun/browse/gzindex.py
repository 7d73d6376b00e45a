"""Random access into a ``.gz`` archive, for reading it newest first a page at a time.

gzip cannot seek: to read the decompressed bytes [a, b) one must inflate from the start. So
the first time an archive is read backwards it is inflated once, front to back, in bounded
memory, and every ``spacing`` decompressed bytes a copy of the decompressor's state is kept
(``zlib.decompressobj().copy()``: the 32 KiB window and the inflate state, ~40 KiB). A later
read of [a, b) seeks to the compressed offset of the nearest point before ``a``, resumes from a
copy of its state, and inflates at most ``spacing + (b - a)`` bytes.
One more point is kept a little before the end (:data:`TAIL`), where a first page reads.

The inflating is the browser's own (:class:`files.Inflater`, what :func:`files.gunzip` runs):
a point is its state between two reads, and a read resumes it with the same reads, so the
content is exactly what ``cellsrun logs`` gets — members read as one stream, and a damaged or
cut archive ending where gunzip stops, with the same reason (:attr:`GzIndex.error`, the text
of the reader's warning).

Each point also notes where the line under way there started (:attr:`Point.line_start`), so
that the start of a line — needed to cut an over-long line where the reader cuts it — is found
with one read, however long the line.

The points of all archives together are bounded (:data:`MAX_POINTS`, about 10 MiB): the
least recently used archive's index is dropped first, and a big archive gets sparser points.
An index is keyed by the file's inode, size and mtime, so a replaced file is indexed anew.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque

from cellsrun.browse.files import Inflater, Unreadable

SPACING = 8 << 20        # decompressed bytes between two points (at least)
MAX_POINTS = 256         # points kept over all archives (~40 KiB each)
POINTS_PER_FILE = 128    # a bigger archive gets sparser points
TAIL = 1 << 20           # the last point is at least this far before the end (a first page's reads)
MAX_PENDING = 64 << 10   # no point where the decompressor holds more unused input than this (a bomb)


class Point:
    """A place to resume inflating: ``comp`` (offset in the compressed file), ``pos`` (offset
    in the content), ``state`` (the decompressor there; copied before use), ``line_start``
    (where the line under way at ``pos`` started). ``first``: free for the index's reader to
    note what it learnt there (newest keeps the first timestamped line after ``pos``)."""

    __slots__ = ("comp", "pos", "state", "line_start", "first")

    def __init__(self, comp: int, pos: int, state, line_start: int):
        self.comp, self.pos, self.state, self.line_start = comp, pos, state, line_start
        self.first = None


class GzIndex:
    """Points into one gzip file. ``size``: the length of its content; ``error``: why the
    content ends before the file does (damaged, cut short: the reader's words), else None."""

    def __init__(self, f, comp_size: int):
        self.spacing = max(SPACING, comp_size * 12 // POINTS_PER_FILE)
        self.points: list[Point] = []
        self.size = 0
        self.error: str | None = None
        self._build(f)

    def _build(self, f) -> None:
        f.seek(0)
        inf = Inflater(f)
        self.points.append(Point(0, 0, inf.d.copy(), 0))
        last_nl = -1
        next_point = self.spacing
        tail: deque[Point] = deque(maxlen=4)  # the last places a point could be taken (since the last point)
        try:
            for out in inf.chunks():
                r = out.rfind(b"\n")
                if r >= 0:
                    last_nl = inf.done - len(out) + r
                if _pending(inf.d) <= MAX_PENDING:
                    point = Point(f.tell(), inf.done, inf.d.copy(), last_nl + 1)
                    if inf.done >= next_point:
                        self.points.append(point)
                        next_point = inf.done + self.spacing
                        tail.clear()
                    else:
                        tail.append(point)
        except Unreadable as e:
            self.error = str(e)
        # A point a little before the end: a first page (the newest lines) inflates little.
        near_end = [p for p in tail if p.pos <= inf.done - TAIL]
        if near_end:
            self.points.append(near_end[-1])
        self.size = inf.done

    def point_before(self, offset: int) -> Point:
        """The last point at or before content offset ``offset``."""
        points = self.points
        lo, hi = 0, len(points) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if points[mid].pos <= offset:
                lo = mid
            else:
                hi = mid - 1
        return points[lo]

    def read(self, f, start: int, stop: int) -> bytes:
        """The decompressed bytes [start, stop) (clamped to the content)."""
        stop = min(stop, self.size)
        if start >= stop:
            return b""
        p = self.point_before(start)
        f.seek(p.comp)
        inf = Inflater(f, p.state.copy(), p.pos)
        parts: list[bytes] = []
        pos = p.pos
        try:
            for out in inf.chunks():
                lo, hi = max(start, pos), min(stop, pos + len(out))
                if lo < hi:
                    parts.append(out[lo - pos:hi - pos])
                pos += len(out)
                if pos >= stop:
                    break
        except Unreadable:
            pass  # the file changed under the index (it is keyed by size and mtime): what was read
        return b"".join(parts)

    def line_start(self, f, offset: int) -> int:
        """Where the line holding the byte before ``offset`` starts (just after the last
        newline before ``offset``; 0 if none): one read from the nearest point."""
        p = self.point_before(offset)
        if offset <= p.pos:
            return p.line_start if offset == p.pos else 0
        r = self.read(f, p.pos, offset).rfind(b"\n")
        return p.pos + r + 1 if r >= 0 else p.line_start


def _pending(d) -> int:
    return len(d.unused_data) + len(d.unconsumed_tail)


class GzIndexCache:
    """The indexes of recently read archives, bounded by their total number of points.
    Safe to share between threads (the server reads in worker threads)."""

    def __init__(self, max_points: int = MAX_POINTS):
        self.max_points = max_points
        self._lru: OrderedDict[tuple, GzIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, f) -> GzIndex:
        """The index of the open gzip file ``f`` (built now if not cached)."""
        st = os.fstat(f.fileno())
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            index = self._lru.get(key)
            if index is not None:
                self._lru.move_to_end(key)
                return index
        index = GzIndex(f, st.st_size)
        with self._lock:
            self._lru[key] = index
            while len(self._lru) > 1 and sum(len(i.points) for i in self._lru.values()) > self.max_points:
                self._lru.popitem(last=False)
        return index
