"""What `cellsrun logs` selects: filters combined with AND, and the time expressions they take.

Times given without an offset are local (TZ honoured). A date alone means its whole day:
``--since 2026-11-27`` starts at its first instant, ``--until 2026-11-27`` ends at its last.
"""

from __future__ import annotations

import datetime as _dt
import re

from cellsrun.browse.entries import LEVELS, RANK

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_LEVEL_SPEC = re.compile(r"^(>=|<=|>|<|=)?\s*([a-z]+)$")


def parse_day(text: str, now: float) -> _dt.date:
    """``YYYY-MM-DD``, ``today`` or ``yesterday`` (local)."""
    today = _dt.date.fromtimestamp(now)
    if text == "today":
        return today
    if text == "yesterday":
        return today - _dt.timedelta(days=1)
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid date {text!r} (expected YYYY-MM-DD, today or yesterday)") from None


def parse_moment(text: str, now: float, end_of_day: bool = False) -> float:
    """Epoch seconds of ``text``: ISO date or datetime (offset optional, local without one),
    ``today``/``yesterday``, ``now``, or relative to now: ``30m``, ``2h``, ``3d``, ``1w``, ``90s``.
    A bare date is its first instant, or with ``end_of_day`` its last (for inclusive ends)."""
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        return now - float(m.group(1)) * _UNIT[m.group(2)]
    if text == "now":
        return now
    if text in ("today", "yesterday") or re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        start, last = day_bounds(parse_day(text, now))
        return last if end_of_day else start
    try:
        return _dt.datetime.fromisoformat(text.replace(" ", "T", 1)).timestamp()
    except ValueError:
        raise ValueError(f"invalid time {text!r} (expected e.g. 2026-11-27, 2026-11-27T13:30, "
                         f"2026-11-27T13:30:00+01:00, 30m, 2h, 3d)") from None


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

    def day_range(self) -> tuple[_dt.date | None, _dt.date | None]:
        """The local days whose files can hold matches (the rotator files a line under the day
        it received it, so an entry of day D may sit at the start of D+1's file)."""
        first = _dt.date.fromtimestamp(self.since) if self.since is not None else None
        last = (_dt.date.fromtimestamp(self.until) + _dt.timedelta(days=1)
                if self.until is not None else None)
        return first, last

    def matches_text(self, lowered: str) -> bool:
        return all(t in lowered for t in self.terms)

    def matches(self, e) -> bool:
        """Every filter but the full text (see matches_text), for a parsed entry."""
        if self.since is not None and (e.ts is None or e.ts < self.since):
            return False
        if self.until is not None and (e.ts is None or e.ts > self.until):
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
    """The first and the last instant (epoch seconds, inclusive) of a local day."""
    start = _dt.datetime.combine(day, _dt.time()).timestamp()
    return start, _dt.datetime.combine(day + _dt.timedelta(days=1), _dt.time()).timestamp() - 1e-6


def build_query(now: float, *, terms=(), day=None, since=None, until=None, around=None,
                minutes: float = 5, level=None, service=None, user=None, ip=None) -> Query:
    """A :class:`Query` from the texts the user typed (the browser's flags, the page's URL).
    The time filters narrow each other: --day, --since/--until and --around together give
    the period all of them allow. Raises ValueError naming a bad value."""
    lo = parse_moment(since, now) if since else None
    hi = parse_moment(until, now, end_of_day=True) if until else None

    def narrow(start: float, stop: float) -> None:
        nonlocal lo, hi
        lo = start if lo is None else max(lo, start)
        hi = stop if hi is None else min(hi, stop)

    if day:
        narrow(*day_bounds(parse_day(day, now)))
    if around:
        if minutes < 0:
            raise ValueError(f"invalid --minutes {minutes:g} (must be 0 or more)")
        t = parse_moment(around, now)
        narrow(t - minutes * 60, t + minutes * 60)
    return Query(terms, lo, hi, parse_level(level) if level else None, service, user, ip)
