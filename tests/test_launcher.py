"""The launcher under a real supervisord: start, status, stop, restart, exec, demo, config."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import psutil
import pytest

from conftest import REPO, child_env, run, wait_for

pytestmark = pytest.mark.slow
MSGID = re.compile(rb'"MsgId": ?"(\d+)"')


def supervisorctl(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(home / "supervisord.conf"),
                           *args], capture_output=True, text=True, timeout=60, env=child_env())


def supervisord_of(home: Path) -> list[psutil.Process]:
    conf = str(home / "supervisord.conf")
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any("supervisord" in c for c in cmd) and conf in cmd:
            found.append(p)
    return found


@pytest.fixture
def home():
    """A short working dir (a unix socket path must stay under ~100 bytes); whatever runs
    from it is stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="cr", dir="/tmp"))
    yield path
    run("stop", "--home", str(path), "--all", timeout=90)
    for p in supervisord_of(path):
        p.kill()
    shutil.rmtree(path, ignore_errors=True)


def start(home: Path, *args: str, env=None):
    return run("start", "--home", str(home), *args, env=env, timeout=90)


def program_info(home: Path) -> dict:
    r = run("status", "--home", str(home), "--json")
    data = json.loads(r.stdout)
    return {p["name"]: p for p in data["programs"]}


def msgids(data: bytes) -> list[int]:
    return [int(m) for m in MSGID.findall(data)]


def test_start_status_stop_restart(home):
    r = start(home, "--demo", "--", "--rate", "200")
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
    out = r.stdout.decode()
    assert re.search(r"^cells\s+RUNNING", out, re.M) and re.search(r"^cells-logs\s+RUNNING", out, re.M), out
    live = home / "logs" / "cells.out"
    wait_for(lambda: live.exists() and len(msgids(live.read_bytes())) > 50, 20, "demo lines in cells.out",
             lambda: str(list((home / "logs").iterdir())))
    assert oct((home / "run").stat().st_mode & 0o777) == "0o750"
    assert oct((home / "run" / "supervisord.sock").stat().st_mode & 0o777) == "0o700"
    assert oct(live.stat().st_mode & 0o777) == "0o640"
    assert "[inet_http_server]" not in (home / "supervisord.conf").read_text()
    check_status_against_the_system(home)
    first = program_info(home)["cells"]["pid"]

    r = run("restart", "--home", str(home), timeout=90)
    assert r.returncode == 0, r.stderr
    info = program_info(home)
    assert info["cells"]["state"] == "RUNNING" and info["cells"]["pid"] != first

    r = run("stop", "--home", str(home))
    assert r.returncode == 0 and "stopped the service" in r.stdout.decode()
    info = program_info(home)
    assert info["cells"]["state"] == "STOPPED" and info["cells-logs"]["state"] == "RUNNING"
    assert run("status", "--home", str(home)).returncode == 1  # the service is not running

    r = run("stop", "--home", str(home), "--all", timeout=90)
    assert r.returncode == 0
    wait_for(lambda: not supervisord_of(home), 20, "supervisord to exit", lambda: supervisord_of(home))
    saved = tomllib.loads((home / "cellsrun.toml").read_text())
    assert saved["demo"] is True and saved["command"] == ["--rate", "200"]


def check_status_against_the_system(home: Path) -> None:
    """What `status` prints and what `status --json` holds agree with what psutil and the
    files say (not merely that its labels are there)."""
    [sd] = supervisord_of(home)
    children = {(" ".join(c.cmdline())): c.pid for c in sd.children()}
    service_pid = next(pid for cmd, pid in children.items() if " demo" in cmd)
    rotator_pid = next(pid for cmd, pid in children.items() if " rotate " in cmd)
    tree = sorted([service_pid] + [c.pid for c in psutil.Process(service_pid).children(recursive=True)])
    live = home / "logs" / "cells.out"
    before = live.stat().st_size
    r = run("status", "--home", str(home))
    after = live.stat().st_size
    text = r.stdout.decode()
    assert r.returncode == 0, text
    assert re.search(rf"^supervisord\s+running\s+pid {sd.pid}\s+up 00:00:\d\d\s+\({re.escape(str(home))}\)$", text, re.M), text
    assert re.search(rf"^cells\s+RUNNING\s+pid {service_pid}\s+up ", text, re.M), text
    assert re.search(rf"^cells-logs\s+RUNNING\s+pid {rotator_pid}\s+up ", text, re.M), text
    shown_tree = sorted(int(m) for m in re.findall(r"^\s+(\d+)\s+\d+\s+[\d.]+ [KM]?i?B\s", text, re.M))
    assert shown_tree == tree, text
    size = re.search(r"^cells\.out\s+([\d.]+) (B|KiB|MiB)\s", text, re.M)
    shown = float(size.group(1)) * {"B": 1, "KiB": 1024, "MiB": 1 << 20}[size.group(2)]
    assert before * 0.95 <= shown <= after * 1.05 + 1024, (before, shown, after)
    assert re.search(r"^FIFO waiting\s+\d+(\.\d)? (B|KiB|MiB)$", text, re.M), text
    assert re.search(r"^last rotation none yet$", text, re.M), text
    data = json.loads(run("status", "--home", str(home), "--json").stdout)
    assert data["supervisord"]["pid"] == sd.pid and data["orphans"] == []
    assert sorted(r["pid"] for r in data["service_tree"]) == tree and len(tree) == 3
    assert {p["name"]: p["pid"] for p in data["programs"]} == {"cells": service_pid, "cells-logs": rotator_pid}


def test_plain_supervisorctl_works_on_it(home):
    assert start(home, "--demo").returncode == 0
    r = supervisorctl(home, "status")
    assert re.search(r"^cells\s+RUNNING", r.stdout, re.M), r.stdout
    assert supervisorctl(home, "stop", "cells").returncode == 0
    assert program_info(home)["cells"]["state"] == "STOPPED"
    assert supervisorctl(home, "start", "cells").returncode == 0
    assert program_info(home)["cells"]["state"] == "RUNNING"


def test_rotator_restarted_five_times_under_5000_lines_per_second(home):
    assert start(home, "--demo", "--", "--rate", "5000").returncode == 0
    live = home / "logs" / "cells.out"
    for i in range(5):
        before = live.stat().st_size
        assert supervisorctl(home, "restart", "cells-logs").returncode == 0
        wait_for(lambda: live.stat().st_size > before + 100_000, 20, f"progress after restart {i}",
                 lambda: live.stat().st_size)
    assert run("stop", "--home", str(home), "--all", timeout=90).returncode == 0
    ids = msgids(live.read_bytes())
    assert len(ids) > 20000
    assert ids == list(range(1, len(ids) + 1)), "a MsgId is missing, repeated or out of order"


def test_service_killed_is_restarted_and_the_rotator_keeps_going(home):
    assert start(home, "--demo", "--", "--rate", "500").returncode == 0
    before = program_info(home)
    root = psutil.Process(before["cells"]["pid"])
    helpers = root.children(recursive=True)
    os.kill(root.pid, signal.SIGKILL)
    wait_for(lambda: program_info(home)["cells"]["pid"] not in (None, before["cells"]["pid"])
             and program_info(home)["cells"]["state"] == "RUNNING", 30, "supervisord to restart the service",
             lambda: program_info(home))
    after = program_info(home)
    assert after["cells-logs"]["pid"] == before["cells-logs"]["pid"]
    live = home / "logs" / "cells.out"
    size = live.stat().st_size
    wait_for(lambda: live.stat().st_size > size + 5000, 20, "new lines from the restarted service",
             lambda: live.stat().st_size)
    # the killed demo's helpers notice and go; nothing is left orphaned
    wait_for(lambda: not [p for p in helpers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE],
             10, "the orphaned helpers to exit", lambda: helpers)


def test_exec_leaves_no_process_between_supervisord_and_the_service(home):
    assert start(home, "--demo").returncode == 0
    pid = program_info(home)["cells"]["pid"]
    cmdline = psutil.Process(pid).cmdline()
    assert "demo" in cmdline and "exec" not in cmdline, cmdline
    assert psutil.Process(pid).ppid() == supervisord_of(home)[0].pid


def test_stop_leaves_no_process_of_the_service_tree(home):
    assert start(home, "--demo").returncode == 0
    root = psutil.Process(program_info(home)["cells"]["pid"])
    tree = [root] + root.children(recursive=True)
    assert len(tree) == 3
    assert run("stop", "--home", str(home)).returncode == 0
    assert [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


def test_stale_pid_file_and_socket_are_detected(home):
    (home / "run").mkdir(parents=True)
    (home / "run" / "supervisord.pid").write_text(str(os.getpid()))  # alive, but not supervisord
    (home / "run" / "supervisord.sock").write_text("stale")
    r = start(home, "--demo")
    assert r.returncode == 0, r.stderr
    assert program_info(home)["cells"]["state"] == "RUNNING"


def test_two_working_dirs_do_not_interfere(home):
    other = Path(tempfile.mkdtemp(prefix="cr", dir="/tmp"))
    try:
        assert start(home, "--demo").returncode == 0
        assert start(other, "--demo", "--log", "production").returncode == 0
        assert program_info(home)["cells"]["pid"] != program_info(other)["cells"]["pid"]
        assert run("stop", "--home", str(other), "--all", timeout=90).returncode == 0
        assert program_info(home)["cells"]["state"] == "RUNNING"
        line = (other / "logs" / "cells.out").read_bytes().splitlines()[0]
        assert line.startswith(b"{")  # production there, console here
        assert not (home / "logs" / "cells.out").read_bytes().startswith(b"{")
    finally:
        run("stop", "--home", str(other), "--all", timeout=90)
        shutil.rmtree(other, ignore_errors=True)


def test_unwritable_working_dir_fails_clearly_and_starts_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("start", "--home", str(blocker / "cells"), "--demo", timeout=60)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.startswith("Error: ") and str(blocker) in err and "Traceback" not in err
    assert not supervisord_of(blocker / "cells")


def test_missing_command_fails_with_its_message_and_leaves_nothing_running(home):
    """Checked before anything is made or started (it was found missing by `cellsrun exec`
    under supervisord before: see test_start_failures.py for what a start still shows)."""
    r = start(home, "--", "/nonexistent/cells", "start")
    assert r.returncode == 2, r.stdout
    err = r.stderr.decode()
    assert err == "Error: command not found: /nonexistent/cells\n", err
    assert not supervisord_of(home)
    assert list(home.iterdir()) == []


def test_a_failed_first_start_creates_nothing(tmp_path):
    """Templates missing (a broken installation): nothing is created, not even the working dir."""
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "cellsrun", pkg / "cellsrun", symlinks=False)
    (pkg / "cellsrun" / "etc" / "programs.conf.tmpl").unlink()
    home = tmp_path / "cells"
    env = child_env()
    env["PYTHONPATH"] = str(pkg)
    try:
        r = run("start", "--home", str(home), "--demo", env=env, timeout=60, cwd=tmp_path)  # not the checkout
        err = r.stderr.decode()
        assert r.returncode == 1 and err.startswith("Error: cannot read the template programs.conf.tmpl"), err
        assert not home.exists()
        # and when the working dir existed: nothing added to it
        home.mkdir(mode=0o750)
        r = run("start", "--home", str(home), "--demo", env=env, timeout=60, cwd=tmp_path)
        assert r.returncode == 1 and list(home.iterdir()) == []
    finally:  # should a start get through, stop what it started
        run("stop", "--home", str(home), "--all", timeout=90)


def test_service_dying_at_start_shows_its_last_lines(home):
    r = start(home, "--startsecs", "3", "--", sys.executable, "-c",
              "import sys; print('config is broken: no database', flush=True); sys.exit(3)")
    assert r.returncode == 1
    assert "config is broken: no database" in r.stderr.decode()
    assert not supervisord_of(home)


def test_a_failed_start_shows_only_its_own_output_not_a_stale_error(home):
    for text in ("first failure: no database", "second failure: port 8080 in use"):
        r = start(home, "--startsecs", "3", "--", sys.executable, "-c",
                  f"import sys; print({text!r}, flush=True); sys.exit(3)")
        assert r.returncode == 1 and text in r.stderr.decode()
    assert "first failure" not in r.stderr.decode(), r.stderr.decode()
    assert "first failure" in (home / "logs" / "cells.out").read_text()  # kept, just not shown


def test_no_command_and_no_cells_suggests_demo(home):
    env = child_env(PATH="/nonexistent")
    r = run("start", "--home", str(home), env=env, timeout=60)
    assert r.returncode == 2 and "--demo" in r.stderr.decode()
    assert not supervisord_of(home)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_production_mode_yields_only_json_lines(home, how):
    if how == "flag":
        r = start(home, "--demo", "--log", "production", "--", "--rate", "3000")
    else:
        r = start(home, "--demo", "--", "--rate", "3000", env=child_env(PYDIO_LOGS_LEVEL="production"))
    assert r.returncode == 0, r.stderr
    live = home / "logs" / "cells.out"
    wait_for(lambda: b'"logger":"cells"' in live.read_bytes(), 30, "a wrapped panic line",
             lambda: live.stat().st_size)  # the demo panics every 5000 lines
    run("stop", "--home", str(home), "--all", timeout=90)
    lines = live.read_bytes().splitlines()
    objects = [json.loads(line) for line in lines]
    assert all(isinstance(o, dict) for o in objects)
    assert any(o.get("msg", "").startswith("panic:") for o in objects)
    ids = [int(o["MsgId"]) for o in objects if "MsgId" in o]
    assert ids == list(range(1, len(ids) + 1))


def test_exec_with_a_missing_command_exits_127(tmp_path):
    r = run("exec", "--output", str(tmp_path / "f.fifo"), "--", "/nonexistent/x")
    assert r.returncode == 127 and b"command not found: /nonexistent/x" in r.stderr


def test_demo_writes_both_formats_with_increasing_msgid():
    console = run("demo", "--rate", "0", "--count", "300").stdout.splitlines()
    entries = [l for l in console if b"\tpydio." in l]
    assert len(entries) >= 300 and all(l.count(b"\t") == 4 for l in entries)
    assert msgids(b"\n".join(console))[:300] == list(range(1, 301))
    produced = run("demo", "--rate", "0", "--count", "100", "--log", "production").stdout.splitlines()
    objs = [json.loads(l) for l in produced if l.startswith(b"{")]
    assert [int(o["MsgId"]) for o in objs if "MsgId" in o][:100] == list(range(1, 101))
    assert {"level", "ts", "logger", "msg", "RemoteAddress", "UserName"} <= set(objs[0])


def test_config_supervisor_prints_program_blocks_from_the_saved_settings(home):
    (home / "cellsrun.toml").write_text('log = "production"\nkeep_days = 9\ncompress = "none"\n'
                                        'startsecs = 7\ncommand = ["/opt/cells/cells", "start", "--x=1 #2"]\n')
    r = run("config", "--home", str(home), "--supervisor")
    text = r.stdout.decode()
    assert r.returncode == 0 and "[program:cells]" in text and "[program:cells-logs]" in text
    import configparser
    import shlex
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"))  # as supervisord reads it
    parser.read_string(text)
    rotate = shlex.split(parser["program:cells-logs"]["command"].replace("%%", "%"))
    service = shlex.split(parser["program:cells"]["command"].replace("%%", "%"))
    assert rotate[rotate.index("--keep-days") + 1] == "9" and rotate[rotate.index("--compress") + 1] == "none"
    assert rotate[rotate.index("--format") + 1] == "json" and "--exit-with-parent" in rotate
    assert service[service.index("--log") + 1] == "production"
    assert service[service.index("--") + 1:] == ["/opt/cells/cells", "start", "--x=1 #2"]
    assert parser["program:cells"]["startsecs"] == "7"
    assert f'CELLSRUN_HOME="{home}"' in parser["program:cells"]["environment"]
    assert f'CELLSRUN_HOME="{home}"' in parser["program:cells-logs"]["environment"]


HOSTILE_ARGS = [
    "100% sure it's \"fine\"; $HOME `id` *",
    "a #not a comment", "a ;not a comment", "#first", ";first", "x\t#tab", "x\t;tab", "a;b#c",
    "%(here)s", "%(ENV_HOME)s", "%%", "%", "trailing %", "\\", "back\\slash\\", "'", "''", '"', "\"'",
    "", " ", "  lead and trail  ", "--", "-c", "=", "a=b", "😀 emoji", "é中\u00a0;nbsp", "\x01\x1b[31m",
    "line\x0bvt", "form\x0cfeed", "{}[]()<>|&!?~^", "$(id)", "a, b", "x\u2028y",
]


def test_any_argument_reaches_the_service_byte_for_byte(home):
    """Each argument of the table goes through cellsrun.toml, supervisord.conf, supervisord's
    parser and shlex, `cellsrun exec` and execve; the service prints what it received."""
    probe = "import json, sys, time; print(json.dumps(sys.argv[1:]), flush=True); time.sleep(600)"
    r = start(home, "--", sys.executable, "-c", probe, *HOSTILE_ARGS)
    assert r.returncode == 0, r.stderr
    live = home / "logs" / "cells.out"
    wait_for(lambda: live.exists() and live.read_bytes().endswith(b"\n"), 20, "the service's line",
             lambda: live)
    received = json.loads(live.read_text())
    for sent, got in zip(HOSTILE_ARGS, received):
        assert got == sent, f"{sent!r} arrived as {got!r}"
    assert len(received) == len(HOSTILE_ARGS)
    # The saved command is read back by the next start: the same arguments again.
    assert run("stop", "--home", str(home), "--all", timeout=90).returncode == 0
    live.unlink()
    assert start(home).returncode == 0
    wait_for(lambda: live.exists() and live.read_bytes().endswith(b"\n"), 20, "the line again")
    assert json.loads(live.read_text()) == HOSTILE_ARGS


@pytest.mark.parametrize("arg, why", [("a\nb", "newline"), ("a\rb", "carriage return")])
def test_an_argument_supervisord_cannot_hold_is_refused_up_front(home, arg, why):
    r = start(home, "--", "/bin/echo", arg)
    err = r.stderr.decode()
    assert r.returncode == 2 and err.startswith("Error: ") and why in err, err
    assert list(home.iterdir()) == [] and not supervisord_of(home)


def test_a_working_dir_with_percent_or_comment_marks_is_refused_up_front(tmp_path):
    for name in ("a%b", "a%(here)s", "a ;b", "a #b", "trailing "):
        home = tmp_path / name
        r = run("start", "--home", str(home), "--demo", timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 2 and err.startswith(f"Error: the working dir {str(home)!r} holds"), err
        assert not home.exists()
    ok = tmp_path / "a#b;c it's"  # no whitespace before ; or #: supervisord keeps it whole
    r = run("config", "--supervisor", "--home", str(ok))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_demo_exits_cleanly_on_term_int_quit(sig):
    p = subprocess.Popen([sys.executable, "-m", "cellsrun", "demo", "--rate", "100"], stdout=subprocess.PIPE,
                         env=child_env())
    seen = [p.stdout.readline() for _ in range(3)]  # helpers write too; the demo itself soon
    assert any(b'"MsgId"' in line for line in seen), seen
    helpers = psutil.Process(p.pid).children()
    assert len(helpers) == 2
    p.send_signal(sig)
    assert p.wait(10) == 0
    p.stdout.close()
    wait_for(lambda: not [h for h in helpers if h.is_running() and h.status() != psutil.STATUS_ZOMBIE],
             10, "the demo's helpers to exit", lambda: helpers)
