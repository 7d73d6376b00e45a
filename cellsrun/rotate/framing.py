"""Line framing for the read path: complete lines go out, a partial last line waits.

Used for ``--format json`` (every line must be checked whole), for ``--stamp`` (every
line gets its arrival time) and for input that is not a pipe. Input is read straight into
one fixed buffer (``chunk + max_line`` bytes), so memory stays bounded and a chunk is never
copied on its way through.

Each line carries the time of the read that brought its first byte: a line whose start
waited in the buffer for its end is given the earlier time (so a line under way at midnight,
finished in the old file, keeps a time of the old day).
"""

from __future__ import annotations

import os


class LineFramer:
    """Writes whole lines through ``guard`` to ``write``, holding back a partial last line.

    ``guard``: a :class:`cellsrun.rotate.jsonguard.JsonGuard` or a
    :class:`cellsrun.rotate.stamp.Stamper`: ``check(buf, end, t, first)`` turns a block of
    complete lines into what is written, ``piece(line, t)`` one line without its newline.
    ``write(bytes-like)``: the rotator's write. ``now()``: the wall clock, when a caller
    gives no time. ``max_line``: bytes; a line that long without a newline is cut and
    written as a piece. ``chunk``: bytes read at most per call (never more than ``max_line``).
    """

    def __init__(self, guard, write: Callable, now: Callable[[], float], *,
                 max_line: int, chunk: int):
        self.guard = guard
        self.write = write
        self.now = now
        self.max_line = max_line
        self.chunk = min(chunk, max_line)
        self._buf = bytearray(self.chunk + max_line)
        self._mv = memoryview(self._buf)
        self._n = 0  # bytes of a line started but not ended, at the buffer's front
        self._since = 0.0  # when the first of those bytes was read

    @property
    def pending(self) -> int:
        """Bytes of a partial line held back."""
        return self._n

    def read_from(self, fd: int, t: float | None = None) -> int | None:
        """Read once from ``fd`` and write the complete lines; returns the bytes read
        (0 at end of input), or None if nothing can be read now. ``t``: the time the bytes
        arrived (the pump's, taken when it checked the day; default now)."""
        try:
            got = os.readv(fd, [self._mv[self._n:self._n + self.chunk]])
        except BlockingIOError:
            return None
        if got:
            self._add(got, self.now() if t is None else t)
        return got

    def feed(self, data) -> None:
        """Take bytes that were read elsewhere (just now)."""
        view = memoryview(data)
        t = self.now()
        while view:
            piece = view[:self.chunk]
            self._buf[self._n:self._n + len(piece)] = piece
            self._add(len(piece), t)
            view = view[len(piece):]

    def cut(self) -> None:
        """Write the partial line now, as a line of its own (end of input, or a stop)."""
        if self._n:
            self.write(self.guard.piece(bytes(self._mv[:self._n]), self._since))
            self._n = 0

    def _add(self, got: int, t: float) -> None:
        """``got`` bytes read at ``t`` now follow the held-back ones: write the complete lines."""
        first = self._since if self._n else t  # the time of the line that continues the held part
        self._n += got
        # Only the line that continues the held-back part can be longer than max_line:
        # a read is at most chunk <= max_line bytes.
        limit = self.max_line
        while self._n > limit and self._buf.find(b"\n", 0, limit + 1) < 0:
            self.write(self.guard.piece(bytes(self._mv[:limit]), first))
            self._shift(limit)
            first = t
        cut = self._buf.rfind(b"\n", 0, self._n) + 1
        if cut:
            self.write(self.guard.check(self._buf, cut, t, first))
            self._shift(cut)
            first = t
        self._since = first  # what is left started in this read, unless nothing was written

    def _shift(self, k: int) -> None:
        """Drop the first ``k`` bytes (written), keeping the rest at the front."""
        rest = self._n - k
        if rest:  # copy first: source and target may overlap
            self._buf[:rest] = bytes(self._mv[k:self._n])
        self._n = rest
