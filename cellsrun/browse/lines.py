"""Bytes into lines, with a bound: how the browser cuts what it reads into lines.

A line longer than MAX_LINE bytes (the rotator's ``--max-line``, 1 MiB) is cut while reading
into pieces of MAX_LINE bytes, each a line of its own (shown as a message, like any line that
is no entry): a newline is inserted after each piece. Cuts fall at the line's start plus
k * MAX_LINE, wherever reading started or however the bytes came in chunks, so every reader
(the pure-Python scan, and grep fed through :class:`LineCutter`) sees the same lines. Nothing
ever holds more than MAX_LINE bytes of one line, so memory is bounded and time linear whatever
the file: a gigabyte without a newline, or a gzip bomb.

Offsets (``pos``) always count the file's own bytes (or a ``.gz`` archive's decompressed
bytes); an inserted newline takes no room there.
"""

from __future__ import annotations

import os

from cellsrun.defaults import MAX_LINE_BYTES

MAX_LINE = MAX_LINE_BYTES


class LineCutter:
    """Finds where newlines are to be inserted into a stream, chunk by chunk (state: the length
    of the line under way at the end of the last chunk)."""

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self.run = 0  # bytes of the line under way (since the last newline or cut)

    def cuts(self, data: bytes) -> list[int]:
        """Offsets in ``data`` after which a newline is inserted (increasing; one may be
        ``len(data)``). Steps a window of max_line + 1 bytes from line start to line start,
        looking for its last newline from the right: a few hundred bytes per MiB are looked at
        when lines are short, so the check is nearly free."""
        m = self.max_line
        n = len(data)
        s = -self.run  # start of the line under way, relative to data (<= 0)
        out = []
        while n - s > m:
            q = data.rfind(b"\n", max(s, 0), s + m + 1)
            if q >= 0:
                s = q + 1
            else:
                s += m
                out.append(s)
        r = data.rfind(b"\n", max(s, 0))
        self.run = n - (r + 1 if r >= 0 else s)
        return out


def whole_lines(chunks, start: int = 0, complete_last: bool = False, max_line: int = MAX_LINE):
    """Re-cut byte ``chunks`` into blocks that end on a newline, over-long lines cut into
    pieces; yields (block, offset after it). A partial last line is left out (a live file: the
    rotator is still writing it), or with ``complete_last`` given a newline (an archive's last
    line; also when ``chunks`` raises, before the error goes on). The carry between chunks is
    at most ``max_line`` bytes, so time stays linear."""
    cutter = LineCutter(max_line)
    pos = start  # offset of the first byte of ``carry``
    carry = b""
    chunks = iter(chunks)
    while True:
        try:
            data = next(chunks, None)
        except Exception:
            # Damage ends the input early (a broken .gz): the line under way is given as it
            # is, as grep, fed the same bytes by cut_stream, shows it; then the error goes on.
            if carry and complete_last:
                yield carry + b"\n", pos + len(carry)
            raise
        if data is None:
            break
        cuts = cutter.cuts(data)
        used = data.rfind(b"\n") + 1
        if cuts:
            used = max(used, cuts[-1])  # a cut at 0 ends the carried line: still a block
        elif not used:
            carry += data  # under max_line bytes in all, or there would be a cut
            continue
        if cuts:
            parts, prev = [carry], 0
            for c in cuts:
                parts += (data[prev:c], b"\n")
                prev = c
            parts.append(data[prev:used])
            block = b"".join(parts)
        else:
            block = carry + data[:used] if carry else data[:used]
        pos += len(carry) + used
        carry = data[used:]
        data = None  # not held while the block is used
        yield block, pos
    if carry and complete_last:
        yield carry + b"\n", pos + len(carry)


def cut_stream(chunks, write, complete_last: bool = True, max_line: int = MAX_LINE) -> None:
    """Pass byte ``chunks`` to ``write`` with a newline inserted after each piece of an
    over-long line (the bytes themselves are not copied: memoryview slices)."""
    cutter = LineCutter(max_line)
    for data in chunks:
        prev = 0
        view = memoryview(data)
        for c in cutter.cuts(data):
            write(view[prev:c])
            write(b"\n")
            prev = c
        if prev < len(data):
            write(view[prev:])
    if complete_last and cutter.run:
        write(b"\n")


def fits(fd: int, size: int, max_line: int = MAX_LINE) -> bool:
    """Whether no line among the first ``size`` bytes of ``fd`` is longer than ``max_line``
    (then nothing needs cutting). Reads one small piece per ``max_line`` bytes of the file
    while lines are short (the end of each window, searched from the right)."""
    s = 0
    while size - s > max_line:
        hi = s + max_line + 1
        q = -1
        while hi > s and q < 0:
            lo = max(s, hi - (16 << 10))
            piece = os.pread(fd, hi - lo, lo)
            if len(piece) < hi - lo:
                return False  # shorter than it was: let the cutting reader decide
            q = piece.rfind(b"\n")
            if q >= 0:
                q += lo
            hi = lo
        if q < 0:
            return False
        s = q + 1
    return True


def cut(data: bytes, max_line: int = MAX_LINE) -> tuple[bytes, list[int]]:
    """``data``, which starts where a line starts or was cut, with a newline inserted where
    the reader cuts (as :func:`whole_lines` does), and the indexes of the inserted newlines in
    the result, increasing (none: ``data`` itself is returned). A line that starts at index
    ``j`` of the result starts at ``j - bisect_left(inserted, j)`` of ``data``."""
    cuts = LineCutter(max_line).cuts(data)
    if not cuts:
        return data, []
    parts, prev = [], 0
    for c in cuts:
        parts += (data[prev:c], b"\n")
        prev = c
    parts.append(data[prev:])
    return b"".join(parts), [c + k for k, c in enumerate(cuts)]
