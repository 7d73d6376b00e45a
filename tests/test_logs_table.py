"""The table of `cellsrun logs` on a real terminal: a real `cellsrun logs` process on a pty
whose size is set with TIOCSWINSZ, read as a user would read the screen."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios

import pytest

from conftest import cellsrun_cmd, child_env

ENV = child_env(TZ="UTC")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")

# (level, logger, message, fields): what Cells writes, messages of a usual length and a long one.
ENTRIES = [
    ("info", "pydio.rest.frontend", "Upload finished for /personal/jenny/reports/2026/november-summary.pdf",
     {"RemoteAddress": "10.0.0.7", "UserName": "jenny"}),
    ("error", "pydio.grpc.auth", "Login failed: wrong password for this account (3 attempts left)",
     {"RemoteAddress": "192.168.100.200", "UserName": "administrator"}),
    ("warn", "pydio.grpc.data.sync", "Cannot reach peer at 10.1.2.3:33060, retrying in 5s", {}),
    ("info", "pydio.grpc.jobs", "short one", {"UserName": "marc"}),
    ("debug", "pydio.gateway.proxy", " ".join(f"word{i}" for i in range(60)), {"RemoteAddress": "::1"}),
]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    import json
    d = tmp_path_factory.mktemp("logs")
    lines = [f"2026-11-27T10:00:0{i}.000Z\t{level.upper()}\t{logger}\t{msg}" + (f"\t{json.dumps(f)}" if f else "")
             for i, (level, logger, msg, f) in enumerate(ENTRIES)]
    (d / "cells.out").write_text("\n".join(lines) + "\n")
    return d


def on_a_terminal(columns: int, *args: str) -> list[str]:
    """The rows `cellsrun logs ARGS` shows on a terminal ``columns`` wide (ANSI codes kept)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    p = subprocess.Popen(cellsrun_cmd(*args), stdin=slave, stdout=slave, stderr=slave, env=ENV)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        data += chunk
    assert p.wait(30) == 0, data
    os.close(master)
    return data.decode().replace("\r", "").splitlines()


def screen_entries(plain: list[str]) -> list[list[str]]:
    """The rows grouped per entry: a row beginning with a date starts one, others continue it."""
    groups = []
    for row in plain[1:]:
        if DATE.match(row):
            groups.append([row])
        else:
            groups[-1].append(row)
    return groups


@pytest.mark.parametrize("columns", [80, 100])
def test_on_a_narrow_terminal_the_message_gets_the_room(logdir, columns):
    rows = on_a_terminal(columns, "logs", "--dir", str(logdir))
    plain = [ANSI.sub("", r) for r in rows]
    assert max(len(r) for r in plain) <= columns, "\n".join(plain)
    assert plain[0].split() == ["Date", "Level", "Service", "[User", "IP]", "Message"], plain[0]
    start = plain[0].index("[User IP]")
    assert start <= 44, plain[0]
    groups = screen_entries(plain)
    assert len(groups) == len(ENTRIES), "\n".join(plain)
    for (level, logger, msg, fields), group in zip(ENTRIES, groups):
        first = group[0]
        assert first.split()[2] == level.upper(), first
        assert logger.removeprefix("pydio.")[:14] in first, first
        # The message column of every row of the entry, read one after the other.
        text = " ".join(r[start:].strip() for r in group)
        who = " ".join(v for v in (fields.get("UserName"), fields.get("RemoteAddress")) if v)
        shown = f"[{who}] {msg}" if who else msg
        squeezed = "".join(text.split())  # rows break at spaces, or inside a word too long for one
        if not text.endswith("…"):
            assert squeezed == "".join(shown.split()), "\n".join(group)
        else:  # a very long message: three rows, cut where it does not fit
            assert "".join(shown.split()).startswith(squeezed[:-1]) and len(group) == 3, "\n".join(group)
        assert all(not r[:start].strip() for r in group[1:]), "continuations start under the message"
    # A message of a usual length (up to ~70 characters) is shown whole, on at most three rows
    # at 80 columns (36 characters of room), two at 100.
    assert all(len(g) <= (3 if columns == 80 else 2) for g in groups[:4])
    if columns == 100:
        assert [len(g) for g in groups[:4]] == [2, 2, 1, 1]  # 56 characters of room


def test_on_a_wide_terminal_every_column_and_colours(logdir):
    rows = on_a_terminal(150, "logs", "--dir", str(logdir))
    plain = [ANSI.sub("", r) for r in rows]
    assert plain[0].split() == ["Date", "Level", "IP", "User", "Service", "Message"]
    assert max(len(r) for r in plain) <= 150
    assert plain[2].split()[3:6] == ["192.168.100.200", "administra", "grpc.auth"], plain[2]
    assert plain[2].endswith("  Login failed: wrong password for this account (3 attempts left)"), plain[2]
    assert any(r.startswith("\x1b[31m") and "ERROR" in r for r in rows)  # errors in red
    assert not any("\x1b" in r for r in rows if " INFO " in r)
    # Continuation rows are coloured as their entry (so that `less -R` shows them so too).
    debug = [r for r in rows if "word59" in r or "word30" in r]
    assert debug and all(r.startswith("\x1b[2m") for r in debug)
