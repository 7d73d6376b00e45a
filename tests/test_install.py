"""install.sh end to end: a fresh prefix, the README's main command in a clean environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, wait_for

pytestmark = pytest.mark.slow


def sh(*args, env=None, timeout=300, cwd=None):
    return subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)


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


def test_plain_pip_install_into_a_fresh_venv_runs_the_demo(tmp_path):
    """What pip, pipx and packagers do: `python3 -m venv v && v/bin/pip install <checkout>`.
    The templates must come from the wheel (cellsrun/etc), not from the checkout."""
    python = shutil.which("python3") or sys.executable
    venv = tmp_path / "v"
    # A copy as a clone has it (symlinks kept: cellsrun/etc -> ../etc), so that pip's in-tree
    # build neither writes build/ into the checkout nor picks up a stale one from it.
    src = tmp_path / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "results"))
    assert (src / "cellsrun" / "etc").is_symlink()
    assert sh(python, "-m", "venv", str(venv), cwd=tmp_path).returncode == 0
    r = sh(str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(src),
           timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    site = sh(str(venv / "bin" / "python"), "-c", "import cellsrun, sys; print(cellsrun.__file__)",
              env=clean_env(tmp_path), cwd=tmp_path).stdout.strip()
    assert site.startswith(str(venv)), site  # the installed package, not a source tree
    templates = Path(site).parent / "etc"
    assert sorted(p.name for p in templates.iterdir() if p.suffix == ".tmpl") == \
        sorted(p.name for p in (REPO / "etc").glob("*.tmpl"))
    home = Path(tempfile.mkdtemp(prefix="crp", dir="/tmp"))
    env = clean_env(tmp_path)
    cellsrun = str(venv / "bin" / "cellsrun")
    try:
        r = sh(cellsrun, "start", "--home", str(home), "--demo", env=env, timeout=90, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        live = home / "logs" / "cells.out"
        wait_for(lambda: live.exists() and live.stat().st_size > 1000, 20, "demo lines", lambda: r.stdout)
        status = sh(cellsrun, "status", "--home", str(home), env=env, cwd=tmp_path)
        assert status.returncode == 0 and str(venv) in (home / "supervisord.conf").read_text()
        stop = sh(cellsrun, "stop", "--home", str(home), "--all", env=env, timeout=120, cwd=tmp_path)
        assert stop.returncode == 0 and stop.stdout.rstrip().endswith("stopped everything"), stop.stdout
    finally:
        sh(cellsrun, "stop", "--home", str(home), "--all", env=env, timeout=120, cwd=tmp_path)
        shutil.rmtree(home, ignore_errors=True)


def test_installed_cellsrun_serves_the_page_of_the_demo(prefix, tmp_path):
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
               f"127.0.0.1:{port}", env=env, timeout=90, cwd=tmp_path)
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
        sh(str(prefix / "bin" / "cellsrun"), "stop", "--all", env=env, timeout=90, cwd=tmp_path)
        shutil.rmtree(user_home, ignore_errors=True)
