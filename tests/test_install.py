"""install.sh end to end: a fresh prefix, the README's main command in a clean environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, wait_for

pytestmark = pytest.mark.slow


def sh(*args, env=None, timeout=300):
    return subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def prefix():
    path = Path(tempfile.mkdtemp(prefix="cri", dir="/tmp"))
    r = sh(str(REPO / "install.sh"), "--prefix", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    yield path
    shutil.rmtree(path, ignore_errors=True)


def clean_env(home: Path) -> dict:
    """What a fresh login shell has: no PYTHONPATH, no venv, a plain PATH."""
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def test_installed_commands_run_the_demo_from_a_clean_shell(prefix, tmp_path):
    for cmd in ("cellsrun", "supervisord", "supervisorctl"):
        assert (prefix / "bin" / cmd).exists(), cmd
    user_home = Path(tempfile.mkdtemp(prefix="cru", dir="/tmp"))
    env = clean_env(user_home)
    try:
        r = sh(str(prefix / "bin" / "cellsrun"), "start", "--demo", env=env, timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr
        live = user_home / ".config" / "pydio" / "cells" / "logs" / "cells.out"
        wait_for(lambda: live.exists() and live.stat().st_size > 1000, 20, "demo lines in the default place",
                 lambda: r.stdout)
        ctl = sh(str(prefix / "bin" / "supervisorctl"), "-c",
                 str(user_home / ".config" / "pydio" / "cells" / "supervisord.conf"), "status", env=env)
        assert "RUNNING" in ctl.stdout
    finally:
        sh(str(prefix / "bin" / "cellsrun"), "stop", "--all", env=env, timeout=90)
        shutil.rmtree(user_home, ignore_errors=True)


def test_install_is_idempotent(prefix):
    r = sh(str(REPO / "install.sh"), "--prefix", str(prefix))
    assert r.returncode == 0, r.stderr
    assert os.path.realpath(prefix / "bin" / "cellsrun") == str(prefix / "share" / "cellsrun" / "venv" / "bin" / "cellsrun")


def test_boot_entry_is_added_once_and_removed(prefix):
    if not shutil.which("crontab"):
        pytest.skip("no crontab here (Debian: apt-get install cron; .ci/run installs it)")
    saved = sh("crontab", "-l").stdout
    try:
        for _ in range(2):
            assert sh(str(REPO / "install.sh"), "--prefix", str(prefix), "--boot").returncode == 0
        entries = [l for l in sh("crontab", "-l").stdout.splitlines() if "cellsrun" in l]
        assert len(entries) == 1 and entries[0].startswith("@reboot ") and str(prefix) in entries[0]
        assert sh(str(REPO / "install.sh"), "--prefix", str(prefix), "--no-boot").returncode == 0
        assert "cellsrun" not in sh("crontab", "-l").stdout
    finally:
        subprocess.run(["crontab", "-"], input=saved, text=True)


def test_installed_cellsrun_serves_the_page_of_the_demo(prefix):
    """The README's `./install.sh && cellsrun start --demo --web`: the web extra is installed,
    the page runs under supervisord and its login URL opens it."""
    import json
    import socket
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    user_home = Path(tempfile.mkdtemp(prefix="cru", dir="/tmp"))
    env = clean_env(user_home)
    try:
        r = sh(str(prefix / "bin" / "cellsrun"), "start", "--demo", "--web", "--web-listen",
               f"127.0.0.1:{port}", env=env, timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr
        login = next(l for l in r.stdout.splitlines() if l.startswith("page")).split("log in: ")[1].rstrip(")")
        with urllib.request.urlopen(login, timeout=10) as resp:
            cookie = resp.headers["set-cookie"].split(";")[0]

        def rows():
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/entries?limit=3", headers={"Cookie": cookie})
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.load(resp)["entries"]
        assert wait_for(rows, 20, "the demo's entries on the page")
    finally:
        sh(str(prefix / "bin" / "cellsrun"), "stop", "--all", env=env, timeout=90)
        shutil.rmtree(user_home, ignore_errors=True)
