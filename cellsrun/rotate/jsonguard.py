"""``--format json``: make every output line one JSON object.

A line that already is a JSON object (as Cells writes in production mode) passes
byte for byte; any other line (a Go panic, a stray print, broken JSON, an array, a
blank line) is wrapped as::

    {"level":"info","ts":"<RFC3339>","logger":"<program>","msg":"<line>"}

Speed: a whole chunk of lines is validated in one call to msgspec's C decoder
(objects with no declared fields, so values are checked but not built). A chunk that
fails (one stray line among thousands is enough) is not redone line by line: the lines
that do not start with ``{`` (a panic, a print, a blank line) are found by one regex scan
and judged each on its own, and the runs of lines between them are validated as blocks
again. A run that still fails is split where msgspec says the error
is, or in halves, down to RUN_MIN lines, which are judged one by one. Whatever the path,
each line is judged exactly as :meth:`JsonGuard.is_object` judges it alone (tested: same
bytes).
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring  # what json.dumps(text, ensure_ascii=False) calls

import msgspec

RUN_MIN = 64  # a failing run of at most this many lines is judged line by line

# A newline followed by something other than "{": the next line is not an object as Cells
# writes them. The pattern starts with a literal, so the scan jumps from newline to newline
# at C speed (0.35 ms a MiB; lines not ending in "}" would take a scan ten times slower,
# and are rare: a run holding one fails, and is split where msgspec says).
_NOT_OPENED = re.compile(rb"\n(?=[^{])")
_AT_BYTE = re.compile(r"\(byte (\d+)\)")


class _AnyObject(msgspec.Struct):
    """Matches any JSON object; unknown fields are validated and skipped, not kept."""




class JsonGuard:
    """Turns a block of complete lines into lines that are each one JSON object.

    ``logger``: the value of ``logger`` in wrapped lines (the program's name).
    ``clock``: a :class:`cellsrun.clock.Clock`, for ``ts`` of wrapped lines.
    ``max_line``: bytes (None: no bound); no wrapped line, newline excluded, is longer. Escaping
    lengthens text (a control character takes six bytes), so a line near the bound — a piece
    of a cut line is exactly at it — is wrapped as several objects, its text split in order.
    """

    def __init__(self, logger: str, clock, max_line: int | None = None):
        self._lines = msgspec.json.Decoder(_AnyObject)
        self._logger = json.dumps(logger)
        self._clock = clock
        self._max_line = max_line
        self._head_t = None  # the time of the cached start of wrapped lines
        self._head = ""

    def is_object(self, line: bytes) -> bool:
        """True if ``line`` (no newline) is exactly one JSON object in valid UTF-8.

        A line the decoder cannot judge (nested deeper than it recurses, or anything
        else it raises) is not an object: it is wrapped, never fatal.
        """
        try:
            self._lines.decode(line)
            line.decode("utf-8")
        except Exception:  # noqa: BLE001 - hostile input must never stop the rotator
            return False
        return True

    def wrap(self, line: bytes, t: float) -> bytes:
        """``line`` (no newline) as the message of a new JSON object line.

        Invalid UTF-8 is kept visible as ``\\xNN`` text rather than dropped.
        """
        if t != self._head_t:  # a block's lines share their time: formatted once
            self._head = (f'{{"level":"info","ts":"{self._clock.rfc3339(t)}",'
                          f'"logger":{self._logger},"msg":')
            self._head_t = t
        out = (self._head + encode_basestring(line.decode("utf-8", "backslashreplace"))
               + "}\n").encode("utf-8")
        if self._max_line is None or len(out) <= self._max_line + 1 or len(line) < 2:
            return out
        # Too long once escaped: the two halves, each wrapped (and split again if need be),
        # cut between characters so that none is torn into two invalid halves.
        half = len(line) // 2
        while 0 < half < len(line) - 1 and 0x80 <= line[half] < 0xC0:
            half += 1
        return self.wrap(line[:half], t) + self.wrap(line[half:], t)

    def piece(self, line: bytes, t: float) -> bytes:
        """One line without its newline (a piece of a long line, a partial last line),
        ended: as it is if it is an object, else wrapped."""
        return line + b"\n" if self.is_object(line) else self.wrap(line, t)

    def check(self, buf, end: int, t: float, first: float | None = None):
        """The lines in ``buf[:end]`` (complete, ending in a newline), every line that is
        not a JSON object wrapped (``ts``: ``t``; ``first``, the time the first line
        started, is not used). ``buf`` is a bytes or bytearray. Returns a view of
        ``buf`` itself when all lines are objects (the common case, no copy)."""
        view = memoryview(buf)[:end]
        if self._all_objects(buf, view, 0, end):
            return view
        out = []
        self._sort(buf, view, 0, end, t, out)
        return b"".join(out)

    def _all_objects(self, buf, view, start: int, stop: int) -> bool:
        """Whether every line of ``buf[start:stop]`` (complete lines) is one JSON object."""
        try:
            # msgspec's decode_lines reads a stream of objects, not lines: it skips blank
            # lines, accepts two objects on one line ('{}{}') and one object over two
            # ('{"x":' + '{}}'), so a count of objects alone can be fooled. The block
            # passes only if, besides, every line starts with '{' and ends with '}' (the
            # first and last bytes, and n - 1 times '}\n{' for n newlines): an object
            # cannot go on past a '}' that ends a line into a '{' that starts the next
            # ('}{' is never valid inside one), so each line then holds one object.
            # (One 3-byte count is cheaper than two 2-byte ones: 1.7 vs 1.3 GB/s each.)
            n = len(self._lines.decode_lines(view[start:stop]))
            if (n == buf.count(b"\n", start, stop) and buf[start] == 0x7B and buf[stop - 2] == 0x7D
                    and n == buf.count(b"}\n{", start, stop) + 1):
                str(view[start:stop], "utf-8")
                return True
        except Exception:  # noqa: BLE001 - too deep, broken, anything: judged in parts
            pass
        return False

    def _sort(self, buf, view, start: int, stop: int, t: float, out: list) -> None:
        """Append to ``out`` the lines of ``buf[start:stop]``, which failed as a block:
        the lines not starting with ``{`` one by one, the runs between them as blocks."""
        odd = [m.end() for m in _NOT_OPENED.finditer(buf, start, stop)]  # their starts
        if buf[start] != 0x7B:
            odd.insert(0, start)
        run = start  # start of the run of lines not yet written
        for line in odd:
            if line > run:
                self._run(buf, view, run, line, t, out)
            nl = buf.find(b"\n", line, stop)
            self._one(view, line, nl, t, out)
            run = nl + 1
        if run < stop:
            self._run(buf, view, run, stop, t, out)

    def _run(self, buf, view, start: int, stop: int, t: float, out: list) -> None:
        """Lines starting with "{": as one block if it passes, else split where msgspec found
        the error (that line alone, the rest as runs again), else in halves."""
        while start < stop:
            if self._all_objects(buf, view, start, stop):
                out.append(view[start:stop])
                return
            if buf.count(b"\n", start, stop) <= RUN_MIN:
                for line in bytes(view[start:stop]).split(b"\n")[:-1]:
                    out.append(line + b"\n" if self.is_object(line) else self.wrap(line, t))
                return
            bad = self._error_at(view, start, stop)
            if bad is None:  # no position (a count that does not add up): halves
                mid = buf.rfind(b"\n", start, (start + stop) // 2) + 1 or buf.find(b"\n", start) + 1
                self._run(buf, view, start, mid, t, out)
                start = mid
                continue
            line = buf.rfind(b"\n", start, bad) + 1 or start
            if line > start:
                self._run(buf, view, start, line, t, out)
            nl = buf.find(b"\n", line, stop)
            self._one(view, line, nl, t, out)
            start = nl + 1

    def _error_at(self, view, start: int, stop: int) -> int | None:
        """The offset in the buffer of the byte msgspec stops at in ``view[start:stop]``,
        if it says so (a syntax error does; a wrong type or a count does not)."""
        try:
            self._lines.decode_lines(view[start:stop])
        except msgspec.DecodeError as e:
            m = _AT_BYTE.search(str(e))
            if m and int(m.group(1)) < stop - start:
                return start + int(m.group(1))
        except Exception:  # noqa: BLE001 - too deep and the like: no position
            pass
        return None

    def _one(self, view, start: int, nl: int, t: float, out: list) -> None:
        line = bytes(view[start:nl])
        out.append(view[start:nl + 1] if self.is_object(line) else self.wrap(line, t))
