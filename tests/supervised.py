"""Helpers for the tests that look at a working dir's processes (psutil, independently of
cellsrun's own code) and that run Debian's supervisord with a config of their own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import psutil

from conftest import child_env, wait_for

MSGID = re.compile(rb'"MsgId": ?"(\d+)"')


def alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def of_home(home: Path) -> list[psutil.Process]:
    """Every live process of the working dir, found independently of cellsrun's own code:
    the environment marker, the FIFO open, or the working dir on the command line."""
    fifo = home / "run" / "cells.fifo"
    try:
        key = (fifo.stat().st_dev, fifo.stat().st_ino)
    except OSError:
        key = None
    found = []
    me = os.getpid()
    for p in psutil.process_iter(["cmdline", "environ"]):
        if p.pid == me or not alive(p):
            continue
        env = p.info["environ"] or {}
        cmd = " ".join(p.info["cmdline"] or [])
        if env.get("CELLSRUN_HOME") == str(home) or str(home) + "/" in cmd or holds(p.pid, key):
            found.append(p)
    return found


def holds(pid: int, key) -> bool:
    if key is None:
        return False
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                st = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == key:
                return True
    except OSError:
        pass
    return False


def roles(procs) -> dict:
    """{"supervisord": [...], "rotator": [...], "service": [...]} by command line."""
    out = {"supervisord": [], "rotator": [], "service": []}
    for p in procs:
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if any("supervisord" in c for c in cmd[:3]):
            out["supervisord"].append(p)
        elif "rotate" in cmd and "--input" in cmd:
            out["rotator"].append(p)
        else:
            out["service"].append(p)
    return out


def msgids(data: bytes) -> list[int]:
    return [int(m) for m in MSGID.findall(data)]


SYSTEM_SUPERVISORD = "/usr/bin/supervisord"
SYSTEM_CONF = """[unix_http_server]
file=%(here)s/supervisor.sock
chmod=0700

[supervisord]
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/supervisor.sock

[include]
files = %(here)s/conf.d/*.conf
"""


class SystemSupervisord:
    """Debian's supervisord (its own Python and package), with its own config in a temp dir,
    never the system's."""

    def __init__(self, etc: Path):
        self.etc = etc
        (etc / "conf.d").mkdir(parents=True)
        (etc / "supervisord.conf").write_text(SYSTEM_CONF)

    def start(self) -> psutil.Process:
        pidfile = self.etc / "supervisord.pid"
        stale = _read_pid(pidfile)  # left by a SIGKILL
        r = subprocess.run([SYSTEM_SUPERVISORD, "-c", str(self.etc / "supervisord.conf")],
                           env=child_env(), capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        pid = wait_for(lambda: (p := _read_pid(pidfile)) != stale and p and psutil.pid_exists(p) and p,
                       20, "Debian's supervisord", lambda: pidfile.read_text())
        return psutil.Process(pid)

    @property
    def conf(self) -> Path:
        return self.etc / "supervisord.conf"

    def ctl(self, *args) -> str:
        return subprocess.run(["/usr/bin/supervisorctl", "-c", str(self.conf), *args],
                              capture_output=True, text=True, timeout=60).stdout

    def install(self, blocks: bytes, name: str = "cells.conf") -> Path:
        """Save blocks as the operator would: in conf.d/."""
        path = self.etc / "conf.d" / name
        path.write_bytes(blocks)
        return path

    def kill_all(self) -> None:
        """Kill whichever of our Debian supervisords a failure left, then remove the dir."""
        for p in psutil.process_iter(["cmdline"]):
            if str(self.etc) in " ".join(p.info["cmdline"] or []):
                try:
                    p.kill()
                except psutil.Error:
                    pass
        shutil.rmtree(self.etc, ignore_errors=True)


def _read_pid(path: Path):
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def pair_running(home: Path, sd: psutil.Process) -> bool:
    now = roles(of_home(home))
    mine = {p.pid for p in sd.children(recursive=True)}
    return (len(now["rotator"]) == 1 and len(now["service"]) == 3
            and {p.pid for p in now["rotator"] + now["service"]} == mine)


def supervisord_of(home: Path) -> list[psutil.Process]:
    """The supervisord started for the working dir (its supervisord.conf on the command line)."""
    conf = str(home / "supervisord.conf")
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any("supervisord" in c for c in cmd) and conf in cmd:
            found.append(p)
    return found
