"""How `cellsrun logs` prints entries: a table (Cells' Backend > Logs columns), JSON, CSV,
the detail window, and per-hour statistics."""

from __future__ import annotations

import json
import time as _time

COLUMNS = ("Date", "Level", "IP", "User", "Service", "Message")
_COLOURS = {"debug": "\x1b[2m", "warn": "\x1b[33m", "error": "\x1b[31m", "dpanic": "\x1b[31;1m",
            "panic": "\x1b[31;1m", "fatal": "\x1b[31;1m"}
_RESET = "\x1b[0m"
# Characters of rows held before they are written (one write per row costs about as much as
# making the row). ~8 KiB: what a pipe's reader gets at a time anyway, so `| head` still
# ends the run at once; and a line of a megabyte is not held beside others.
BATCH = 8192


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
    """Date, Level, IP, User, Service, Message. On a terminal the message is cut to the
    width and levels are coloured; elsewhere every message is printed whole."""

    HEAD = "{:<19.19}  {:<5.5}  {:<15.15}  {:<10.10}  {:<20.20}  "  # Date Level IP User Service

    def __init__(self, out, tty: bool, width: int = 120):
        self.out = out
        self.tty = tty
        self.width = width
        self.started = False
        self.room = max(10, width - len(self.HEAD.format("", "", "", "", "")))
        self.head = self.HEAD.format
        self.tail = "{:<15.15}  {:<10.10}  {:<20.20}  ".format  # IP User Service
        self._left = {}   # (second, level) -> the Date and Level columns
        self._rows = []   # rows not yet written (not on a terminal), BATCH characters at most
        self._held = 0

    def row(self, cells) -> str:
        msg = cells[5]
        if self.tty and len(msg) > self.room:
            msg = msg[:self.room - 1] + "…"
        return (self.head(*cells[:5]) + msg).rstrip()

    def write(self, e) -> None:
        if not self.started:
            self.out.write(self.row(COLUMNS) + "\n")
            self.started = True
        if self.tty:
            line = self.row((local_time(e.ts), e.level.upper(), e.ip, e.user, e.service, _one_line(e.msg)))
            colour = _COLOURS.get(e.level)
            self.out.write(f"{colour}{line}{_RESET}\n" if colour else line + "\n")
            return
        # To a file or a pipe: the same row from pieces formatted once (the date's and the
        # level's repeat), the rows handed over in batches (see flush).
        fields = e.fields
        ts = e.ts
        left = self._left.get((int(ts // 1) if ts is not None else None, e.level))
        if left is None:
            left = self._left_piece(ts, e.level)
        logger = e.logger
        service = logger[6:] if logger.startswith("pydio.") else logger
        msg = e.msg
        if "\n" in msg or "\r" in msg or "\t" in msg:
            msg = _one_line(msg)
        row = (left + self.tail(str(fields.get("RemoteAddress", "")) if fields else "",
                                str(fields.get("UserName", "")) if fields else "", service) + msg).rstrip()
        self._rows.append(row)
        self._held += len(row)
        if self._held >= BATCH:
            self.flush()

    def _left_piece(self, ts, level: str) -> str:
        """The Date and Level columns, padded (kept for the second and level they show)."""
        if len(self._left) > 4096:
            self._left.clear()
        piece = "{:<19.19}  {:<5.5}  ".format(local_time(ts), level.upper())
        self._left[(int(ts // 1) if ts is not None else None, level)] = piece
        return piece

    def flush(self) -> None:
        """Hand the rows held to ``out`` (one write: a write per row costs as much as the row)."""
        if self._rows:
            self._rows.append("")
            self.out.write("\n".join(self._rows))
            self._rows.clear()
            self._held = 0

    def close(self) -> None:
        self.flush()


class JsonWriter:
    """One object per line: a JSON line's own object (byte for byte), others under Cells' keys."""

    def __init__(self, out):
        self.out = out
        self._rows = []  # lines not yet written, BATCH characters at most (see TableWriter.flush)
        self._held = 0
        self._dumps = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps without its set-up

    def write(self, e) -> None:
        row = e.raw if e.kind == "json" else self._dumps(e.as_object())
        self._rows.append(row)
        self._held += len(row)
        if self._held >= BATCH:
            self.close()

    def close(self) -> None:
        if self._rows:
            self._rows.append("")
            self.out.write("\n".join(self._rows))
            self._rows.clear()
            self._held = 0


class CsvWriter:
    def __init__(self, out):
        import csv
        self.w = csv.writer(out)
        self.w.writerow(COLUMNS)

    def write(self, e) -> None:
        self.w.writerow((local_time(e.ts), e.level.upper(), e.ip, e.user, e.service, e.msg))

    def close(self) -> None:
        pass


class DetailWriter:
    """Every field of each entry, as a block (the console's detail window)."""

    def __init__(self, out):
        self.out = out
        self.first = True

    def write(self, e) -> None:
        if not self.first:
            self.out.write("\n")
        self.first = False
        rows = [("Date", local_time(e.ts)), ("Level", e.level.upper()), ("Service", e.service),
                ("Logger", e.logger), ("Message", e.msg)]
        rows += [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in e.fields.items()]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            if value != "":
                self.out.write(f"{key.ljust(width)}  {value}\n")

    def close(self) -> None:
        pass


class StatsWriter:
    """Entries per hour by level: bars in the terminal, or the numbers as JSON."""

    def __init__(self, out, as_json: bool, width: int = 80):
        self.out = out
        self.as_json = as_json
        self.width = width
        self.hours: dict[str, dict[str, int]] = {}

    def write(self, e) -> None:
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
