"""One log file read by ranges of its content, as the reader cuts it into lines: what the page
(:mod:`newest`) reads newest first and by position.

A :class:`Source` is opened by :func:`files.open_log` (regular files only) and reads a plain
file with ``pread``, a ``.gz`` archive through its index (:mod:`gzindex`: the reader's own
inflating, ending where the reader's gunzip ends, with its reason in ``error``). It knows where
the reader starts lines: after a newline, or at a cut of a line over 1 MiB (the line's start
plus k MiB, :func:`lines.cut`), and finds the start of a long line when reading backwards.
"""

from __future__ import annotations

import os
from collections import namedtuple

from cellsrun.browse.entries import parse_line
from cellsrun.browse.files import LogFile, open_log
from cellsrun.browse.gzindex import GzIndexCache
from cellsrun.browse.lines import MAX_LINE, cut

FIRST_BLOCK = 64 << 10
MAX_BLOCK = 4 << 20
SCAN = 1 << 20           # bytes read at a time when scanning back for the start of a long line
LOOK_BACK = 16 << 20     # how far back the time of "the line before" is looked for

Position = namedtuple("Position", "name ino offset")



def skipped(path: str, e: Exception) -> str:
    """The reader's warning for a file it cannot read (same words as `cellsrun logs`)."""
    return f"skipped {path}: {e.strerror or e if isinstance(e, OSError) else e}"


class Source:
    """One file opened by :func:`files.open_log` (FileNotFoundError, :class:`Unreadable`),
    read by ranges of its content: plain bytes, or a ``.gz`` archive's through its index.
    ``error``: why an archive's content ends early (the reader's words), else None."""

    def __init__(self, lf: LogFile, gz_cache: GzIndexCache):
        self.lf = lf
        self.f = open_log(lf.path)
        try:
            st = os.fstat(self.f.fileno())
            self.ino = st.st_ino
            self.name = os.path.basename(lf.path)
            self.index = gz_cache.get(self.f) if lf.compressed else None
        except BaseException:
            self.f.close()
            raise
        self.size = self.index.size if self.index is not None else st.st_size
        self.error = self.index.error if self.index is not None else None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()

    def close(self) -> None:
        self.f.close()

    def read(self, start: int, stop: int) -> bytes:
        if self.index is not None:
            return self.index.read(self.f, start, stop)
        return os.pread(self.f.fileno(), max(0, min(stop, self.size) - start), start)

    def position(self, offset: int) -> Position:
        return Position(self.name, self.ino, offset)

    def line_start(self, offset: int) -> int:
        """Just after the last newline before ``offset`` (0 if none)."""
        if self.index is not None:
            return self.index.line_start(self.f, offset)
        end = offset
        while end > 0:
            start = max(0, end - SCAN)
            r = self.read(start, end).rfind(b"\n")
            if r >= 0:
                return start + r + 1
            end = start
        return 0

    def boundary(self, offset: int) -> int:
        """The last place at or before ``offset`` where the reader starts a line: a line's
        start, or a cut in a long line (its start + k * MAX_LINE)."""
        start = self.line_start(offset)
        return start + (offset - start) // MAX_LINE * MAX_LINE

    def head(self) -> int:
        """Where the lines the reader shows end: for the live file, before a last line that is
        still being written (its complete 1 MiB pieces included, as the reader cuts them);
        for an archive, the end of its content (a last line without newline is shown)."""
        if not self.lf.live or self.size == 0:
            return self.size
        tail = self.read(max(0, self.size - FIRST_BLOCK), self.size)
        r = tail.rfind(b"\n")
        if r == len(tail) - 1:
            return self.size
        start = self.size - len(tail) + r + 1 if r >= 0 else self.line_start(self.size - len(tail))
        return start + (self.size - start - 1) // MAX_LINE * MAX_LINE

    def block_before(self, end: int, size: int) -> tuple[int, bytes, list[int]]:
        """The lines (as the reader cuts them) ending at ``end`` — a place where a line starts
        or was cut, or the end of the content — about ``size`` bytes of them, at least one:
        (where they start, the cut bytes, the indexes of the inserted newlines; see
        :func:`lines.cut`)."""
        lo = max(0, end - size)
        data = self.read(lo, end)
        if lo > 0:
            nl = data.find(b"\n")
            if 0 <= nl < len(data) - 1:
                lo, data = lo + nl + 1, data[nl + 1:]
            else:  # no line starts in view: start from the cut before ``lo`` in the long line
                lo = self.boundary(lo)
                data = self.read(lo, end)
        block, inserted = cut(data)
        if block and block[-1:] != b"\n":
            block += b"\n"  # a piece, or an archive's last line
        return lo, block, inserted

    def block_after(self, start: int, size: int) -> tuple[int, bytes, list[int]]:
        """The lines from ``start`` (where one starts or was cut), about ``size`` bytes of them,
        up to :meth:`head` at most: (where they end, the cut bytes, inserted newlines)."""
        head = self.head()
        stop = min(head, start + max(size, MAX_LINE + 1))
        data = self.read(start, stop)
        block, inserted = cut(data)
        if stop < head:
            # keep whole lines: up to the last newline, or the last cut if that is later
            last_nl = block.rfind(b"\n") + 1
            block = block[:last_nl]
            inserted = [i for i in inserted if i < last_nl]
            stop = start + last_nl - len(inserted)
        elif block and block[-1:] != b"\n":
            block += b"\n"
        return stop, block, inserted

    def time_before(self, offset: int) -> float | None:
        """The time of the nearest line with a time of its own before ``offset`` in this file
        (looked for up to LOOK_BACK bytes back), or None: the reader's "time of the line before"."""
        end, size = offset, FIRST_BLOCK
        while end > 0 and offset - end < LOOK_BACK:
            start, block, _ = self.block_before(end, size)
            t = last_time(block)
            if t is not None:
                return t
            end, size = start, min(size * 4, MAX_BLOCK)
        return None


def lines_back(block: bytes):
    """The lines of a block (ending with a newline), last first."""
    end = len(block) - 1
    while end >= 0:
        begin = block.rfind(b"\n", 0, end) + 1
        yield block[begin:end]
        end = begin - 1


def last_time(block: bytes, look: int | None = None) -> float | None:
    for n, raw in enumerate(lines_back(block)):
        if look is not None and n >= look:
            return None
        ts = parse_line(raw.decode("utf-8", "replace")).ts
        if ts is not None:
            return ts
    return None


def first_time(block: bytes, look: int = 50) -> float | None:
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
