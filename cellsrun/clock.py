"""The wall clock and the calendar: which day an instant belongs to, when the next day starts.

Every time-dependent part of cellsrun takes a :class:`Clock` instance, so tests can
replace ``now`` with a fake and ``tz`` with a named zone; nothing reads the time
through module globals.
"""

from __future__ import annotations

import datetime as _dt
import math
import time


class Clock:
    """Wall time plus a time zone.

    ``tz``: a ``tzinfo`` (e.g. ``zoneinfo.ZoneInfo("Europe/Paris")``), or None for the
    process's local zone as the C library sees it (so ``TZ`` is honoured, POSIX
    strings such as ``XYZ-05:23:17`` included). ``now``: returns seconds since the
    epoch (default ``time.time``).
    """

    def __init__(self, tz: _dt.tzinfo | None = None, now: Callable[[], float] = time.time):
        self.tz = tz
        self.now = now

    @classmethod
    def utc(cls, now: Callable[[], float] = time.time) -> "Clock":
        return cls(_dt.timezone.utc, now)

    def local(self, t: float) -> _dt.datetime:
        """The aware local datetime of epoch ``t``."""
        if self.tz is None:
            return _dt.datetime.fromtimestamp(t).astimezone()
        return _dt.datetime.fromtimestamp(t, self.tz)

    def day_of(self, t: float) -> _dt.date:
        """The local calendar date of epoch ``t``."""
        if self.tz is None:
            return _dt.date.fromtimestamp(t)
        return _dt.datetime.fromtimestamp(t, self.tz).date()

    def today(self) -> _dt.date:
        return self.day_of(self.now())

    def next_day_start(self, day: _dt.date, after: float) -> float:
        """The first whole second at or after ``after`` whose local date is later than ``day``.

        Searched rather than computed, so it is right on 23 h and 25 h days, in zones
        whose midnight does not exist (the day then starts at 01:00) and for offsets
        with seconds; every zone offset is a whole number of seconds, so day
        boundaries fall on whole seconds. If the local date goes back (a DST change
        at midnight) the first forward crossing is returned.
        """
        lo = math.floor(after)
        if self.day_of(lo) > day:
            return float(lo)
        step = 3600
        hi = lo + step
        while self.day_of(hi) <= day:
            lo, hi = hi, hi + step
            if hi - lo >= 48 * 3600 or hi - after > 48 * 3600:
                step *= 2  # ``day`` far ahead (the clock went back): gallop, do not crawl
        while hi - lo > 1:  # day_of(lo) <= day < day_of(hi)
            mid = (lo + hi) // 2
            if self.day_of(mid) > day:
                hi = mid
            else:
                lo = mid
        return float(hi)

    def rfc3339(self, t: float) -> str:
        """``2026-11-28T01:03:45.123+01:00`` (``Z`` in UTC), as Cells writes ``ts``."""
        text = self.local(t).isoformat(timespec="milliseconds")
        return text[:-6] + "Z" if text.endswith("+00:00") and self.tz is _dt.timezone.utc else text
