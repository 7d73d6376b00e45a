"""``--format json``: make every output line one JSON object.

A line that already is a JSON object (as Cells writes in production mode) passes
byte for byte; any other line (a Go panic, a stray print, broken JSON, an array, a
blank line) is wrapped as::

    {"level":"info","ts":"<RFC3339>","logger":"<program>","msg":"<line>"}

Speed: a whole chunk of lines is validated in one call to msgspec's C decoder
(objects with no declared fields, so values are checked but not built). Only a
chunk that fails is looked at line by line.
"""

from __future__ import annotations

import json

import msgspec


class _AnyObject(msgspec.Struct):
    """Matches any JSON object; unknown fields are validated and skipped, not kept."""




class JsonGuard:
    """Turns a block of complete lines into lines that are each one JSON object.

    ``logger``: the value of ``logger`` in wrapped lines (the program's name).
    ``clock``: a :class:`cellsrun.clock.Clock`, for ``ts`` of wrapped lines.
    """

    def __init__(self, logger: str, clock):
        self._lines = msgspec.json.Decoder(_AnyObject)
        self._logger = json.dumps(logger)
        self._clock = clock

    def is_object(self, line: bytes) -> bool:
        """True if ``line`` (no newline) is exactly one JSON object in valid UTF-8."""
        try:
            self._lines.decode(line)
            line.decode("utf-8")
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            return False
        return True

    def wrap(self, line: bytes, t: float) -> bytes:
        """``line`` (no newline) as the message of a new JSON object line.

        Invalid UTF-8 is kept visible as ``\\xNN`` text rather than dropped.
        """
        msg = json.dumps(line.decode("utf-8", "backslashreplace"), ensure_ascii=False)
        return (f'{{"level":"info","ts":"{self._clock.rfc3339(t)}",'
                f'"logger":{self._logger},"msg":{msg}}}\n').encode("utf-8")

    def check(self, buf, end: int, t: float):
        """The lines in ``buf[:end]`` (complete, ending in a newline), every line that is
        not a JSON object wrapped. ``buf`` is a bytes or bytearray. Returns a view of
        ``buf`` itself when all lines are objects (the common case, no copy)."""
        view = memoryview(buf)[:end]
        try:
            # msgspec's decode_lines skips blank lines and accepts two objects on one
            # line ('{}{}'), so a count of objects alone could be fooled by one of each.
            # Also requiring every line to start with '{' rules blank lines out.
            n = len(self._lines.decode_lines(view))
            if (n == buf.count(b"\n", 0, end) and buf[0] == 0x7B
                    and n == buf.count(b"\n{", 0, end) + 1):
                str(view, "utf-8")
                return view
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            pass
        out = []
        for line in bytes(view).split(b"\n")[:-1]:
            out.append(line + b"\n" if self.is_object(line) else self.wrap(line, t))
        return b"".join(out)
