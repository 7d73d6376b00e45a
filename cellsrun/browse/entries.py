"""Log entries: parse one line of Cells' output, in either of its formats.

- console ("apache-like"): ``TIME<TAB>LEVEL<TAB>LOGGER<TAB>MESSAGE[<TAB>{json fields}]``; the time
  is ISO 8601 with milliseconds and ``Z`` or an offset, the level upper-case, level and logger
  possibly wrapped in ANSI colour codes; zap leaves the logger column out when it is empty (the
  message then follows the level directly, and may itself start with tabs).
- JSON (production): an object with ``level``, ``ts`` (RFC 3339), ``logger``, ``msg`` and
  context keys (``RemoteAddress``, ``UserName``, ...).
- anything else: an entry with only a message; its time is taken from the entry before it.

Any of these may follow a rotator's stamp (``cellsrun rotate --stamp``): RFC 3339 with exactly
six fractional digits and an offset (``Z``, ``+01:00``; ``+05:23:17`` from a POSIX TZ), then
one space, at the very start of the line. That shape is what tells it from a service's own
leading time (Cells writes milliseconds and a tab). The rest of the line is parsed as above;
the entry's time is the service's own when the rest has one, else the stamp's, which is kept
as ``stamp`` (``arrived`` in the entry's object). A service line that itself begins with a
time of exactly that shape is read the same way: a time of the line either way.

Nesting is bounded: a JSON line (or a console line's field object) nested deeper than
MAX_DEPTH is not taken apart. The JSON line is then an entry of the "text" kind with the whole
line as its message; the console line keeps its time, level and logger, and the object stays in
its message. So no line, however deep, can raise (json gives up with RecursionError near 1,000
levels) or make a later step recurse (the output encodes fields again with json.dumps).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import time as _time

LEVELS = ["debug", "info", "warn", "error", "dpanic", "panic", "fatal"]
RANK = {name: i for i, name in enumerate(LEVELS)}
RANK["warning"] = RANK["warn"]

# json's C scanner, called directly: json.loads adds two regex passes per call, and a
# fields object is decoded for every console line read.
_scan_json = json.JSONDecoder().scan_once
# json.dumps(obj, ensure_ascii=False), the encoder built once rather than at each call
encode_json = json.JSONEncoder(ensure_ascii=False).encode
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOGGER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/:]*\Z")
_TIME_START = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
_ZONE_START = ("Z", "+", "-")  # line[26] of a stamp ("" is not in it)
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(?:Z|[+-]\d\d:\d\d(?::\d\d)?) ")
_BASE_KEYS = ("ts", "level", "logger", "msg")  # a JSON line's keys that are not among its fields
MAX_DEPTH = 64  # Cells nests 3 or 4 levels; deeper is not a log entry worth taking apart
_SHALLOW = 2 * MAX_DEPTH  # JSON text this short cannot nest deeper (a level takes 2 characters)


class Entry:
    """One log entry. ``ts``: seconds since the epoch (None if the line has no time of its own
    and none was inherited); ``kind``: "console", "json" or "text"; ``fields``: the extra keys
    (RemoteAddress, UserName, ...); ``raw``: the line as written (without its newline);
    ``stamp``: the rotator's stamp before it (its text), or ""; ``day``: set by the reader
    when the entry has no time but its file's day is known (an archive's name, the live
    file's last write): a ``datetime.date``, else None."""

    __slots__ = ("ts", "ts_text", "level", "logger", "msg", "fields", "raw", "kind", "obj", "stamp", "day")

    def __init__(self, raw: str, kind: str, ts=None, ts_text="", level="", logger="", msg="",
                 fields=None, obj=None):
        self.stamp = ""
        self.day = None
        self.raw = raw
        self.kind = kind
        self.ts = ts
        self.ts_text = ts_text
        self.level = level
        self.logger = logger
        self.msg = msg
        self.fields = fields if fields is not None else {}
        self.obj = obj  # a JSON line's own object

    @property
    def ip(self) -> str:
        return str(self.fields.get("RemoteAddress", ""))

    @property
    def user(self) -> str:
        return str(self.fields.get("UserName", ""))

    @property
    def service(self) -> str:
        """The logger without ``pydio.``, as Cells' console shows it."""
        return self.logger[6:] if self.logger.startswith("pydio.") else self.logger

    def as_object(self) -> dict:
        """The entry under Cells' key names (a JSON line: its own object), with ``arrived``
        first when the line has a rotator's stamp."""
        if self.obj is not None:
            return {"arrived": self.stamp, **self.obj} if self.stamp else self.obj
        out = {"arrived": self.stamp} if self.stamp else {}
        if self.ts_text:
            out["ts"] = self.ts_text
        if self.level:
            out["level"] = self.level
        if self.logger:
            out["logger"] = self.logger
        out["msg"] = self.msg
        out.update(self.fields)
        return out

    def json_line(self) -> str:
        """The entry as the text of one JSON object: a JSON line's own text, byte for byte,
        when the line is nothing else; else :meth:`as_object` encoded."""
        if self.kind == "json" and not self.stamp:
            return self.raw
        return encode_json(self.as_object())


def parse_time(text: str) -> float | None:
    """Epoch seconds of an ISO 8601 / RFC 3339 time (``Z``, ``+0200``, ``+02:00``; local when
    no offset is given), or None."""
    try:
        return _dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def parse_line(line: str) -> Entry:
    """The entry of one line (no newline), a rotator's stamp before it included."""
    if line[26:27] in _ZONE_START and line[19:20] == ".":
        m = _STAMP.match(line)  # cheap tests first: the regex only for lines shaped like a stamp
        if m:
            entry = _parse_own(line[m.end():])
            entry.raw = line
            entry.stamp = m.group(0)[:-1]
            if entry.ts is None:
                entry.ts = parse_time(entry.stamp)
                entry.ts_text = entry.stamp
            return entry
    return _parse_own(line)


def _parse_own(line: str) -> Entry:
    """The entry of a service's line as it wrote it (no stamp)."""
    if line[:1] == "{":
        entry = _parse_json(line)
        if entry is not None:
            return entry
    elif _TIME_START.match(line):
        entry = _parse_console(line)
        if entry is not None:
            return entry
    return Entry(line, "text", msg=line)


def _parse_json(line: str) -> Entry | None:
    """The entry of a line starting with ``{`` if it is one JSON object (what json.loads
    accepts: whitespace may follow it), else None."""
    try:
        # json.loads without its two regex passes (no whitespace can lead: "{" does).
        obj, end = _scan_json(line, 0)
    except (ValueError, StopIteration, RecursionError):
        return None
    if end != len(line) and line[end:].strip(" \t\n\r"):
        return None  # more than whitespace after the object
    if obj.__class__ is not dict:
        return None
    if len(line) > _SHALLOW and line.count("{") + line.count("[") > MAX_DEPTH and _deeper(obj):
        return None
    ts_text = str(obj.get("ts", ""))
    fields = obj.copy()  # the extra keys, in their order
    for key in _BASE_KEYS:
        fields.pop(key, None)
    msg = obj.get("msg", "")
    return Entry(line, "json", parse_time(ts_text) if ts_text else None, ts_text,
                 str(obj.get("level", "")).lower(), str(obj.get("logger", "")),
                 msg if isinstance(msg, str) else json.dumps(msg), fields, obj)


def _parse_console(line: str) -> Entry | None:
    if "\x1b" in line:
        line_clean = _ANSI.sub("", line)
    else:
        line_clean = line
    parts = line_clean.split("\t", 3)
    if len(parts) < 3:
        return None
    ts = parse_time(parts[0])
    if ts is None:
        return None
    level = parts[1].strip().lower()
    if len(parts) == 4 and _LOGGER.match(parts[2]):
        logger, rest = parts[2], parts[3]
    else:  # no logger column: the message follows the level (and may start with tabs)
        logger, rest = "", line_clean.split("\t", 2)[2]
    fields = {}
    if rest.endswith("}"):
        cut = rest.rfind("\t{")
        if cut >= 0:
            try:
                parsed, end = _scan_json(rest, cut + 1)
                if isinstance(parsed, dict) and end == len(rest) and (
                        end - cut <= _SHALLOW or rest.count("{", cut) + rest.count("[", cut) <= MAX_DEPTH
                        or not _deeper(parsed)):
                    fields, rest = parsed, rest[:cut]
            except (ValueError, StopIteration, RecursionError):
                pass
    return Entry(line, "console", ts, parts[0], level, logger, rest.strip("\t"), fields)


# The levels zap writes, as written in a console line and as parse_line keeps them.
_QUICK_LEVELS = {name.upper(): name for name in LEVELS}
# A console line's time, strictly: ASCII digits, 1 to 6 fraction digits, Z or an offset.
_QUICK_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d(?::\d\d)?)?\Z",
                         re.ASCII)
_DIGITS = frozenset("0123456789")
_SECONDS = frozenset("%02d" % n for n in range(60))
_TIME_MAX = 40  # characters: the longest strict time is 35 (6 fraction digits, +hh:mm:ss)
_LOGGER_MAX = 200  # characters of a logger this path caches (Cells': under 40)


class QuickConsole:
    """The parts of a console line in Cells' usual shape, without an :class:`Entry`: the
    printers' fast path (``cellsrun logs -q``, where most of the time went into building
    entries and converting times that were only printed).

    :meth:`parts` accepts only lines whose reading is certain — a strict time, a level zap
    writes, a logger column, no ANSI colour, a fields object that is a shallow JSON object
    ending the line, or none — and gives exactly what :func:`parse_line` gives for them. Any
    other line gives None and is read by :func:`parse_line` (a test holds the two paths to the
    same output on a corpus of odd lines).

    Two bounded caches make it cheap: the local time of each second seen (lines come in
    bursts; the milliseconds do not change the second) and the loggers already checked."""

    CACHE = 4096  # entries in each cache before it is emptied (memory bound)

    def __init__(self, local_time, localtime=None):
        self.local_time = local_time  # epoch seconds -> the Date column's text
        self.localtime = localtime or _time.localtime  # the same conversion's (time.localtime)
        self.minutes: dict[str, str | None] = {}  # time text without seconds -> local minute
        self.dates: dict[str, str | None] = {}  # time text without its milliseconds -> date
        self.loggers: dict[str, bool] = {}

    def parts(self, line: str):
        """``(date, ts_text, level, logger, msg, fields, text)`` of ``line`` (``date``: its
        local time as the table shows it; ``text``: the fields' own text, or ""), or None when
        ``line`` is not certain (see above)."""
        if "\x1b" in line:
            return None
        parts = line.split("\t", 3)
        if len(parts) != 4:
            return None
        ts_text, level, logger, rest = parts
        level = _QUICK_LEVELS.get(level)
        if level is None or len(ts_text) > _TIME_MAX or len(logger) > _LOGGER_MAX:
            return None  # (long columns are not cached: the caches' memory stays small)
        date = None
        if (ts_text[19:20] == "." and (len(ts_text) == 24 or len(ts_text) == 29)
                and ts_text[17:19] in _SECONDS and _DIGITS.issuperset(ts_text[20:23])):
            # Cells' shape (milliseconds, Z or an offset): the minute's date, and the
            # line's own seconds (see _minute).
            minute = ts_text[:17] + ts_text[23:]
            prefix = self.minutes.get(minute, 0)
            if prefix == 0:
                prefix = self._minute(ts_text, minute)
            if prefix is not None:
                date = prefix + ts_text[17:19]
        if date is None:
            # Times that differ only in their first 3 fraction digits share a second: one
            # key, marked with a tab (no time text holds one) so that no other time text,
            # "...:05." say, can be the same key.
            key = ("\t" + ts_text[:20] + ts_text[23:] if ts_text[19:20] == "." and len(ts_text) >= 23
                   and _DIGITS.issuperset(ts_text[20:23]) else ts_text)
            date = self.dates.get(key, 0)
            if date == 0:
                date = self._date(ts_text, key)
            if date is None:
                return None
        ok = self.loggers.get(logger)
        if ok is None:
            if len(self.loggers) >= self.CACHE:
                self.loggers.clear()
            ok = self.loggers[logger] = _LOGGER.match(logger) is not None
        if not ok:
            return None
        fields = {}
        if rest[-1:] == "}":
            cut = rest.rfind("\t{")
            if cut >= 0:
                try:
                    parsed, end = _scan_json(rest, cut + 1)
                except (ValueError, StopIteration, RecursionError):
                    return None
                if end != len(rest) or parsed.__class__ is not dict or (
                        end - cut > _SHALLOW and rest.count("{", cut) + rest.count("[", cut) > MAX_DEPTH):
                    return None
                fields, text, rest = parsed, rest[cut + 1:], rest[:cut]
                return date, ts_text, level, logger, rest.strip("\t"), fields, text
        return date, ts_text, level, logger, rest.strip("\t"), fields, ""

    def _minute(self, ts_text: str, minute: str) -> str | None:
        """The local ``YYYY-MM-DD HH:MM:`` of the minute of ``ts_text`` (a strict time with 3
        fraction digits and an offset), cached under ``minute`` (its text without seconds and
        fraction): the lines of that minute then take their own seconds as the local ones.
        None (and the per-second path) when that would not be exact: a time that is not
        valid, or a local offset that has seconds or changes within the minute."""
        ts = parse_time(ts_text) if _QUICK_TIME.match(ts_text) else None
        prefix = None
        if ts is not None:
            start = int(ts // 1) - int(ts_text[17:19])  # the minute's first second (a fixed offset)
            first, last = self.localtime(start), self.localtime(start + 59)
            if first.tm_sec == 0 and last.tm_sec == 59 and first.tm_gmtoff == last.tm_gmtoff:
                prefix = "%04d-%02d-%02d %02d:%02d:" % first[:5]
        if len(self.minutes) >= self.CACHE:
            self.minutes.clear()
        self.minutes[minute] = prefix
        return prefix

    def _date(self, ts_text: str, key: str) -> str | None:
        """The Date column of ``ts_text`` (None: not a strict time), cached under ``key``."""
        ts = parse_time(ts_text) if _QUICK_TIME.match(ts_text) else None
        if len(self.dates) >= self.CACHE:
            self.dates.clear()
        date = self.dates[key] = None if ts is None else self.local_time(ts)
        return date


def _deeper(obj) -> bool:
    """Whether ``obj`` nests deeper than MAX_DEPTH (walked with an explicit stack: no
    recursion). Only called for text with more brackets than MAX_DEPTH: the length and the
    count of brackets bound the depth from above, at C speed, for every other line."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False
