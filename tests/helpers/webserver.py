"""A real `cellsrun web` on a free loopback port (port 0: the server picks and prints it),
and a headless Chromium (Debian's) driven by Playwright, for the page's tests and screenshot."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class WebServer:
    """``cellsrun web --home HOME [--dir DIR] --listen 127.0.0.1:0``; ``base`` and ``login``
    are read from what it prints."""

    def __init__(self, home: Path, log_dir: Path | None = None, env: dict | None = None, extra=()):
        self.out_path = Path(home) / f"web-{time.monotonic_ns()}.out"
        self.out = open(self.out_path, "wb")
        args = [sys.executable, "-m", "cellsrun", "web", "--home", str(home), "--listen", "127.0.0.1:0", *extra]
        if log_dir is not None:
            args += ["--dir", str(log_dir)]
        e = dict(env or os.environ)
        e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT, env=e)
        deadline = time.monotonic() + 20
        while True:
            m = re.search(r"log in: (http://[^/\s]+)(/login\?token=(\S+))", self.text())
            if m:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"cellsrun web did not start: {self.text()}")
            time.sleep(0.05)
        self.base, self.login, self.token = m.group(1), m.group(1) + m.group(2), m.group(3)
        self.pid = self.proc.pid

    def text(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode

    def get(self, path: str, cookie: bool = True, headers: dict | None = None, timeout: float = 120):
        """(status, headers, body bytes) of a GET, with the session cookie unless told not to."""
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = f"cellsrun_session={self.token}"
        req = urllib.request.Request(self.base + path, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
