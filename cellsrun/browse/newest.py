"""Newest first, a page at a time: what the page (`cellsrun web`) shows and pages through.

A page starts at a :class:`Position` — a file of the log dir (by name and inode) and a byte
offset that starts a line — and reads backwards from there: the matching entries before the
position, newest first, and the position where the next (older) page starts. Nothing is
re-read from the top: a plain file is read backwards in blocks (64 KiB first, growing to 4 MiB
while matches are rare; a 1 GB ``cells.out`` costs one small read for its first page); a
``.gz`` archive, which cannot seek, is indexed once (see :mod:`gzindex`) and then read the
same way through the index. Offsets into a ``.gz`` archive are offsets of its decompressed
content.

The filtering is the browser's own: the same :class:`~cellsrun.browse.query.Query`, the same
byte needle as :class:`~cellsrun.browse.reader.Reader` (only lines holding it are parsed), the
same rule that a line without a time of its own takes the time of the line before it, and the
same time-order slack (:data:`reader.SLACK`).

A position survives the midnight rotation: the live file renamed to its archive keeps its
inode, and a position is looked up by inode when its name now holds another file. Once that
archive is compressed (a new inode) an old position cannot be found: :class:`StalePosition`.
"""

from __future__ import annotations

import os
import stat
import time
from collections import namedtuple

from cellsrun.browse.entries import parse_line
from cellsrun.browse.gzindex import GzIndexCache
from cellsrun.browse.reader import SLACK, LogFile

FIRST_BLOCK = 64 << 10
MAX_BLOCK = 4 << 20
LINE_BOUND = 4 << 20     # a longer line is cut into pieces of this size (bounded memory)
LOOK_BACK = 64 << 10     # read before a block to find the time of a line that has none

Position = namedtuple("Position", "name ino offset")


class NotRegular(OSError):
    """A name of ours that is not a regular file (skipped with a warning)."""


class StalePosition(ValueError):
    """A position whose file is gone (compressed or removed since it was given)."""


class Page(namedtuple("Page", "entries next head")):
    """``entries``: (Position of the line, Entry) pairs, newest first; ``next``: where the
    older page starts (None: the beginning was reached); ``head``: the live file's end of
    complete lines when the page started at the top (where following starts), else None."""

    __slots__ = ()


class _Source:
    """An open file read by ranges: plain bytes, or a gzip archive's content via its index."""

    def __init__(self, lf: LogFile, gz_cache: GzIndexCache):
        self.lf = lf
        # O_NONBLOCK: a FIFO put in place of a log file must not hang the open
        fd = os.open(lf.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.f = os.fdopen(fd, "rb")
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            self.f.close()
            raise NotRegular("not a regular file")
        self.ino = st.st_ino
        self.name = os.path.basename(lf.path)
        if lf.compressed:
            self.index = gz_cache.get(self.f)
            self.size = self.index.size
        else:
            self.index = None
            self.size = st.st_size

    def read(self, start: int, stop: int) -> bytes:
        if self.index is not None:
            return self.index.read(self.f, start, stop)
        self.f.seek(start)
        return self.f.read(stop - start)

    def close(self) -> None:
        self.f.close()

    def position(self, offset: int) -> Position:
        return Position(self.name, self.ino, offset)


def whole_lines_before(src: _Source, end: int, size: int, live: bool = False) -> tuple[int, bytes]:
    """(start, bytes) of the whole lines ending at ``end``, reading about ``size`` bytes back
    (more when no line starts in them, up to LINE_BOUND, beyond which a line is cut). With
    ``live``, ``end`` is the file's size and a last line without its newline (still being
    written) is left out."""
    while True:
        start = max(0, end - size)
        data = src.read(start, end)
        if live:
            cut = data.rfind(b"\n") + 1
            if cut == 0 and start > 0 and size < LINE_BOUND:
                size *= 4
                continue
            data, end, live = data[:cut], start + cut, False
            if not data:
                return start, b""
        if start == 0:
            return 0, data
        nl = data.find(b"\n")
        if nl < 0 or nl + 1 == len(data):  # no line starts in the range read
            if size < LINE_BOUND:
                size *= 4
                continue
            return start, data  # a line longer than LINE_BOUND: this piece stands alone
        return start + nl + 1, data[nl + 1:]


def live_end(path: str) -> Position | None:
    """The live file's end of complete lines (where following it starts), or None if it is
    missing or not a regular file."""
    try:
        src = _Source(LogFile(path, None, False, True), None)
    except OSError:
        return None
    try:
        start, data = whole_lines_before(src, src.size, FIRST_BLOCK, live=True)
        return src.position(start + len(data))
    finally:
        src.close()


class Newest:
    """Pages of the entries of ``files`` (oldest first, as select_files lists them) that match
    ``reader``'s query, newest first."""

    def __init__(self, reader, gz_cache: GzIndexCache, clock=time.monotonic):
        self.reader = reader
        self.q = reader.q
        self.gz_cache = gz_cache
        self.clock = clock
        self.warnings: list[str] = []  # files skipped (unreadable, not regular), for the page

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
            try:
                src = _Source(lf, self.gz_cache)
            except FileNotFoundError:
                continue  # removed by retention since it was listed
            except OSError as e:
                self.warnings.append(f"skipped {lf.path}: {e.strerror or e}")
                continue
            try:
                end = src.size if offset is None else min(offset, src.size)
                if start is None and lf.live:
                    tail_start, tail = whole_lines_before(src, end, FIRST_BLOCK, live=True)
                    end = tail_start + len(tail)
                    head = src.position(end)
                offset = None
                if self.q.until is not None and not lf.compressed and end > 0:
                    end = seek_after(src.f, end, self.q.until + SLACK)
                status, nxt = self._file(src, end, limit - len(out), deadline, out)
            finally:
                src.close()
            if status == "full" and i == 0 and nxt.offset == 0:
                nxt = None  # the oldest file's first line: nothing older (no empty last page)
            if status != "done":
                return Page(out, nxt, head)
        return Page(out, None, head)

    def _file(self, src: _Source, end: int, want: int, deadline: float, out: list):
        """Add matches of ``src`` before ``end`` to ``out``, newest first. Returns (status,
        next position): "full" (``want`` reached), "budget" (time is up), "before-since" (the
        lines are older than --since: no older file can match) or "done" (the file's start)."""
        size = FIRST_BLOCK
        since = self.q.since
        while end > 0:
            start, block = whole_lines_before(src, end, size)
            found = list(self._matches(src, start, block))
            found.reverse()
            if len(found) >= want:
                out.extend(found[:want])
                return "full", out[-1][0]
            out.extend(found)
            want -= len(found)
            end = start
            if since is not None:
                t = _first_time(block)
                if t is not None and t < since - SLACK:
                    return "before-since", None
            if end > 0 and self.clock() > deadline:
                return "budget", src.position(end)
            size = min(size * 4, MAX_BLOCK)
        return "done", None

    def _matches(self, src: _Source, base: int, block: bytes):
        """(Position, Entry) of the lines of ``block`` (which starts at ``base``) that match
        the query, in file order: the needle finds the candidate lines, as Reader does."""
        reader, q = self.reader, self.q
        before = _TimeBefore(src, base)
        if reader.needle is None:
            last_ts = None
            pos = 0
            for raw in block.split(b"\n"):
                if pos >= len(block):
                    break
                e = parse_line(raw.decode("utf-8", "replace"))
                if e.ts is None:
                    e.ts = last_ts if last_ts is not None else before()
                else:
                    last_ts = e.ts
                if q.matches(e):
                    yield src.position(base + pos), e
                pos += len(raw) + 1
            return
        hay = block.lower() if reader.lower else block
        needle = reader.needle
        i = hay.find(needle)
        while i >= 0:
            start = hay.rfind(b"\n", 0, i) + 1
            stop = hay.find(b"\n", i)
            stop = len(block) if stop < 0 else stop
            raw = block[start:stop].decode("utf-8", "replace")
            if not q.terms or q.matches_text(raw.lower()):
                e = parse_line(raw)
                if e.ts is None:
                    e.ts = _time_in(block, start)
                    if e.ts is None:
                        e.ts = before()
                if q.matches(e):
                    yield src.position(base + start), e
            i = hay.find(needle, stop + 1)


class _TimeBefore:
    """The time of the last timestamped line before ``base`` in ``src``, read only if needed."""

    def __init__(self, src: _Source, base: int):
        self.src, self.base = src, base
        self.done, self.value = base == 0, None

    def __call__(self):
        if not self.done:
            self.done = True
            data = self.src.read(max(0, self.base - LOOK_BACK), self.base)
            self.value = _time_in(data, len(data) + 1, look=50)
        return self.value


def _time_in(block: bytes, start: int, look: int = 50) -> float | None:
    """The time of the nearest timestamped line before offset ``start`` in ``block``."""
    end = start - 1
    for _ in range(look):
        if end <= 0:
            return None
        begin = block.rfind(b"\n", 0, end) + 1
        ts = parse_line(block[begin:end].decode("utf-8", "replace")).ts
        if ts is not None:
            return ts
        end = begin - 1
    return None


def _first_time(block: bytes, look: int = 50) -> float | None:
    pos = 0
    for _ in range(look):
        if pos >= len(block):
            return None
        nl = block.find(b"\n", pos)
        nl = len(block) if nl < 0 else nl
        ts = parse_line(block[pos:nl].decode("utf-8", "replace")).ts
        if ts is not None:
            return ts
        pos = nl + 1
    return None


def seek_after(f, size: int, t: float) -> int:
    """A line start (or ``size``) at or after the last line with time <= ``t`` in a plain
    file whose lines are in time order: where reading backwards for --until starts."""
    lo, hi = 0, size
    while hi - lo > (1 << 16):
        mid = (lo + hi) // 2
        ts = _first_time(_read_at(f, mid, mid > 0))
        if ts is None or ts <= t:  # no time found: assume earlier (reading more is safe)
            lo = mid
        else:
            hi = mid
    if hi >= size:
        return size
    f.seek(hi)
    nl = f.read(1 << 16).find(b"\n")
    return min(size, hi + nl + 1) if nl >= 0 else size


def _read_at(f, offset: int, skip_partial: bool) -> bytes:
    """64 KiB from the first line starting at or after ``offset``."""
    f.seek(offset)
    data = f.read(1 << 16)
    if skip_partial:
        data = data[data.find(b"\n") + 1:] if b"\n" in data else b""
    return data


def locate(files: list[LogFile], pos: Position) -> tuple[int, int]:
    """(index in ``files``, offset) of a position: the file of that name if it is still the
    same inode, else the listed plain file with that inode (the live file renamed at
    midnight). Raises StalePosition when neither exists."""
    by_ino = None
    for i, lf in enumerate(files):
        try:
            ino = os.stat(lf.path).st_ino
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


def line_at(files: list[LogFile], pos: Position, gz_cache: GzIndexCache):
    """The entry whose line starts at ``pos`` (its time inherited as when it was listed), or
    raises StalePosition / ValueError (an offset that does not start a line)."""
    i, offset = locate(files, pos)
    src = _Source(files[i], gz_cache)
    try:
        if offset > src.size or (offset > 0 and src.read(offset - 1, offset) != b"\n"):
            raise ValueError("no line starts at this position")
        data = src.read(offset, min(src.size, offset + LINE_BOUND))
        nl = data.find(b"\n")
        raw = data if nl < 0 else data[:nl]
        e = parse_line(raw.decode("utf-8", "replace"))
        if e.ts is None:
            e.ts = _TimeBefore(src, offset)()
        return e
    finally:
        src.close()


def forward_from(files: list[LogFile], pos: Position, reader, gz_cache: GzIndexCache, emit) -> None:
    """Emit the matching entries of the file of ``pos`` from its offset to its end (what a
    renamed live file received after a page was read, before following the new one)."""
    i, offset = locate(files, pos)
    src = _Source(files[i], gz_cache)
    newest = Newest(reader, gz_cache)
    try:
        while offset < src.size:
            stop = min(src.size, offset + MAX_BLOCK)
            data = src.read(offset, stop)
            cut = data.rfind(b"\n") + 1 if stop < src.size else len(data)
            if cut == 0:
                cut = len(data)  # a line longer than MAX_BLOCK: cut into pieces
            for _, e in newest._matches(src, offset, data[:cut]):
                emit(e)
            offset += cut
    finally:
        src.close()
