"""``--stamp``: begin each line with the time the rotator received it.

The stamp is RFC 3339 with microseconds and the local offset (``Z`` with ``--utc``), then
one space, before the line's own bytes, which are left as they are::

    2026-11-28T01:03:45.123456+01:00 the service's line

as s6-log's ``T`` and svlogd's ``-tt`` prefix theirs. Microseconds, the offset and the
single space are what tell a stamp from a service's own time (Cells writes milliseconds and
a tab): see :mod:`cellsrun.browse.entries`. An offset with seconds, which only a POSIX ``TZ``
string gives (``XYZ-05:23:17``), is written ``+05:23:17``: RFC 3339 has no form for it.

A stamp always falls in the day of the file its line goes to: the time is that of the read
that brought the line's first byte (the pump reads only while the rotator's day lasts), cut
down to whole microseconds (never rounded up into the next day), and at most the last
microsecond of the live file's day (a line finished in the old file after midnight, as a
rotation does, keeps the old day). The one exception is a clock set back over midnight: the
file's day never goes back (see the rotator), the stamp shows what the clock said.
"""

from __future__ import annotations

import datetime as _dt
import math


class Stamper:
    """Prefixes lines with their arrival time; the same interface as
    :class:`cellsrun.rotate.jsonguard.JsonGuard`, so :class:`cellsrun.rotate.framing.LineFramer`
    takes either.

    ``clock``: a :class:`cellsrun.clock.Clock` (its zone: local, or UTC with ``--utc``).
    ``day_end()``: the epoch second at which the live file's day ends (the rotator's
    ``next_rotation``); no stamp reaches it.
    """

    def __init__(self, clock, day_end=lambda: math.inf):
        self.clock = clock
        self.day_end = day_end
        self._second = None   # the whole second whose text is cached, and that text
        self._head = ""
        self._tail = ""       # the offset and the space

    def stamp(self, t: float) -> bytes:
        """The stamp of epoch ``t`` (with its space), as bytes."""
        end = self.day_end()
        if t >= end:
            t = end - 1e-6
        micros = math.floor(t * 1e6)
        second, micro = divmod(micros, 1_000_000)
        if second != self._second:
            local = self.clock.local(second)
            text = local.isoformat(timespec="seconds")   # 2026-11-28T01:03:45+01:00
            head, offset = text[:19], text[19:]
            if offset == "+00:00" and self.clock.tz is _dt.timezone.utc:
                offset = "Z"
            self._second, self._head, self._tail = second, head, offset + " "
        return f"{self._head}.{micro:06d}{self._tail}".encode()

    def check(self, buf, end: int, t: float, first: float | None = None) -> bytes:
        """The complete lines of ``buf[:end]``, each with a stamp: the first line's from
        ``first`` (when its first bytes came in an earlier read), the others' from ``t``."""
        s = self.stamp(t)
        block = bytes(memoryview(buf)[:end - 1])  # without the last newline
        if first is None or first == t:
            return s + block.replace(b"\n", b"\n" + s) + b"\n"
        nl = block.find(b"\n")
        if nl < 0:
            return self.stamp(first) + block + b"\n"
        return (self.stamp(first) + block[:nl + 1] + s
                + block[nl + 1:].replace(b"\n", b"\n" + s) + b"\n")

    def piece(self, line: bytes, t: float) -> bytes:
        """One line (without its newline: a piece of a long line, or a partial last line),
        stamped and ended."""
        return self.stamp(t) + line + b"\n"
