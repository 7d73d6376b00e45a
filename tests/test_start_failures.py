"""`cellsrun start` when the service fails, replaces a running one, is interrupted, or is
given twice; `stop` given twice; what `status` says about a stopped program."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from conftest import cellsrun_cmd, child_env, run, wait_for
from supervised import supervisord_of

pytestmark = pytest.mark.slow
FAILING = "import sys; print('new service: config broken', flush=True); sys.exit(3)"


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="crf", dir="/tmp"))
    yield path
    run("stop", "--home", str(path), "--all", timeout=90)
    for p in supervisord_of(path):
        p.kill()
    shutil.rmtree(path, ignore_errors=True)


def start(home: Path, *args: str) -> subprocess.CompletedProcess:
    return run("start", "--home", str(home), *args, timeout=90)


def programs(home: Path) -> dict:
    data = json.loads(run("status", "--home", str(home), "--json").stdout)
    return {p["name"]: p for p in data["programs"]}


def cmdline(pid: int) -> str:
    return " ".join(psutil.Process(pid).cmdline())


def test_a_missing_command_is_refused_before_the_running_service_is_touched(home):
    assert start(home, "--demo").returncode == 0
    before = programs(home)["cells"]
    toml, conf = (home / "cellsrun.toml").read_text(), (home / "supervisord.conf").read_text()
    (home / "plain-file").write_text("not a program")
    for argv, why in ((["/no/such/binary", "start"], "command not found: /no/such/binary"),
                      (["no-such-command-x"], "command not found: no-such-command-x (not on PATH"),
                      ([str(home / "plain-file")], f"{home / 'plain-file'} is not executable"),
                      ([str(home)], f"{home} is a directory")):
        r = start(home, "--", *argv)
        err = r.stderr.decode()
        assert r.returncode == 2 and err.startswith("Error: ") and err.count("\n") == 1, err
        assert why in err, err
    after = programs(home)["cells"]
    assert (after["state"], after["pid"]) == ("RUNNING", before["pid"])
    assert (home / "cellsrun.toml").read_text() == toml and (home / "supervisord.conf").read_text() == conf


def test_a_new_command_failing_at_start_puts_the_previous_service_back(home):
    assert start(home, "--demo", "--", "--rate", "200").returncode == 0
    old = programs(home)["cells"]["pid"]
    toml, conf = (home / "cellsrun.toml").read_text(), (home / "supervisord.conf").read_text()
    r = start(home, "--startsecs", "3", "--", sys.executable, "-c", FAILING)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert err.startswith("Error: cells did not start: it exited with status 3"), err
    assert "new service: config broken" in err
    assert "MsgId" not in err, "the previous service's last lines are not this start's output"
    assert "the previous service runs again" in err, err
    now = programs(home)["cells"]
    assert now["state"] == "RUNNING" and now["pid"] != old and " demo --rate 200" in cmdline(now["pid"])
    assert (home / "cellsrun.toml").read_text() == toml and (home / "supervisord.conf").read_text() == conf


def test_a_service_that_exits_at_once_shows_its_status_and_only_what_this_start_wrote(home):
    assert start(home, "--demo").returncode == 0
    r = start(home, "--", "false")
    err = r.stderr.decode()
    assert r.returncode == 1 and "cells did not start: it exited with status 1" in err, err
    assert "it wrote nothing during this start" in err and "MsgId" not in err, err


def test_a_command_the_kernel_cannot_run_shows_the_exit_status_and_the_exec_message(home, tmp_path):
    bad = tmp_path / "not-a-program"
    bad.write_bytes(b"\x00\x01 no shebang, no ELF")
    bad.chmod(0o755)
    r = start(home, "--", str(bad))
    err = r.stderr.decode()
    assert r.returncode == 1 and "cells did not start: it exited with status 126" in err, err
    assert f"cellsrun exec: cannot run {bad}: Exec format error" in err, err
    assert not supervisord_of(home)


def test_ctrl_c_during_start_says_what_state_the_service_is_in(home):
    slow = "import time; print('warming up', flush=True); time.sleep(600)"
    p = subprocess.Popen(cellsrun_cmd("start", "--home", str(home), "--startsecs", "60", "--", sys.executable,
                                      "-c", slow), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    try:
        wait_for(lambda: (home / "run" / "supervisord.sock").exists()
                 and programs(home).get("cells", {}).get("state") == "STARTING", 30, "cells STARTING")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    err = err.decode()
    assert p.returncode == 130, (out, err)
    assert err.startswith("Error: interrupted: cells is STARTING") and "cellsrun status" in err, err
    r = run("status", "--home", str(home))
    assert re.search(r"^cells\s+STARTING", r.stdout.decode(), re.M), r.stdout  # supervisord still answers
    r = run("stop", "--home", str(home), "--all", timeout=90)
    assert r.returncode == 0 and "stopped everything" in r.stdout.decode(), r.stdout + r.stderr
    assert not supervisord_of(home)


def test_starting_twice_and_stopping_twice_say_so(home):
    assert start(home, "--demo").returncode == 0
    pid = programs(home)["cells"]["pid"]
    r = start(home)
    first = r.stdout.decode().splitlines()[0]
    assert r.returncode == 0 and re.fullmatch(rf"cells is already running \(pid {pid}, up \d\d:\d\d:\d\d\)", first), first
    assert programs(home)["cells"]["pid"] == pid

    r = run("stop", "--home", str(home))
    assert r.returncode == 0 and r.stdout.decode().startswith("stopped the service"), r.stdout
    r = run("stop", "--home", str(home))
    assert r.returncode == 0 and r.stdout.decode().startswith("cells was not running (STOPPED)"), r.stdout
    r = run("stop", "--home", str(home), "--all", timeout=90)
    assert r.returncode == 0 and r.stdout.decode().rstrip().endswith("stopped everything"), r.stdout
    r = run("stop", "--home", str(home), "--all", timeout=90)
    assert r.returncode == 0 and r.stdout.decode() == f"nothing was running ({home})\n", r.stdout
    r = run("stop", "--home", str(home))
    assert r.returncode == 0 and r.stdout.decode() == f"cells was not running (no supervisord runs for {home})\n"


def test_status_labels_what_the_time_of_a_stopped_program_is(home):
    assert start(home, "--demo").returncode == 0
    assert run("stop", "--home", str(home)).returncode == 0
    r = run("status", "--home", str(home))
    text = r.stdout.decode()
    assert re.search(r"^cells\s+STOPPED\s+pid -\s+stopped at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", text, re.M), text
    data = json.loads(run("status", "--home", str(home), "--json").stdout)
    cells = next(p for p in data["programs"] if p["name"] == "cells")
    assert cells["uptime_s"] is None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", cells["stopped_at"])


def test_the_page_is_added_to_a_running_service_without_touching_it(home):
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert start(home, "--demo").returncode == 0
    pid = programs(home)["cells"]["pid"]
    r = start(home, "--web", "--web-listen", f"127.0.0.1:{port}")
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
    now = programs(home)
    assert now["cells-logs-web"]["state"] == "RUNNING" and now["cells"]["pid"] == pid
