"""Private rsyslogd instances for the shipping tests: never the system's rsyslog.

Each instance has its own main configuration (work directory, pid file, optional hostname),
which includes the snippet under test from its own ``rsyslog.d``, exactly as Debian's
``/etc/rsyslog.conf`` includes ``/etc/rsyslog.d/*.conf``. rsyslog's own messages (errors,
warnings) go to ``internal.log`` in the instance's directory, shown when a test fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run, wait_for

RSYSLOGD = "/usr/sbin/rsyslogd"


def missing(relp: bool = False) -> str:
    """Why the rsyslog tests cannot run here ('' if they can)."""
    if not os.access(RSYSLOGD, os.X_OK):
        return f"{RSYSLOGD} is not installed (apt-get install rsyslog rsyslog-relp)"
    if relp and not any(Path("/usr/lib").glob("*/rsyslog/omrelp.so")):
        return "rsyslog's RELP modules are not installed (apt-get install rsyslog-relp)"
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rsyslogd:
    """One private rsyslogd under ``root/name``; ``snippet`` is rendered by the test."""

    running: list = []

    def __init__(self, root: Path, name: str, *, hostname: str | None = None, env: dict | None = None):
        self.dir = root / name
        self.dir.mkdir(parents=True)
        (self.dir / "rsyslog.d").mkdir()
        (self.dir / "work").mkdir()
        self.conf = self.dir / "rsyslog.conf"
        self.pidfile = self.dir / "rsyslogd.pid"
        self.internal = self.dir / "internal.log"
        self.env = env
        host = f' localHostname="{hostname}"' if hostname else ""
        self.conf.write_text(
            f'global(workDirectory="{self.dir / "work"}" processInternalMessages="on"{host})\n'
            f'$IncludeConfig {self.dir / "rsyslog.d"}/*.conf\n'
            f'*.* action(type="omfile" file="{self.internal}")\n')

    def install(self, *config_args: str) -> str:
        """Render ``cellsrun config ARGS --rsyslog-conf <this instance's main config>`` into
        rsyslog.d/cells.conf and check the whole with ``rsyslogd -N1``."""
        r = run("config", *config_args, "--rsyslog-conf", str(self.conf))
        assert r.returncode == 0, r.stderr.decode()
        text = r.stdout.decode()
        (self.dir / "rsyslog.d" / "cells.conf").write_text(text)
        check = subprocess.run([RSYSLOGD, "-N1", "-f", str(self.conf)], capture_output=True, text=True,
                               env=self.env, timeout=30)
        assert check.returncode == 0, check.stderr
        return text

    def start(self) -> None:
        subprocess.run([RSYSLOGD, "-f", str(self.conf), "-i", str(self.pidfile)], check=True,
                       env=self.env, timeout=30)
        pid = wait_for(self.pid, 10, f"{self.dir.name}'s pid file", self.log)
        Rsyslogd.running.append(pid)

    def pid(self) -> int:
        try:
            return int(self.pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def stop(self) -> None:
        """TERM, then wait until it is gone (it saves its queue and read positions first)."""
        pid = self.pid()
        assert pid, f"{self.dir.name} is not running"
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _alive(pid), 30, f"{self.dir.name} to stop", self.log)
        if pid in Rsyslogd.running:
            Rsyslogd.running.remove(pid)

    def log(self) -> str:
        try:
            return self.internal.read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            return "(no internal.log)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _no_rsyslogd_left_behind():
    yield
    while Rsyslogd.running:
        pid = Rsyslogd.running.pop()
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
