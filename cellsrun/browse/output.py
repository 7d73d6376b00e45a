"""How `cellsrun logs` prints entries: a table (Cells' Backend > Logs columns), JSON, CSV,
the detail window, and per-hour statistics.

With several hosts (``hosts=True``: a collector's directories) each writer also shows the host
an entry comes from, given to ``write(entry, host)``: a Host column after the date (table, CSV),
a Host row (detail), a ``"host"`` key first in each JSON object."""

from __future__ import annotations

import json
import re
import time as _time

from cellsrun.browse.entries import LEVELS, QuickConsole, encode_json
from cellsrun.terminal import visible, visible_lines

COLUMNS = ("Date", "Level", "IP", "User", "Service", "Message")
HOST_COLUMNS = ("Date", "Host", "Level", "IP", "User", "Service", "Message")
_COLOURS = {"debug": "\x1b[2m", "warn": "\x1b[33m", "error": "\x1b[31m", "dpanic": "\x1b[31;1m",
            "panic": "\x1b[31;1m", "fatal": "\x1b[31;1m"}
_RESET = "\x1b[0m"
_UPPER = {name: name.upper() for name in LEVELS}
_STRING = json.encoder.encode_basestring  # what encode_json writes for a str
# An object of strings (no escape, no control character), canonical integers, true, false and
# null, spaced as json.dumps spaces them: the text encode_json gives for what it decodes to,
# when no key is repeated (a repeated key keeps one value: counted apart).
_VALUE = r'(?:"[^"\\\x00-\x1f]*"|0|-?[1-9][0-9]*|true|false|null)'
_CANONICAL = re.compile(r'\{"[^"\\\x00-\x1f]*": %s(?:, "[^"\\\x00-\x1f]*": %s)*\}' % (_VALUE, _VALUE))


_last_second = [None, ""]


def local_time(ts: float | None) -> str:
    """``2026-11-27 13:32:18`` in local time (cached per second: entries come in bursts)."""
    if ts is None:
        return ""
    second = int(ts // 1)
    if _last_second[0] != second:
        _last_second[0] = second
        _last_second[1] = "%04d-%02d-%02d %02d:%02d:%02d" % _time.localtime(second)[:6]
    return _last_second[1]


def when(e) -> str:
    """The Date column: the local time, or the day alone for an entry whose time is unknown
    but whose file's day is known, else empty."""
    if e.ts is not None:
        return local_time(e.ts)
    return e.day.isoformat() if e.day is not None else ""


def _one_line(text: str) -> str:
    """``text`` for one table cell: newline and CR as ``\\n``/``\\r``, a tab as a space, every
    other control character as ``\\xNN`` (:func:`cellsrun.terminal.visible`): log text is
    written by whoever reaches the service and must not drive the terminal."""
    if text.isprintable():
        return text
    return visible(text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", " "))


class TableWriter:
    """Date, (Host,) Level, IP, User, Service, Message. Elsewhere than on a terminal every message is
    printed whole on one row, and the rows are exactly those of the wide layout.

    On a terminal the columns are sized so that the message gets the room, and levels are
    coloured (every row of an entry, so that ``less -R`` keeps them):

    - WIDE columns or more: every column; the message gets the rest (41+ characters);
    - narrower (an 80- or 100-column terminal): Date, Level, Service (14), then the message
      (36 characters at 80), which the entry's user and IP begin, in brackets, when it has
      them: ``[jenny 10.0.0.7] Login failed``;
    - a message longer than its room wraps at spaces onto up to MAX_ROWS rows, indented under
      the Message column, the last one cut with "…".

    With several hosts (``hosts``) the Host column follows the date; on a narrow terminal the
    host leads the brackets: ``[node-a jenny 10.0.0.7]``."""

    WIDE = 120
    MAX_ROWS = 3
    _FULL = "{:<19.19}  {:<5.5}  {:<15.15}  {:<10.10}  {:<20.20}  "  # Date Level IP User Service
    _FULL_HOST = "{:<19.19}  {:<12.12}  {:<5.5}  {:<15.15}  {:<10.10}  {:<20.20}  "  # ... with Host
    _NARROW = "{:<19.19}  {:<5.5}  {:<14.14}  "  # Date Level Service

    def __init__(self, out, tty: bool, width: int = 120, hosts: bool = False):
        self.out = out
        self.tty = tty
        self.width = width
        self.started = False
        self.hosts = hosts
        self.wide = not tty or width >= self.WIDE
        full = self._FULL_HOST if hosts else self._FULL
        self.head = (full if self.wide else self._NARROW).format
        self.indent = len(self.head(*[""] * ((6 if hosts else 5) if self.wide else 3)))
        self.room = max(20, width - self.indent)

    def _cells(self, when_, level, ip, user, service, msg, host=None) -> tuple[str, str]:
        """(the columns before the message, the message) of one row."""
        if self.wide:
            lead = (when_, host or "") if self.hosts else (when_,)
            return self.head(*lead, level, ip, user, service), msg
        who = " ".join(v for v in (host, user, ip) if v)
        return self.head(when_, level, service), f"[{who}] {msg}" if who else msg

    def row(self, cells, host=None) -> str:
        """The one row of ``cells`` (the six columns), its message cut to the room on a terminal."""
        head, msg = self._cells(*cells, host=host)
        if self.tty and len(msg) > self.room:
            msg = msg[:self.room - 1] + "…"
        return (head + msg).rstrip()

    def rows(self, cells, host=None) -> list[str]:
        """The rows of ``cells``: one, or on a terminal as many as the message needs (up to
        MAX_ROWS), continuations indented under the Message column."""
        head, msg = self._cells(*cells, host=host)
        if not self.tty or len(msg) <= self.room:
            return [(head + msg).rstrip()]
        import textwrap
        parts = textwrap.wrap(msg, self.room, max_lines=self.MAX_ROWS, placeholder=" …") or [""]
        pad = " " * self.indent
        return [(head + parts[0]).rstrip()] + [(pad + p).rstrip() for p in parts[1:]]

    def quick(self):
        """The fast row maker for the reader (see :meth:`Reader.entries`): a function giving the
        text (newline included) of a line's row, or None when the line needs an entry; or None
        when this table has no fast rows (a terminal, several hosts)."""
        if self.tty or self.hosts:
            return None
        parts = QuickConsole(local_time).parts
        head = (self._FULL + "{}").format

        def row(line: str) -> str | None:
            p = parts(line)
            if p is None:
                return None
            date, _, level, logger, msg, fields, _ = p
            ip = fields.get("RemoteAddress", "")
            user = fields.get("UserName", "")
            if ip.__class__ is not str:
                ip = str(ip)
            if user.__class__ is not str:
                user = str(user)
            if not (msg.isprintable() and ip.isprintable() and user.isprintable()):
                return None  # control characters: escaped by the entry's path
            return head(date, _UPPER[level], ip, user, logger[6:] if logger.startswith("pydio.") else logger,
                        msg).rstrip() + "\n"
        return row

    def write(self, e, host: str | None = None) -> None:
        if not self.started:
            self._header()
        if e.__class__ is str:  # a row already made by quick()
            self.out.write(e)
        else:
            self._write(e, host)

    def _header(self) -> None:
        if self.wide:
            head = self.row(COLUMNS, "Host" if self.hosts else None)
        else:
            head = self.head("Date", "Level", "Service") + (
                "[Host User IP] Message" if self.hosts else "[User IP] Message")
        self.out.write(head + "\n")
        self.started = True

    def _write(self, e, host: str | None) -> None:
        cells = (when(e), e.level.upper(), _one_line(e.ip), _one_line(e.user), _one_line(e.service),
                 _one_line(e.msg))
        if not self.tty:
            if host is None and not self.hosts:  # the one-line row, without the general path
                self.out.write((self.head(*cells[:5]) + cells[5]).rstrip() + "\n")
            else:
                self.out.write(self.row(cells, _one_line(host) if host else host) + "\n")
            return
        host = _one_line(host) if host else host
        colour = _COLOURS.get(e.level)
        for line in self.rows(cells, host):
            self.out.write(f"{colour}{line}{_RESET}\n" if colour else line + "\n")

    def close(self) -> None:
        pass


class JsonWriter:
    """One object per line: a JSON line's own object (byte for byte), others under Cells' keys
    (see :meth:`cellsrun.browse.entries.Entry.json_line`); with a host, it comes first
    (``"host"``, replacing a ``"host"`` of the line's own)."""

    def __init__(self, out, hosts: bool = False):
        self.out = out
        self.hosts = hosts

    def quick(self):
        """The fast object maker for the reader (see :meth:`TableWriter.quick`): a console
        line's object, built as text around its fields; None with several hosts."""
        if self.hosts:
            return None
        parts = QuickConsole(local_time).parts
        encode, string, canonical = encode_json, _STRING, _CANONICAL.fullmatch

        def obj(line: str) -> str | None:
            p = parts(line)
            if p is None:
                return None
            _, ts_text, level, logger, msg, fields, text = p
            if fields:
                # The keys Entry.as_object puts first; a field of the same name would take
                # their place in the object (dict.update): left to the entry's path.
                if "ts" in fields or "level" in fields or "logger" in fields or "msg" in fields:
                    return None
                # Fields written as json.dumps writes them (zap's console encoder does, for
                # strings and integers) are their own encoding: kept, not encoded again.
                if not (canonical(text) and len(fields) == text.count('": ')):
                    text = encode(fields)
                fields = ", " + text[1:]
            else:
                fields = "}"
            # The time, level and logger need no escaping (checked: ASCII digits, zap's
            # levels, the logger's characters); the message is encoded.
            return f'{{"ts": "{ts_text}", "level": "{level}", "logger": "{logger}", "msg": {string(msg)}{fields}\n'
        return obj

    def write(self, e, host: str | None = None) -> None:
        if e.__class__ is str:  # an object already made by quick()
            self.out.write(e)
            return
        if host is None:
            text = e.json_line()
        elif e.kind == "json" and not e.stamp and "host" not in e.obj:
            rest = e.raw.lstrip()[1:].lstrip()
            text = '{"host":' + json.dumps(host, ensure_ascii=False) + ("," if rest[:1] != "}" else "") + rest
        else:  # not a JSON line, or one with a "host" of its own: ours is the one shown
            obj = {"host": host}
            obj.update((k, v) for k, v in e.as_object().items() if k != "host")
            text = encode_json(obj)
        self.out.write(text + "\n")

    def close(self) -> None:
        pass


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """``text`` safe for a spreadsheet: log text is written by whoever reaches the server, and a
    cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or CR, which some spreadsheets skip
    before a formula) would be evaluated; it gets a leading ``'`` and is shown as text."""
    text = visible_lines(text)  # a CSV is opened in terminals too: no ESC, BEL, C1
    return "'" + text if text.startswith(_FORMULA) else text


class CsvWriter:
    """The table's columns as CSV (with several hosts, Host after Date), every cell made safe
    by :func:`csv_cell`."""

    def __init__(self, out, hosts: bool = False):
        import csv
        self.w = csv.writer(out)
        self.w.writerow(HOST_COLUMNS if hosts else COLUMNS)

    def write(self, e, host: str | None = None) -> None:
        cells = (when(e), e.level.upper(), csv_cell(e.ip), csv_cell(e.user), csv_cell(e.service),
                 csv_cell(e.msg))
        self.w.writerow(cells if host is None else (cells[0], csv_cell(host)) + cells[1:])

    def close(self) -> None:
        pass


class DetailWriter:
    """Every field of each entry, as a block (the console's detail window)."""

    def __init__(self, out, hosts: bool = False):
        self.out = out
        self.first = True

    def write(self, e, host: str | None = None) -> None:
        if not self.first:
            self.out.write("\n")
        self.first = False
        rows = [("Date", when(e))] + ([("Host", host)] if host is not None else []) + [
            ("Arrived", e.stamp), ("Level", e.level.upper()), ("Service", e.service),
            ("Logger", e.logger), ("Message", e.msg)]
        rows += [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in e.fields.items()]
        width = max(len(k) for k, _ in rows)
        pad = "\n" + " " * (width + 2)
        for key, value in rows:
            if value != "":
                # A value's own lines are indented under it: no line of a message can pass
                # for a field or an entry of its own.
                self.out.write(f"{key.ljust(width)}  {visible_lines(value).replace(chr(10), pad)}\n")

    def close(self) -> None:
        pass


class StatsWriter:
    """Entries per hour by level: bars in the terminal, or the numbers as JSON."""

    def __init__(self, out, as_json: bool, width: int = 80, hosts: bool = False):
        self.out = out
        self.as_json = as_json
        self.width = width
        self.hours: dict[str, dict[str, int]] = {}

    def write(self, e, host: str | None = None) -> None:
        if e.ts is not None:
            hour = local_time(e.ts)[:13] + ":00"
        else:  # the day alone when the file's is known (sorts before the day's hours)
            hour = f"{e.day} (no time)" if e.day is not None else "unknown"
        counts = self.hours.setdefault(hour, {})
        level = e.level or "none"
        counts[level] = counts.get(level, 0) + 1

    def close(self) -> None:
        if self.as_json:
            rows = [{"hour": h, "total": sum(c.values()), "levels": c} for h, c in sorted(self.hours.items())]
            self.out.write(json.dumps(rows, indent=1) + "\n")
            return
        if not self.hours:
            return
        peak = max(sum(c.values()) for c in self.hours.values())
        room = max(10, self.width - 45)
        for hour, counts in sorted(self.hours.items()):
            total = sum(counts.values())
            bar = "█" * max(1, round(total / peak * room))
            bad = counts.get("error", 0) + counts.get("fatal", 0) + counts.get("panic", 0) + counts.get("dpanic", 0)
            self.out.write(f"{hour}  {bar} {total}  (error {bad}, warn {counts.get('warn', 0)})\n")
