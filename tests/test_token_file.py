"""The page's token file, `<home>/run/web.token`: with `--user`, the service's account owns
`run/`, so whatever sits there is hostile to the root that runs `status` or `web`. Only a
regular file, opened without following a symlink and without blocking, is read; `run/` that
others can write is refused like the rest of the working dir."""

from __future__ import annotations

import os

import pytest

from conftest import run


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "h"
    for d in (h, h / "run", h / "logs"):
        d.mkdir(mode=0o750)
    (h / "cellsrun.toml").write_text("web = true\n")
    (h / "cellsrun.toml").chmod(0o640)
    return h


def test_status_does_not_print_the_file_a_symlinked_token_points_at(home, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("root-only-secret\n")
    secret.chmod(0o600)
    (home / "run" / "web.token").symlink_to(secret)
    r = run("status", "--home", str(home), timeout=20)
    out = r.stdout.decode()
    assert "page" in out and "root-only-secret" not in out + r.stderr.decode(), out
    r = run("status", "--home", str(home), "--json", timeout=20)
    assert "root-only-secret" not in r.stdout.decode(), r.stdout


def test_status_does_not_hang_on_a_fifo_in_place_of_the_token(home):
    os.mkfifo(home / "run" / "web.token", 0o600)
    r = run("status", "--home", str(home), timeout=20)
    assert r.returncode == 1 and "page" in r.stdout.decode(), r.stdout + r.stderr


def test_the_page_refuses_a_fifo_in_place_of_the_token_at_once(home):
    os.mkfifo(home / "run" / "web.token", 0o600)
    r = run("web", "--home", str(home), "--listen", "127.0.0.1:0", timeout=20)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith("Error: ") and "web.token" in err, err


def test_the_page_refuses_a_runtime_dir_others_can_write(home):
    (home / "run").chmod(0o777)
    r = run("web", "--home", str(home), "--listen", "127.0.0.1:0", timeout=20)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith("Error: ") and "chmod go-w" in err, err
    assert not (home / "run" / "web.token").exists()
