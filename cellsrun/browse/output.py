"""How `cellsrun logs` prints entries: a table (Cells' Backend > Logs columns), JSON, CSV,
the detail window, and per-hour statistics.

With several hosts (``hosts=True``: a collector's directories) each writer also shows the host
an entry comes from, given to ``write(entry, host)``: a Host column after the date (table, CSV),
a Host row (detail), a ``"host"`` key first in each JSON object."""

from __future__ import annotations

import json
import time as _time

COLUMNS = ("Date", "Level", "IP", "User", "Service", "Message")
HOST_COLUMNS = ("Date", "Host", "Level", "IP", "User", "Service", "Message")
_COLOURS = {"debug": "\x1b[2m", "warn": "\x1b[33m", "error": "\x1b[31m", "dpanic": "\x1b[31;1m",
            "panic": "\x1b[31;1m", "fatal": "\x1b[31;1m"}
_RESET = "\x1b[0m"


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


def _one_line(text: str) -> str:
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", " ")


class TableWriter:
    """Date, (Host,) Level, IP, User, Service, Message. On a terminal the message is cut to the
    width and levels are coloured; elsewhere every message is printed whole."""

    HEAD = "{:<19.19}  {:<5.5}  {:<15.15}  {:<10.10}  {:<20.20}  "  # Date Level IP User Service
    HOST_HEAD = "{:<19.19}  {:<12.12}  {:<5.5}  {:<15.15}  {:<10.10}  {:<20.20}  "  # ... with Host

    def __init__(self, out, tty: bool, width: int = 120, hosts: bool = False):
        self.out = out
        self.tty = tty
        self.width = width
        self.started = False
        self.columns = HOST_COLUMNS if hosts else COLUMNS
        head = self.HOST_HEAD if hosts else self.HEAD
        self.room = max(10, width - len(head.format(*[""] * (len(self.columns) - 1))))
        self.head = head.format

    def row(self, cells) -> str:
        msg = cells[-1]
        if self.tty and len(msg) > self.room:
            msg = msg[:self.room - 1] + "…"
        return (self.head(*cells[:-1]) + msg).rstrip()

    def write(self, e, host: str | None = None) -> None:
        if not self.started:
            self.out.write(self.row(self.columns) + "\n")
            self.started = True
        cells = (local_time(e.ts), e.level.upper(), e.ip, e.user, e.service, _one_line(e.msg))
        line = self.row(cells if host is None else (cells[0], host) + cells[1:])
        colour = _COLOURS.get(e.level) if self.tty else None
        self.out.write(f"{colour}{line}{_RESET}\n" if colour else line + "\n")

    def close(self) -> None:
        pass


class JsonWriter:
    """One object per line: a JSON line's own object (byte for byte; with a host, behind a
    first ``"host"`` key, which replaces a ``"host"`` of the line's own), others under Cells' keys."""

    def __init__(self, out, hosts: bool = False):
        self.out = out

    def write(self, e, host: str | None = None) -> None:
        if host is None:
            text = e.raw if e.kind == "json" else json.dumps(e.as_object(), ensure_ascii=False)
        elif e.kind == "json" and "host" not in e.obj:
            rest = e.raw.lstrip()[1:].lstrip()
            text = '{"host":' + json.dumps(host, ensure_ascii=False) + ("," if rest[:1] != "}" else "") + rest
        else:  # not a JSON line, or one with a "host" of its own: ours is the one shown
            obj = {"host": host}
            obj.update((k, v) for k, v in e.as_object().items() if k != "host")
            text = json.dumps(obj, ensure_ascii=False)
        self.out.write(text + "\n")

    def close(self) -> None:
        pass


class CsvWriter:
    def __init__(self, out, hosts: bool = False):
        import csv
        self.w = csv.writer(out)
        self.w.writerow(HOST_COLUMNS if hosts else COLUMNS)

    def write(self, e, host: str | None = None) -> None:
        cells = (local_time(e.ts), e.level.upper(), e.ip, e.user, e.service, e.msg)
        self.w.writerow(cells if host is None else (cells[0], host) + cells[1:])

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
        rows = [("Date", local_time(e.ts))] + ([("Host", host)] if host is not None else []) + [
            ("Level", e.level.upper()), ("Service", e.service), ("Logger", e.logger), ("Message", e.msg)]
        rows += [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in e.fields.items()]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            if value != "":
                self.out.write(f"{key.ljust(width)}  {value}\n")

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
        hour = local_time(e.ts)[:13] + ":00" if e.ts is not None else "unknown"
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
