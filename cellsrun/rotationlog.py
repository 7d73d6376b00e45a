"""The rotator's "rotated" line: written to its stderr at each rotation, read back by ``status``.

One line per rotation, e.g.::

    cellsrun rotate: 2026-11-28T00:00:00.000412+01:00 rotated cells.out to cells.out.2026-11-27

The time has microseconds and the offset, so the delay after midnight can be measured.
"""

from __future__ import annotations

import datetime as _dt

PREFIX = "cellsrun rotate: "


def format_rotated(at: _dt.datetime, live: str, archive: str, how: str = "rotated") -> str:
    """The line for a rotation at the aware datetime ``at`` (``how``: "rotated", or
    "archived leftover" for a file left from an earlier day, found at start)."""
    return f"{PREFIX}{at.isoformat(timespec='microseconds')} {how} {live} to {archive}"


def parse_rotated(line: str) -> dict | None:
    """``{"at": <ISO time>, "archive": <name>, "how": ...}`` of such a line, else None."""
    if not line.startswith(PREFIX):
        return None
    at, _, rest = line[len(PREFIX):].partition(" ")
    how, sep, archive = rest.rpartition(" to ")
    if not sep or not (how.startswith("rotated ") or how.startswith("archived leftover ")):
        return None
    try:
        _dt.datetime.fromisoformat(at)
    except ValueError:
        return None
    return {"at": at, "archive": archive, "how": how.rsplit(" ", 1)[0]}


def last_rotation(text: str) -> dict | None:
    """The last rotation recorded in ``text`` (the end of the rotator's log), or None."""
    for line in reversed(text.splitlines()):
        found = parse_rotated(line)
        if found:
            return found
    return None
