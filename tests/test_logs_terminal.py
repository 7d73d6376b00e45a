"""Log text is written by whoever reaches the service: `cellsrun logs` never hands the
terminal a control character of it (ESC, BEL, C1, a raw CR or newline), in the table, the
detail or CSV; they show as ``\\xNN`` (or ``\\n``/``\\r`` in a table row), so a line cannot clear
the screen, set the clipboard, retitle the window or forge an entry. `--json` stays exact."""

from __future__ import annotations

import json
import re

import pytest

from conftest import run

CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


@pytest.fixture
def logs(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    lines = [
        json.dumps({"level": "info", "ts": "2026-11-28T10:00:00Z", "logger": "pydio.rest.x",
                    "msg": "real\n2026-11-28 10:00:05  ERROR FAKE forged entry",
                    "UserName": "x\x1b[1A\x1b[2Khidden", "RemoteAddress": "\x9b2J"}),
        "2026-11-28T10:00:01.000Z\tINFO\tpydio.grpc.y\tclip \x1b]52;c;ZXZpbA==\x07 alt \x1b[?1049h",
        "plain \x1b]0;title\x07 text\rover",
    ]
    (d / "cells.out").write_bytes(("\n".join(lines) + "\n").encode())
    return d


@pytest.mark.parametrize("form", [[], ["--detail"], ["--csv"], ["--stats"]])
def test_no_control_character_of_a_log_reaches_the_terminal(logs, form):
    r = run("logs", "--dir", str(logs), *form)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    if form == ["--csv"]:
        out = out.replace("\r\n", "\n")  # CSV's own record ends
    assert not CONTROLS.search(out), [m.group() for m in CONTROLS.finditer(out)][:5]


def test_a_newline_in_a_message_cannot_forge_an_entry(logs):
    for form in ([], ["--detail"]):
        out = run("logs", "--dir", str(logs), *form).stdout.decode()
        forged = [line for line in out.splitlines() if line.startswith("2026-11-28 10:00:05")]
        assert not forged, out
    table = run("logs", "--dir", str(logs)).stdout.decode()
    assert "x\\x1b[1A" in table and "\\x07" in table, table  # shown, not acted on


def test_json_output_stays_exact(logs):
    r = run("logs", "--dir", str(logs), "--json")
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert objs[0]["UserName"] == "x\x1b[1A\x1b[2Khidden" and "\x1b]52;c;" in objs[1]["msg"]
