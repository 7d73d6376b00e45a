"""status's pieces without a supervisord: the last rotation as status shows it, orphans in
the report, and `Supervisor.update()` with a changed config (a real supervisord)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import child_env, run, wait_for
from cellsrun.rotationlog import format_rotated, last_rotation, parse_rotated


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="crt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_rotated_line_round_trips():
    at = dt.datetime(2026, 11, 28, 0, 0, 0, 412, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    line = format_rotated(at, "cells.out", "cells.out.2026-11-27")
    assert parse_rotated(line) == {"at": "2026-11-28T00:00:00.000412+01:00",
                                   "archive": "cells.out.2026-11-27", "how": "rotated"}
    left = format_rotated(at, "cells.out", "cells.out.2026-11-20.1", how="archived leftover")
    assert parse_rotated(left)["how"] == "archived leftover"
    for noise in ("", "cellsrun rotate: warning: cannot write x", "cellsrun rotate: notatime rotated a to b",
                  line.replace(" to ", " into "), "prefix " + line):
        assert parse_rotated(noise) is None, noise


def test_status_shows_the_last_rotation_of_the_rotators_log(home):
    logs = home / "logs"
    logs.mkdir(parents=True)
    zone = dt.timezone(dt.timedelta(hours=-5, minutes=-30))
    lines = [format_rotated(dt.datetime(2026, 11, d, 0, 0, 0, 1000 * d, tzinfo=zone), "cells.out",
                            f"cells.out.2026-11-{d - 1:02d}") for d in (26, 27, 28)]
    text = "\n".join([lines[0], "cellsrun rotate: warning: disk full", lines[1], lines[2],
                      "cellsrun rotate: writing again after 2.0s", "half a li"]) + "\n"
    (logs / "cellsrun-rotate.log").write_text(text)
    data = json.loads(run("status", "--home", str(home), "--json").stdout)
    assert data["last_rotation"] == {"at": "2026-11-28T00:00:00.028000-05:30",
                                     "archive": "cells.out.2026-11-27", "how": "rotated"}
    shown = run("status", "--home", str(home)).stdout.decode()
    assert "last rotation 2026-11-28T00:00:00.028000-05:30 -> cells.out.2026-11-27" in shown
    # only the end of a big log is read: a rotation far back is still found within it
    (logs / "cellsrun-rotate.log").write_text(lines[0] + "\n" + ("x" * 200 + "\n") * 100)
    assert json.loads(run("status", "--home", str(home), "--json").stdout)["last_rotation"]["archive"] \
        == "cells.out.2026-11-25"
    assert last_rotation("nothing here\n") is None


def test_report_lists_orphans():
    from cellsrun.launch import report
    data = {"home": "/h", "log_dir": "/h/logs", "programs": [], "service_tree": [],
            "supervisord": {"running": False, "pid": None, "uptime_s": None},
            "orphans": [{"pid": 4242, "role": "service", "owner": None, "command": "cells start"}],
            "cells_out_bytes": None, "fifo_bytes": None, "last_rotation": None, "next_rotation": "x"}
    text = report.render(data)
    assert "orphans" in text and "4242 service  cells start" in text


@pytest.mark.slow
def test_supervisor_update_applies_a_changed_config(home):
    """A start over a running supervisord with other settings re-reads the config: the
    program with changed flags is restarted with them, the other keeps its pid."""
    from cellsrun.launch.rpc import Supervisor
    try:
        r = run("start", "--home", str(home), "--demo", timeout=90)
        assert r.returncode == 0, r.stderr
        sup = Supervisor(str(home / "run" / "supervisord.sock"))
        before = {p["name"]: p["pid"] for p in sup.all_info()}
        r = run("start", "--home", str(home), "--keep-days", "7", timeout=90)
        assert r.returncode == 0, r.stderr
        after = {p["name"]: (p["pid"], p["statename"]) for p in sup.all_info()}
        assert after["cells-logs"][1] == "RUNNING" and after["cells-logs"][0] != before["cells-logs"]
        assert after["cells"] == (before["cells"], "RUNNING")  # unchanged block: untouched
        import psutil
        assert "--keep-days" in (cmd := psutil.Process(after["cells-logs"][0]).cmdline()) \
            and cmd[cmd.index("--keep-days") + 1] == "7"
    finally:
        run("stop", "--home", str(home), "--all", timeout=90)


def _status_data(**changes) -> dict:
    data = {"home": "/h", "log_dir": "/h/logs", "programs": [], "service_tree": [], "orphans": [],
            "supervisord": {"running": True, "pid": 10, "uptime_s": 5.0},
            "cells_out_bytes": 10, "fifo_bytes": 0, "last_rotation": None, "next_rotation": "x"}
    data.update(changes)
    return data


def _program_row(name: str, state: str = "RUNNING", pid: int = 11, description: str = "") -> dict:
    return {"name": name, "state": state, "pid": pid, "uptime_s": 3.0 if state == "RUNNING" else None,
            "stopped_at": None, "exitstatus": None, "description": description}


def test_report_keeps_the_program_rows_aligned_whatever_their_names():
    from cellsrun.launch import report
    text = report.render(_status_data(programs=[
        _program_row("cells"), _program_row("cells-logs", pid=1234567), _program_row("cells-logs-web", pid=9)]))
    rows = [line for line in text.splitlines() if line.startswith("cells") and "RUNNING" in line]
    assert len(rows) == 3, text
    assert len({row.index("RUNNING") for row in rows}) == 1 and len({row.index(" pid ") for row in rows}) == 1, text


def test_report_shows_every_control_character_escaped():
    from cellsrun.launch import report
    evil = "\x1b[2J\x9b31m\x07\r\t"
    text = report.render(_status_data(
        home=f"/h{evil}", log_dir=f"/h{evil}/logs", hint=f"hint {evil}",
        programs=[_program_row(f"name{evil}", "FATAL", 0, f"gave up {evil}")],
        service_tree=[{"pid": 12, "ppid": 11, "rss_bytes": 1, "cpu_percent": 0.0, "name": f"comm{evil}"}],
        orphans=[{"pid": 13, "role": "service", "owner": None, "command": f"cmd {evil}"}],
        web={"url": f"http://h{evil}/", "login": f"http://h/login?token={evil}"}))
    assert not any(c in text for c in "\x1b\x9b\x07\r\t"), repr(text)
    assert text.count("\\x1b[2J\\x9b31m\\x07\\x0d\\x09") == 9, text
