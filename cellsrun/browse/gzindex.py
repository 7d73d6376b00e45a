"""Random access into a ``.gz`` archive, for reading it newest first a page at a time.

gzip cannot seek: to read the decompressed bytes [a, b) one must inflate from the start. So
the first time an archive is read backwards it is inflated once, front to back, in bounded
memory, and every ``spacing`` decompressed bytes a copy of the decompressor's state is kept
(``zlib.decompressobj().copy()``: the 32 KiB window and the inflate state, ~40 KiB). A later
read of [a, b) seeks to the compressed offset of the nearest point before ``a``, resumes from a
copy of its state, and inflates at most ``spacing + (b - a)`` bytes.

The points of all archives together are bounded (:data:`MAX_POINTS`, about 10 MiB): the
least recently used archive's index is dropped first, and a big archive gets sparser points.
An index is keyed by the file's inode, size and mtime, so a replaced file is indexed anew.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections import OrderedDict

SPACING = 8 << 20        # decompressed bytes between two points (at least)
MAX_POINTS = 256         # points kept over all archives (~40 KiB each)
POINTS_PER_FILE = 128    # a bigger archive gets sparser points
CHUNK = 1 << 16          # compressed bytes read at a time
OUT_BOUND = 1 << 20      # decompressed bytes produced per call (bounded memory whatever the ratio)


class GzIndex:
    """Points into one gzip file (all members of a multi-member file). ``size``: the length of
    its decompressed content (a truncated or corrupt tail ends the content where it breaks)."""

    def __init__(self, f, comp_size: int):
        self.spacing = max(SPACING, comp_size * 12 // POINTS_PER_FILE)
        self.points: list[tuple[int, int, object]] = []  # (compressed offset, decompressed offset, state)
        self.size = 0
        self._build(f)

    def _build(self, f) -> None:
        f.seek(0)
        d = zlib.decompressobj(31)
        self.points.append((0, 0, d.copy()))
        read = out_pos = 0
        next_point = self.spacing
        while True:
            data = f.read(CHUNK)
            if not data:
                out_pos += _drain(d, lambda out: None)
                break
            read += len(data)
            try:
                d, produced = _inflate_all(d, data, lambda out: None)
            except zlib.error:
                break  # corrupt from here on: the content ends where it breaks
            out_pos += produced
            if out_pos >= next_point:
                self.points.append((read, out_pos, d.copy()))
                next_point = out_pos + self.spacing
        self.size = out_pos

    def read(self, f, start: int, stop: int) -> bytes:
        """The decompressed bytes [start, stop) (clamped to the content)."""
        stop = min(stop, self.size)
        if start >= stop:
            return b""
        i = _last_at_or_before(self.points, start)
        comp, pos, state = self.points[i]
        d = state.copy()
        f.seek(comp)
        parts: list[bytes] = []

        def take(out: bytes) -> None:
            nonlocal pos
            lo, hi = max(start, pos), min(stop, pos + len(out))
            if lo < hi:
                parts.append(out[lo - pos:hi - pos])
            pos += len(out)

        while pos < stop:
            data = f.read(CHUNK)
            if not data:
                _drain(d, take)
                break
            try:
                d, _ = _inflate_all(d, data, take, stop_when=lambda: pos >= stop)
            except zlib.error:
                break
        return b"".join(parts)


def _inflate_all(d, data: bytes, sink, stop_when=lambda: False):
    """Feed ``data`` to ``d`` (and to the members that follow when one ends), passing each
    decompressed piece to ``sink``; returns (the decompressor now in use, bytes produced)."""
    produced = 0
    while data and not stop_when():
        out = d.decompress(data, OUT_BOUND)
        data = d.unconsumed_tail
        if d.eof:
            data = d.unused_data + data
            d = zlib.decompressobj(31)
            if data.strip(b"\0") == b"":
                data = b""  # zero padding after the last member, as some tools leave
        if out:
            produced += len(out)
            sink(out)
    return d, produced


def _drain(d, sink) -> int:
    """What ``d`` still holds once all input is given (a long match cut by OUT_BOUND)."""
    produced = 0
    try:
        while not d.eof:
            out = d.decompress(b"", OUT_BOUND)
            if not out:
                break
            produced += len(out)
            sink(out)
    except zlib.error:
        pass
    return produced


def _last_at_or_before(points, offset: int) -> int:
    lo, hi = 0, len(points) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if points[mid][1] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


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
