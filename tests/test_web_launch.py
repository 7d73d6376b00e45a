"""`cellsrun start --demo --web`: the page as a third supervisord program, saved in
cellsrun.toml, its URL in `cellsrun status`, and the page serving the demo's entries."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from conftest import run, wait_for
from test_launcher import home, start, supervisorctl  # noqa: F401  (the fixture stops what ran)

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_web_adds_the_page_and_status_prints_its_url(home):  # noqa: F811
    port = free_port()
    r = start(home, "--demo", "--web", "--web-listen", f"127.0.0.1:{port}", "--", "--rate", "50")
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    out = r.stdout.decode()
    assert f"page          http://127.0.0.1:{port}/" in out
    assert "cells-logs-web RUNNING" in " ".join(supervisorctl(home, "status").stdout.split())
    toml = (home / "cellsrun.toml").read_text()
    assert "web = true" in toml and f'web_listen = "127.0.0.1:{port}"' in toml
    # the token is not in the program's (group-readable) log, only in status
    token = (home / "run" / "web.token").read_text().strip()
    assert token not in (home / "logs" / "cellsrun-web.log").read_text()
    status = run("status", "--home", str(home)).stdout.decode()
    login = next(l for l in status.splitlines() if l.startswith("page")).split("log in: ")[1].rstrip(")")
    assert login == f"http://127.0.0.1:{port}/login?token={token}"
    with urllib.request.urlopen(login, timeout=10) as resp:
        cookie = resp.headers["set-cookie"].split(";")[0]

    def demo_rows():
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/entries?limit=5", headers={"Cookie": cookie})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)["entries"]
    rows = wait_for(demo_rows, 15, "the demo's entries on the page")
    assert all(r["service"] and r["level"] for r in rows)
    # a plain start keeps the page (saved); --no-web removes the program
    assert start(home).returncode == 0
    assert "cells-logs-web" in supervisorctl(home, "status").stdout
    r = start(home, "--no-web")
    assert r.returncode == 0, r.stderr.decode()
    assert "cells-logs-web" not in supervisorctl(home, "status").stdout
    assert "page " not in r.stdout.decode() and "web = false" in (home / "cellsrun.toml").read_text()


def test_a_bad_web_listen_is_a_usage_error(home):  # noqa: F811
    r = start(home, "--demo", "--web", "--web-listen", "localhost")
    assert r.returncode == 2 and b"invalid listen address 'localhost'" in r.stderr
    (home / "cellsrun.toml").write_text('web_listen = "nowhere"\n')
    r = run("status", "--home", str(home))
    assert r.returncode == 2 and b"web_listen" in r.stderr and b"invalid listen address 'nowhere'" in r.stderr
