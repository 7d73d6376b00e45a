"""What `cellsrun logs` selects: filters combined with AND, and the time expressions they take.

Times given without an offset are local (TZ honoured). A date alone means its whole day:
``--since 2026-11-27`` starts at its first instant, ``--until 2026-11-27`` ends at its last.
A time alone (``05:29:38``) is that time today. Every time a query holds lies within
FIRST_DAY..LAST_DAY (local): :func:`build_query` refuses any other with a ValueError, once for
the terminal and the page, so no later step (a day range, a file's day) can overflow.
"""

from __future__ import annotations

import datetime as _dt
import math
import re

from cellsrun.browse.entries import LEVELS, RANK
from cellsrun.defaults import AROUND_MINUTES

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_LEVEL_SPEC = re.compile(r"^(>=|<=|>|<|=)?\s*([a-z]+)$")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?$")
# The days a time may fall on: a day after LAST_DAY has no next day to end it (datetime
# stops at 9999-12-31), and before FIRST_DAY a local offset can reach year 0.
FIRST_DAY = _dt.date(1, 1, 2)
LAST_DAY = _dt.date(9999, 12, 30)
FORMS = ("a date 2026-11-27, today or yesterday; a date and time 2026-11-27T13:30[:00[.123]] "
         "(or with a space), local, or with an offset Z, +01:00 or +0100; a time of today "
         "13:30[:00]; now; or an age 90s, 30m, 2h, 3d, 1w")


def parse_day(text: str, now: float) -> _dt.date:
    """``YYYY-MM-DD``, ``today`` or ``yesterday`` (local)."""
    today = _dt.date.fromtimestamp(now)
    if text == "today":
        return today
    if text == "yesterday":
        return today - _dt.timedelta(days=1)
    try:
        day = _dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid date {text!r} (expected YYYY-MM-DD, today or yesterday)") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(_out_of_range(text))
    return day


def _out_of_range(text: str) -> str:
    return f"time {text!r} is out of range (dates from {FIRST_DAY} to {LAST_DAY})"


def parse_moment(text: str, now: float, end_of_day: bool = False) -> float:
    """Epoch seconds of ``text`` (see FORMS): ISO date or datetime (offset optional, local
    without one), a time of today (``13:30``, ``05:29:38``), ``today``/``yesterday``, ``now``,
    or relative to now: ``30m``, ``2h``, ``3d``, ``1w``, ``90s``. A bare date is its first
    instant, or with ``end_of_day`` its last (for inclusive ends). Raises ValueError naming
    ``text`` if it is none of these, or falls outside FIRST_DAY..LAST_DAY."""
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        return check_time(now - float(m.group(1)) * _UNIT[m.group(2)], text)
    if text == "now":
        return check_time(now, text)
    if text in ("today", "yesterday") or re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        start, last = day_bounds(parse_day(text, now))
        return last if end_of_day else start
    m = _TIME_OF_DAY.match(text)
    try:
        if m:
            h, mi, sec, frac = m.groups()
            at = _dt.time(int(h), int(mi), int(sec or 0), int((frac or "0").ljust(6, "0")))
            moment = _dt.datetime.combine(_dt.date.fromtimestamp(now), at)
        else:
            moment = _dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"invalid time {text!r} (expected {FORMS})") from None
    try:
        t = moment.timestamp()
    except (OverflowError, OSError, ValueError):  # a local offset pushes it past year 1 or 9999
        raise ValueError(_out_of_range(text)) from None
    return check_time(t, text)


def check_time(t: float, text: str) -> float:
    """``t`` if it is a finite time within FIRST_DAY..LAST_DAY (local), else a ValueError
    naming ``text``."""
    try:
        ok = math.isfinite(t) and FIRST_DAY <= _dt.date.fromtimestamp(t) <= LAST_DAY
    except (OverflowError, OSError, ValueError):
        ok = False
    if not ok:
        raise ValueError(_out_of_range(text))
    return t


def parse_level(text: str) -> tuple[str, int]:
    """``error`` -> ("=", rank); ``>=warn`` -> (">=", rank). Unknown levels are refused."""
    m = _LEVEL_SPEC.match(text.strip().lower())
    if not m or m.group(2) not in RANK:
        raise ValueError(f"invalid level {text!r} (one of {', '.join(LEVELS)}, optionally "
                         f"prefixed by >=, >, <=, <)")
    return m.group(1) or "=", RANK[m.group(2)]


class Query:
    """The filters. ``terms``: full-text words, all must appear (case-insensitive, ASCII);
    ``since``/``until``: epoch seconds, inclusive, or None; ``level``: (op, rank) or None;
    ``service``: substring of the logger (case-insensitive); ``user``, ``ip``: exact."""

    def __init__(self, terms=(), since=None, until=None, level=None, service=None, user=None, ip=None):
        self.terms = [t.lower() for t in terms if t]
        self.since = since
        self.until = until
        self.level = level
        self.service = service.lower() if service else None
        self.user = user
        self.ip = ip
        self._days = {}  # day -> whether the period holds it whole (see matches)

    def day_range(self) -> tuple[_dt.date | None, _dt.date | None]:
        """The local days whose files can hold matches (the rotator files a line under the day
        it received it, so an entry of day D may sit at the start of D+1's file)."""
        first = _dt.date.fromtimestamp(self.since) if self.since is not None else None
        last = (_dt.date.fromtimestamp(self.until) + _dt.timedelta(days=1)
                if self.until is not None else None)
        return first, last

    def _holds_day(self, day) -> bool:
        """Whether [since, until] holds the whole local ``day`` (None: no day, False)."""
        if day is None:
            return False
        held = self._days.get(day)
        if held is None:
            start, end = day_bounds(day)
            held = self._days[day] = ((self.since is None or self.since <= start)
                                      and (self.until is None or self.until >= end))
        return held

    def text_only(self) -> bool:
        """Whether the full text is the only filter (then :meth:`matches` holds for every
        entry, and a line can be printed without becoming one)."""
        return (self.since is None and self.until is None and self.level is None and self.service is None
                and self.user is None and self.ip is None)

    def matches_text(self, lowered: str) -> bool:
        if len(self.terms) == 1:  # the usual query: no generator
            return self.terms[0] in lowered
        return all(t in lowered for t in self.terms)

    def matches(self, e) -> bool:
        """Every filter but the full text (see matches_text), for a parsed entry. An entry
        without a time whose day is known (``e.day``: its file's) matches a period only if the
        period holds that whole day: it is known to lie in the day, not where in it."""
        if e.ts is None:
            if (self.since is not None or self.until is not None) and not self._holds_day(e.day):
                return False
        elif (self.since is not None and e.ts < self.since) or (self.until is not None and e.ts > self.until):
            return False
        if self.level is not None:
            rank = RANK.get(e.level)
            if rank is None:
                return False
            op, want = self.level
            if not {"=": rank == want, ">=": rank >= want, ">": rank > want,
                    "<=": rank <= want, "<": rank < want}[op]:
                return False
        if self.service is not None and self.service not in e.logger.lower():
            return False
        if self.user is not None and e.user != self.user:
            return False
        if self.ip is not None and e.ip != self.ip:
            return False
        return True


def day_bounds(day: _dt.date) -> tuple[float, float]:
    """The first and the last instant (epoch seconds, inclusive) of a local day (one between
    FIRST_DAY and LAST_DAY: :func:`parse_day` checks)."""
    start = _dt.datetime.combine(day, _dt.time()).timestamp()
    following = _dt.datetime.combine(day + _dt.timedelta(days=1), _dt.time()).timestamp()
    # 1 µs before the next day, or the float just below it where 1 µs is below a float's
    # precision (far dates): the last instant must stay in its own day.
    return start, min(following - 1e-6, math.nextafter(following, -math.inf))


def parse_minutes(value) -> float:
    """``--minutes``: a finite number, 0 or more, as text (echoed as typed in the error) or a number."""
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        minutes = math.nan
    if not minutes >= 0 or not math.isfinite(minutes):  # refuses nan too
        shown = value if isinstance(value, str) else f"{value:g}"
        why = "must be 0 or more" if minutes < 0 else "a number of minutes, 0 or more"
        raise ValueError(f"invalid --minutes {shown} ({why})")
    return minutes


def build_query(now: float, *, terms=(), day=None, since=None, until=None, around=None,
                minutes: float | str | None = None, level=None, service=None, user=None, ip=None) -> Query:
    """A :class:`Query` from the texts the user typed (the browser's flags, the page's URL).
    The time filters narrow each other: --day, --since/--until and --around together give
    the period all of them allow. ``minutes`` (None: 5) widens ``around`` and only it: given
    without it, it is refused rather than dropped without a word. Raises ValueError naming a
    bad value, a time out of range included (so :meth:`Query.day_range` cannot overflow)."""
    if minutes is not None and not around:
        raise ValueError("--minutes is only for --around (the entries within N minutes of a time "
                         "T): give --around T too, or drop --minutes")
    lo = parse_moment(since, now) if since else None
    hi = parse_moment(until, now, end_of_day=True) if until else None

    def narrow(start: float, stop: float) -> None:
        nonlocal lo, hi
        lo = start if lo is None else max(lo, start)
        hi = stop if hi is None else min(hi, stop)

    if day:
        narrow(*day_bounds(parse_day(day, now)))
    if around:
        minutes = parse_minutes(AROUND_MINUTES if minutes is None else minutes)
        t = parse_moment(around, now)
        shown = f"{around} ± {minutes:g} minutes"
        narrow(check_time(t - minutes * 60, shown), check_time(t + minutes * 60, shown))
    return Query(terms, lo, hi, parse_level(level) if level else None, service, user, ip)
