"""A system supervisord (Debian's package, on a config of its own in a temp dir) running the
blocks of `cellsrun config --supervisor`: printing them never breaks it, the service options
and `--user` reach the blocks, and `status`, `stop` and `start` work against it."""

from __future__ import annotations

import configparser
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import psutil
import pytest

from conftest import child_env, run, wait_for
from supervised import SYSTEM_SUPERVISORD, SystemSupervisord, alive, msgids, of_home, pair_running, roles

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(SYSTEM_SUPERVISORD),
                                 reason="Debian's supervisor package is not installed (.ci/run installs it)")]


@pytest.fixture
def home():
    """A working dir that does not exist yet (under a short temp dir); whatever runs from it
    is killed afterwards."""
    top = Path(tempfile.mkdtemp(prefix="crh", dir="/tmp"))
    os.chmod(top, 0o755)  # a --user service must reach its working dir
    path = top / "cells"
    yield path
    for p in of_home(path):
        p.kill()
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def system():
    sd = SystemSupervisord(Path(tempfile.mkdtemp(prefix="cre", dir="/tmp")))
    yield sd
    sd.kill_all()


def config(home: Path, *args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "cellsrun", "config", "--supervisor", "--home", str(home), *args],
                          capture_output=True, env=child_env(), timeout=60)


def blocks_of(text: bytes) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"))  # as supervisord reads it
    parser.read_string(text.decode())
    return parser


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def check_private(home: Path, uid: int = 0) -> None:
    """Directories 0750, files 0640, all owned by ``uid`` (the README's promise)."""
    for d in (home, home / "run", home / "logs"):
        assert (mode(d), d.stat().st_uid) == ("0o750", uid), d
    for f in (home / "cellsrun.toml", home / "logs" / "cellsrun-exec.log", home / "logs" / "cellsrun-rotate.log",
              home / "logs" / "cells.out"):
        assert (mode(f), f.stat().st_uid) == ("0o640", uid), f


def both_running(system) -> bool:
    status = system.ctl("status")
    return bool(re.search(r"^cells\s+RUNNING", status, re.M) and re.search(r"^cells-logs\s+RUNNING", status, re.M))


def runs_of(ids: list[int]) -> list[list[int]]:
    """MsgIds split where the demo started again at 1; each run must be 1..n with no gap."""
    runs: list[list[int]] = []
    for i in ids:
        if i == 1 or not runs:
            runs.append([])
        runs[-1].append(i)
    for r in runs:
        assert r == list(range(1, len(r) + 1)), "a MsgId is missing, repeated or out of order"
    return runs


def test_blocks_for_a_fresh_working_dir_join_a_running_supervisord_without_breaking_it(home, system):
    """Before: the log dir did not exist, so `reread` failed (CANT_REREAD) and `update` faulted."""
    sd = system.start()  # the machine's supervisord, already running
    assert not home.exists()
    r = config(home, "--demo", "--", "--rate", "2000")
    assert r.returncode == 0, r.stderr
    system.install(r.stdout)
    out = system.ctl("reread")
    assert "cells: available" in out and "cells-logs: available" in out, out
    out = system.ctl("update")
    assert "cells: added process group" in out and "cells-logs: added process group" in out, out
    wait_for(lambda: pair_running(home, sd), 30, "the pair under Debian's supervisord", lambda: system.ctl("status"))
    wait_for(lambda: both_running(system), 30, "both RUNNING", lambda: system.ctl("status"))
    live = home / "logs" / "cells.out"
    wait_for(lambda: live.exists() and len(msgids(live.read_bytes())) > 1000, 20, "demo lines", live.stat)
    check_private(home)

    assert "cells: stopped" in system.ctl("stop", "cells")
    assert "cells: started" in system.ctl("start", "cells")
    count = len(msgids(live.read_bytes()))
    out = system.ctl("restart", "cells-logs")
    assert "cells-logs: stopped" in out and "cells-logs: started" in out, out
    wait_for(lambda: len(msgids(live.read_bytes())) > count + 2000, 20, "lines after the rotator's restart")
    system.ctl("stop", "cells")
    fifo = home / "run" / "cells.fifo"
    from cellsrun.fifo import fifo_bytes
    wait_for(lambda: fifo_bytes(str(fifo)) == 0, 10, "the FIFO to drain")
    wait_for(lambda: live.read_bytes().endswith(b"\n"), 10, "the last line")
    runs = runs_of(msgids(live.read_bytes()))
    assert len(runs) == 2 and len(runs[1]) > 2000, [len(r) for r in runs]
    assert sd.is_running() and "RUNNING" in system.ctl("status", "cells-logs")


def test_a_supervisord_started_with_blocks_for_a_fresh_working_dir_starts(home, system):
    """Before: Debian's supervisord refused to start at all ("The directory named as part of
    the path .../logs/cellsrun-rotate.log does not exist"), taking every program down."""
    r = config(home, "--demo")
    assert r.returncode == 0, r.stderr
    system.install(r.stdout)
    sd = system.start()
    wait_for(lambda: pair_running(home, sd), 30, "the pair under Debian's supervisord", lambda: system.ctl("status"))


def test_config_takes_the_service_options_of_start_and_saves_them(home):
    r = config(home, "--log", "production", "--keep-days", "9", "--max-total", "5GB", "--compress", "none",
               "--startsecs", "7", "--", "/bin/sleep", "1000")
    assert r.returncode == 0, r.stderr
    parser = blocks_of(r.stdout)
    rotate = shlex.split(parser["program:cells-logs"]["command"].replace("%%", "%"))
    service = shlex.split(parser["program:cells"]["command"].replace("%%", "%"))
    assert rotate[rotate.index("--keep-days") + 1] == "9" and rotate[rotate.index("--compress") + 1] == "none"
    assert rotate[rotate.index("--max-total") + 1] == str(5 << 30)
    assert rotate[rotate.index("--format") + 1] == "json"
    assert service[service.index("--log") + 1] == "production"
    assert service[service.index("--") + 1:] == ["/bin/sleep", "1000"]
    assert parser["program:cells"]["startsecs"] == "7"
    for block in ("program:cells", "program:cells-logs"):
        assert parser[block]["umask"] == "027" and "user" not in parser[block]
    import tomllib
    saved = tomllib.loads((home / "cellsrun.toml").read_text())
    assert saved["command"] == ["/bin/sleep", "1000"] and saved["keep_days"] == 9 and saved["demo"] is False

    r = config(home, "--demo", "--", "--rate", "5")
    service = shlex.split(blocks_of(r.stdout)["program:cells"]["command"].replace("%%", "%"))
    assert service[-4:] == ["cellsrun", "demo", "--rate", "5"], service
    r = config(home, "--web", "--web-listen", "127.0.0.1:18035")  # the page, with the same settings
    web = blocks_of(r.stdout)["program:cells-logs-web"]
    assert web["umask"] == "027" and "127.0.0.1:18035" in web["command"]
    assert mode(home / "logs" / "cellsrun-web.log") == "0o640"
    r = config(home, "--", "/no/such/binary")  # not installed yet: said, but the blocks are printed
    assert r.returncode == 0 and r.stderr.decode().startswith("warning: command not found: /no/such/binary"), r.stderr
    assert "[program:cells]" in r.stdout.decode()


# -- --user ---------------------------------------------------------------------------------

NOBODY = "nobody"


@pytest.fixture
def public_python():
    """A Python with cellsrun's dependencies that an unprivileged user can run (the test's own
    lives under /root, which is 0700): a venv of Debian's python3, the packages copied in."""
    base = "/usr/bin/python3"
    probe = subprocess.run([base, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                           capture_output=True, text=True) if os.path.exists(base) else None
    if not probe or probe.stdout.strip() != "True":
        pytest.skip("needs /usr/bin/python3 >= 3.11")
    top = Path(tempfile.mkdtemp(prefix="crp", dir="/tmp"))
    os.chmod(top, 0o755)
    subprocess.run([base, "-m", "venv", "--without-pip", str(top / "venv")], check=True)
    site = next((top / "venv" / "lib").glob("python3.*/site-packages"))
    ours = Path(sysconfig.get_paths()["purelib"])
    for name in ("psutil", "msgspec", "tomli_w", "supervisor"):
        shutil.copytree(ours / name, site / name)
    yield str(top / "venv" / "bin" / "python")
    shutil.rmtree(top, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="--user needs root")
def test_user_runs_both_programs_as_that_user_with_a_private_working_dir(home, system, public_python):
    user = pwd.getpwnam(NOBODY)
    top, home = home, home / "srv" / "cells"  # the directories made above it go to the user too
    r = config(home, "--user", NOBODY, "--demo", "--", "--rate", "500", python=public_python)
    assert r.returncode == 0, r.stderr
    parser = blocks_of(r.stdout)
    for block in ("program:cells", "program:cells-logs"):
        assert parser[block]["user"] == NOBODY and parser[block]["umask"] == "027"
    assert f'HOME="{user.pw_dir}"' in parser["program:cells"]["environment"]
    system.install(r.stdout)
    sd = system.start()
    wait_for(lambda: pair_running(home, sd) and both_running(system), 30, "the pair RUNNING under Debian's "
             "supervisord", lambda: system.ctl("status"))
    live = home / "logs" / "cells.out"
    wait_for(lambda: live.exists() and len(msgids(live.read_bytes())) > 100, 20, "demo lines")
    found = roles(of_home(home))
    for p in found["rotator"] + found["service"]:
        assert p.uids().effective == user.pw_uid and p.uids().real == user.pw_uid, (p.cmdline(), p.uids())
    assert found["supervisord"] == [] or all(p.uids().effective == 0 for p in found["supervisord"])
    check_private(home, user.pw_uid)
    assert [(d.stat().st_uid, mode(d)) for d in (top, top / "srv")] == [(user.pw_uid, "0o750")] * 2

    # root's `cellsrun status` trusts a working dir owned by the user the system's blocks name
    r = run("status", "--home", str(home), "--supervisor-conf", str(system.conf))
    text = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode() + text
    assert re.search(r"^cells\s+RUNNING", text, re.M), text


@pytest.mark.skipif(os.geteuid() != 0, reason="--user needs root")
def test_user_who_cannot_run_cellsrun_or_does_not_exist_is_refused_before_anything_is_made(home):
    r = config(home, "--user", "no-such-user-x")
    assert r.returncode == 2 and b"no user 'no-such-user-x'" in r.stderr, r.stderr
    assert not home.exists()
    if not sys.executable.startswith("/root/"):
        pytest.skip("this Python is not under /root")
    r = config(home, "--user", NOBODY, "--demo")
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith(f"Error: the user {NOBODY} cannot run cellsrun"), err
    assert r.stdout == b"" and not home.exists()


# -- status, stop and start against the system supervisord -----------------------------------

def test_status_stop_start_work_through_the_system_supervisord(home, system):
    sd = system.start()
    r = config(home, "--demo", "--", "--rate", "500")
    system.install(r.stdout)
    system.ctl("update")
    wait_for(lambda: pair_running(home, sd) and both_running(system), 30, "the pair RUNNING under Debian's "
             "supervisord", lambda: system.ctl("status"))
    service = next(p for p in sd.children() if " demo" in " ".join(p.cmdline()))

    r = run("status", "--home", str(home))  # found through the processes
    text = r.stdout.decode()
    assert r.returncode == 0, text
    assert re.search(rf"^supervisord\s+running\s+pid {sd.pid}\s+up .*\(system: {re.escape(str(system.conf))}\)$",
                     text, re.M), text
    assert re.search(rf"^cells\s+RUNNING\s+pid {service.pid}\s", text, re.M), text

    r = run("stop", "--home", str(home))
    assert r.returncode == 0 and "stopped the service" in r.stdout.decode(), r.stdout + r.stderr
    assert re.search(r"^cells\s+STOPPED", system.ctl("status"), re.M) and not alive(service)
    r = run("stop", "--home", str(home))
    assert r.returncode == 0 and "cells was not running" in r.stdout.decode(), r.stdout
    r = run("start", "--home", str(home), timeout=90)
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
    new = next(p for p in sd.children() if " demo" in " ".join(p.cmdline()))
    assert re.search(rf"^cells\s+RUNNING\s+pid {new.pid}\s", r.stdout.decode(), re.M), r.stdout
    assert not (home / "supervisord.conf").exists() and not (home / "run" / "supervisord.pid").exists()
    r = run("start", "--home", str(home), timeout=90)
    assert r.returncode == 0 and "cells is already running" in r.stdout.decode(), r.stdout
    r = run("restart", "--home", str(home), timeout=90)
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
    again = next(p for p in sd.children() if " demo" in " ".join(p.cmdline()))
    assert again.pid != new.pid and re.search(rf"^cells\s+RUNNING\s+pid {again.pid}\s", r.stdout.decode(), re.M)
    r = run("start", "--home", str(home), "--keep-days", "3", timeout=90)
    err = r.stderr.decode()
    assert r.returncode == 2 and "run by the system's supervisord" in err and "config --supervisor" in err, err

    r = run("stop", "--home", str(home), "--all", timeout=90)
    out = r.stdout.decode()
    assert r.returncode == 0 and "stopped everything" in out and f"supervisord (pid {sd.pid}) keeps running" in out, out
    assert sd.is_running() and not of_home(home)
    # nothing of the working dir runs now: the conf tells where its programs are
    r = run("status", "--home", str(home), "--supervisor-conf", str(system.conf))
    assert r.returncode == 1 and re.search(r"^cells\s+STOPPED", r.stdout.decode(), re.M), r.stdout
    r = run("start", "--home", str(home), "--supervisor-conf", str(system.conf), timeout=90)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: pair_running(home, sd), 30, "the pair again", lambda: system.ctl("status"))
