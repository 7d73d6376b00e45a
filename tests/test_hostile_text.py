"""What a service controls — its process name, every byte it writes — printed by `cellsrun
status` and by a failed `cellsrun start`: control characters are shown as \\xNN, never sent
to the terminal; `--json` keeps the exact text. And what status says after a failed first start."""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import run, wait_for
from supervised import supervisord_of

pytestmark = pytest.mark.slow
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # any control but newline and tab
RENAME = ("import ctypes, time\n"
          "ctypes.CDLL(None).prctl(15, b'\\x1b[2J\\x1b[31mEVIL', 0, 0, 0)  # PR_SET_NAME\n"
          "print('renamed', flush=True)\n"
          "while True: time.sleep(1)\n")


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="crh", dir="/tmp"))
    yield path
    run("stop", "--home", str(path), "--all", timeout=90)
    for p in supervisord_of(path):
        p.kill()
    shutil.rmtree(path, ignore_errors=True)


def test_a_service_that_renames_itself_with_escapes_shows_them_escaped_in_status(home):
    script = home / "rename.py"
    script.write_text(RENAME)
    r = run("start", "--home", str(home), "--", sys.executable, str(script), timeout=90)
    assert r.returncode == 0, r.stderr.decode()

    def status():
        return run("status", "--home", str(home)).stdout.decode()
    out = wait_for(lambda: (lambda t: t if "EVIL" in t else "")(status()), 15, "the renamed process", status)
    assert not CONTROL.search(out), repr(out)
    assert "\\x1b[2J\\x1b[31mEVIL" in out, out
    data = json.loads(run("status", "--home", str(home), "--json").stdout)
    assert "\x1b[2J\x1b[31mEVIL" in [p["name"] for p in data["service_tree"]], data["service_tree"]


def test_a_failed_start_shows_what_the_service_wrote_escaped_and_status_says_it_ran(home):
    r = run("start", "--home", str(home), "--", "sh", "-c",
            r'printf "\033]0;pwned-title\007\033[2J boom\r\n\twith a tab\rover\n"; exit 1', timeout=90)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith("Error: cells did not start"), err
    assert not CONTROL.search(err), repr(err)
    assert "\\x1b]0;pwned-title\\x07\\x1b[2J boom\n\twith a tab\\x0dover\n" in err, repr(err)
    # supervisord ran (its log says so): status must not say it never did
    out = run("status", "--home", str(home)).stdout.decode()
    assert "never ran" not in out, out
    assert (home / "logs" / "supervisord.log").exists()
    assert f"{home}/logs/supervisord.log" in out and "did not start" in out, out
