"""When supervisord itself dies: its children end (in the order that loses nothing), and
`start`, `status` and `stop --all` deal with whatever is left (psutil's view, not supervisord's)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from conftest import REPO, child_env, run, wait_for
from supervised import (MSGID, SYSTEM_SUPERVISORD, SystemSupervisord, alive, msgids, of_home,
                        pair_running, roles)

pytestmark = pytest.mark.slow
STOPPING = b"Stopping: signal received, last entry"
NOBODY = 65534


def check_tail_kept(live: Path) -> list[int]:
    """MsgIds run 1..N with none lost, and the service's very last line (written after its
    TERM) is there: nothing was lost up to the service's last line."""
    data = live.read_bytes()
    ids = msgids(data)
    assert ids == list(range(1, len(ids) + 1)), "a MsgId is missing, repeated or out of order"
    last = [line for line in data.splitlines() if MSGID.search(line)][-1]
    assert STOPPING in last, f"the service's last line is missing; the log ends with {last[:120]!r}"
    return ids


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="cro", dir="/tmp"))
    yield path
    run("stop", "--home", str(path), "--all", timeout=120)
    for p in of_home(path):
        p.kill()
    shutil.rmtree(path, ignore_errors=True)


def start(home: Path, *args: str) -> subprocess.CompletedProcess:
    r = run("start", "--home", str(home), *args, timeout=120)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    return r


def test_supervisord_killed_under_load_its_children_end_and_nothing_is_lost(home):
    start(home, "--demo", "--", "--rate", "2000")
    live = home / "logs" / "cells.out"
    wait_for(lambda: len(msgids(live.read_bytes())) > 4000, 20, "2 s of demo lines", live.stat)
    [sd] = roles(of_home(home))["supervisord"]
    assert sd.num_threads() == 1  # the parent-death signal follows the forking *thread*
    children = sd.children(recursive=True)
    assert len(children) == 4  # the rotator, the demo and its two helpers

    sd.kill()
    killed_at = time.monotonic()
    wait_for(lambda: not [p for p in children if alive(p)], 5, "the orphans to end within 5 s",
             lambda: [p.pid for p in children if alive(p)])
    took = time.monotonic() - killed_at
    assert not of_home(home), of_home(home)
    ids = check_tail_kept(live)
    print(f"orphans ended {took:.2f}s after supervisord's SIGKILL; {len(ids)} MsgIds, none lost")
    rotate_log = (home / "logs" / "cellsrun-rotate.log").read_text()
    assert "Traceback" not in rotate_log

    r = start(home, "--demo", "--", "--rate", "2000")
    assert "ended" not in r.stdout.decode()  # nothing was left to end
    wait_for(lambda: len(roles(of_home(home))["service"]) == 3, 10, "the new service tree",
             lambda: of_home(home))
    now = roles(of_home(home))
    assert len(now["supervisord"]) == 1 and len(now["rotator"]) == 1
    assert len(now["service"]) == 3  # one demo and its two helpers: one service tree
    new_sd = now["supervisord"][0]
    assert {p.pid for p in new_sd.children(recursive=True)} == {p.pid for p in now["rotator"] + now["service"]}

    r = run("stop", "--home", str(home), "--all", timeout=120)
    assert r.returncode == 0 and r.stdout.decode().rstrip().endswith("stopped everything"), r.stdout
    assert not of_home(home)


def setuid_python(tmp: Path) -> Path:
    """A copy of the system Python that is set-uid nobody: exec'ing it clears the
    parent-death signal, as for any set-uid service."""
    os.chmod(tmp, 0o755)
    py = tmp / "py-setuid"
    shutil.copy("/usr/bin/python3", py)
    os.chown(py, NOBODY, NOBODY)
    os.chmod(py, 0o4755)
    return py


SERVICE = textwrap.dedent('''
    import signal, sys, time
    n = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    while not stop:
        n += 1
        sys.stdout.write('{"MsgId": "%d", "msg": "tick"}\\n' % n)
        sys.stdout.flush()
        time.sleep(0.0005)
    n += 1
    sys.stdout.write('{"MsgId": "%d", "msg": "Stopping: signal received, last entry"}\\n' % n)
    sys.stdout.flush()
''')


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"),
                                reason="a set-uid service needs root and /usr/bin/python3")


@needs_root
def test_a_setuid_service_outlives_supervisord_and_start_ends_it_first(home):
    """The kernel clears the parent-death signal across a set-uid exec: the service survives
    supervisord's SIGKILL. status lists it (and the rotator, still draining it) as orphans;
    start ends the service first, the rotator once it has read the last lines, in one line."""
    bindir = Path(tempfile.mkdtemp(prefix="crb", dir="/tmp"))
    try:
        py = setuid_python(bindir)
        script = bindir / "service.py"
        script.write_text(SERVICE)
        os.chmod(script, 0o644)
        (home / "cellsrun.toml").write_text("stopwaitsecs = 5\n")
        start(home, "--", str(py), str(script))
        assert "is set-uid" in (home / "logs" / "cellsrun-exec.log").read_text()
        live = home / "logs" / "cells.out"
        wait_for(lambda: len(msgids(live.read_bytes())) > 500, 20, "service lines", live.stat)
        [sd] = roles(of_home(home))["supervisord"]
        service = [p for p in sd.children() if "service.py" in " ".join(p.cmdline())]
        assert service and service[0].uids().effective == NOBODY
        sd.kill()
        time.sleep(2)  # a normal service would have ended by now (see the test above)
        left = roles(of_home(home))
        assert [p.pid for p in left["service"]] == [service[0].pid], "the set-uid service ran on"
        assert len(left["rotator"]) == 1, "the rotator reads on while the service writes"

        status = run("status", "--home", str(home))
        text = status.stdout.decode()
        assert status.returncode == 1 and "orphans" in text
        assert re.search(rf"^\s+{service[0].pid} service\s", text, re.M), text
        assert re.search(rf"^\s+{left['rotator'][0].pid} rotator\s", text, re.M), text

        r = start(home, "--demo")
        first = r.stdout.decode().splitlines()[0]
        assert re.fullmatch(rf"ended 2 process\(es\) left running by a supervisord that died \({home}\): "
                            rf"the service's pid {service[0].pid}, then the rotator pid "
                            rf"{left['rotator'][0].pid} once the FIFO was drained", first), first
        data = live.read_bytes()
        old = data[:data.index(STOPPING)]
        ids = msgids(old + STOPPING)
        assert ids == list(range(1, len(ids) + 1)) and len(ids) > 500
        now = roles(of_home(home))
        assert len(now["rotator"]) == 1 and len(now["service"]) == 3 and len(now["supervisord"]) == 1
    finally:
        shutil.rmtree(bindir, ignore_errors=True)


def test_stop_all_ends_orphans_that_ignore_term_and_only_then_says_stopped_everything(home):
    (home / "cellsrun.toml").write_text("stopwaitsecs = 1\n")
    stubborn = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "[(print('still here', flush=True), time.sleep(0.01)) for _ in iter(int, 1)]")
    start(home, "--", sys.executable, "-c", stubborn)
    [sd] = roles(of_home(home))["supervisord"]
    sd.kill()
    time.sleep(1)
    left = roles(of_home(home))
    assert len(left["service"]) == 1 and len(left["rotator"]) == 1, "TERM ignored: both run on"
    r = run("stop", "--home", str(home), "--all", timeout=120)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert f"killed pid {left['service'][0].pid}, which ignored TERM" in out, out
    assert out.rstrip().endswith("stopped everything") and not of_home(home)


def test_parent_death_signal_details_setuid_and_the_forking_thread(tmp_path):
    """The two kernel details, seen on `cellsrun exec` itself: the signal fires when the
    *thread* that forked ends (the process lives on), and a set-uid exec clears it."""
    fifo = tmp_path / "f.fifo"
    probe = ("import ctypes, os, sys, time; v = ctypes.c_int(); "
             "ctypes.CDLL(None).prctl(2, ctypes.byref(v), 0, 0, 0); "
             "open(sys.argv[1], 'w').write(str(v.value)); time.sleep(60)")
    got = {}

    def spawn(name, python):
        out = tmp_path / name
        got[name] = subprocess.Popen(
            [sys.executable, "-m", "cellsrun", "exec", "--output", str(fifo), "--", python, "-c", probe,
             str(out)], env=child_env())
        wait_for(out.exists, 20, "the service to start")  # then this thread ends

    t = threading.Thread(target=spawn, args=("plain", sys.executable))
    t.start()
    t.join()  # the forking thread has ended; this process lives on
    proc = got["plain"]
    assert proc.wait(10) == -signal.SIGTERM, "the service should get TERM when its forking thread ends"
    assert (tmp_path / "plain").read_text() == str(int(signal.SIGTERM))

    if os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"):
        pytest.skip("the set-uid half needs root")
    bindir = Path(tempfile.mkdtemp(prefix="crb", dir="/tmp"))
    try:
        py = setuid_python(bindir)
        out = bindir / "probe.out"
        os.chmod(bindir, 0o777)  # the probe writes here as nobody
        err = subprocess.run([sys.executable, "-m", "cellsrun", "exec", "--output", str(fifo), "--",
                              str(py), "-c", probe.replace("time.sleep(60)", "None"), str(out)],
                             env=child_env(), capture_output=True, timeout=30)
        assert out.read_text() == "0", "a set-uid exec must have cleared the parent-death signal"
        assert b"is set-uid" in err.stderr and b"cellsrun start` ends it" in err.stderr
    finally:
        shutil.rmtree(bindir, ignore_errors=True)


def test_a_manual_rotator_does_not_die_with_its_shell(tmp_path):
    """A rotator started by hand (no --exit-with-parent) outlives the shell that started it."""
    fifo = tmp_path / "in.fifo"
    script = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-m', 'cellsrun', 'rotate', "
              "'--input', sys.argv[1], '--dir', sys.argv[2]], stdout=subprocess.DEVNULL, "
              "stderr=subprocess.DEVNULL); print(p.pid, flush=True)")
    out = subprocess.run([sys.executable, "-c", script, str(fifo), str(tmp_path / "logs")],
                         env=child_env(), capture_output=True, timeout=30)
    rotator = psutil.Process(int(out.stdout.split()[0]))
    try:
        wait_for(lambda: (tmp_path / "logs" / "cells.out").exists(), 10, "the rotator to open its file")
        time.sleep(0.5)
        assert alive(rotator), "a rotator without --exit-with-parent must not end with its parent"
    finally:
        rotator.terminate()
        rotator.wait(10)


# -- Debian's system supervisord with the blocks of `cellsrun config --supervisor` ----------

@pytest.mark.skipif(not os.path.exists(SYSTEM_SUPERVISORD),
                    reason="Debian's supervisor package is not installed (.ci/run installs it)")
def test_under_debians_supervisord_a_restart_leaves_one_pair(home):
    etc = Path(tempfile.mkdtemp(prefix="cre", dir="/tmp"))
    system = SystemSupervisord(etc)
    sd = None
    try:
        (home / "cellsrun.toml").write_text('demo = true\ncommand = ["--rate", "2000"]\n')
        blocks = run("config", "--supervisor", "--home", str(home))
        assert blocks.returncode == 0, blocks.stderr
        (etc / "conf.d" / "cells.conf").write_bytes(blocks.stdout)
        sd = system.start()
        wait_for(lambda: pair_running(home, sd), 30, "the pair under Debian's supervisord",
                 lambda: system.ctl("status"))
        live = home / "logs" / "cells.out"
        wait_for(lambda: len(msgids(live.read_bytes())) > 2000, 20, "demo lines", live.stat)

        # `cellsrun start` on the same working dir acts through that supervisord: no second pair.
        wait_for(lambda: len(re.findall(r"\sRUNNING\s", system.ctl("status"))) == 2, 30, "both RUNNING",
                 lambda: system.ctl("status"))
        r = run("start", "--home", str(home), timeout=60)
        assert r.returncode == 0 and "cells is already running" in r.stdout.decode(), r.stdout + r.stderr
        assert pair_running(home, sd)
        # blocks in a file others may write decide nothing (their user= would own the working dir)
        blocks_file = etc / "conf.d" / "cells.conf"
        blocks_file.chmod(0o666)
        r = run("stop", "--home", str(home), "--all", timeout=60)
        assert r.returncode == 1 and "is writable by group and others" in r.stderr.decode(), r.stderr
        blocks_file.chmod(0o644)
        # a supervisord that runs the programs from blocks cellsrun cannot find any more (taken out
        # of its configuration, not yet `update`d): `start` would start a second pair: refused,
        blocks_file.rename(etc / "cells.conf.off")
        r = run("start", "--home", str(home), timeout=60)
        assert r.returncode == 1 and f"under another supervisord (pid {sd.pid})" in r.stderr.decode()
        # and `stop --all` does not claim to have stopped what another supervisord runs
        r = run("stop", "--home", str(home), "--all", timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 1 and "stopped everything" not in r.stdout.decode(), r.stdout
        assert err.startswith("Error: still running after stop --all: ") and f"(under supervisord {sd.pid})" in err
        assert pair_running(home, sd)
        (etc / "cells.conf.off").rename(blocks_file)

        old = sd.children(recursive=True)
        sd.kill()  # a hard restart: SIGKILL, then started again at once
        sd = system.start()
        wait_for(lambda: not [p for p in old if alive(p)], 5, "the old pair to end within 5 s",
                 lambda: [p.pid for p in old if alive(p)])
        wait_for(lambda: pair_running(home, sd), 30, "exactly one pair after the hard restart",
                 lambda: (system.ctl("status"), roles(of_home(home))))
        assert STOPPING in live.read_bytes(), "the old service's last line"

        old = sd.children(recursive=True)
        sd.terminate()  # an ordinary restart
        sd.wait(60)
        sd = system.start()
        assert not [p for p in old if alive(p)]
        wait_for(lambda: pair_running(home, sd), 30, "exactly one pair after the restart",
                 lambda: roles(of_home(home)))
        sd.terminate()
        sd.wait(60)
        sd = None
        assert not of_home(home)
    finally:
        for p in psutil.process_iter(["cmdline"]):
            if str(etc) in " ".join(p.info["cmdline"] or []):
                p.kill()  # whichever of our Debian supervisords a failure left
        for p in of_home(home):
            p.kill()
        shutil.rmtree(etc, ignore_errors=True)
