"""cellsrun.toml and the working dir: round trip, precedence, validation, foreign owners."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import tomllib
from pathlib import Path

import pytest

from conftest import child_env, run
from cellsrun import defaults
from cellsrun.errors import RuntimeFailure, UsageError
from cellsrun.launch.settings import Settings, resolve

NOBODY = 65534
ODD_ARGS = ["😀 emoji", "tab\there", 'quote " and \\ backslash', "ctl \x01\x1b[31m", "é ü ß 中文",
            "100% %(here)s", "a #b ;c", "", " lead and trail "]


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="crs", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def saved(home: Path, **values) -> Settings:
    s = Settings(str(home))
    for key, value in values.items():
        setattr(s, key, value)
    s.save_file()
    return s


def test_round_trip_keeps_every_value_and_writes_valid_toml(home):
    s = saved(home, command=["/usr/bin/env", *ODD_ARGS], log="production", keep_days=7,
              max_total=5 << 30, compress="none", startsecs=9, stopwaitsecs=0)
    text = (home / "cellsrun.toml").read_text(encoding="utf-8")
    assert tomllib.loads(text)["command"] == ["/usr/bin/env", *ODD_ARGS]  # any TOML reader agrees
    assert "\\ud83d" not in text.lower()  # no JSON surrogate pair (TOML rejects them)
    back = Settings(str(home))
    back.load_file()
    assert {k: getattr(back, k) for k in Settings.FIELDS} == {k: getattr(s, k) for k in Settings.FIELDS}
    assert oct((home / "cellsrun.toml").stat().st_mode & 0o777) == "0o640"


def test_a_saved_emoji_command_is_read_by_the_next_command(home):
    saved(home, command=["/bin/echo", "ready 😀"])
    r = run("config", "--supervisor", "--home", str(home))
    assert r.returncode == 0, r.stderr.decode()
    assert "ready 😀" in r.stdout.decode()


def test_precedence_flags_over_env_over_file_over_defaults(home):
    assert resolve(str(home), {}, env={}).log == defaults.DEFAULT_LOG_MODE  # defaults
    assert resolve(str(home), {}, env={}).keep_days == defaults.KEEP_DAYS
    saved(home, log="debug", keep_days=3, command=["/bin/true"])
    s = resolve(str(home), {}, env={})
    assert (s.log, s.keep_days, s.command) == ("debug", 3, ["/bin/true"])  # file over defaults
    s = resolve(str(home), {}, env={"PYDIO_LOGS_LEVEL": "production"})
    assert (s.log, s.keep_days) == ("production", 3)  # env over file
    s = resolve(str(home), {"log": "error", "keep_days": 5}, env={"PYDIO_LOGS_LEVEL": "production"})
    assert (s.log, s.keep_days, s.command) == ("error", 5, ["/bin/true"])  # flags over env
    other = home / "elsewhere"
    s = resolve(None, {}, env={"CELLS_WORKING_DIR": str(home), "CELLS_LOG_DIR": str(other)})
    assert (s.home, s.log_dir, s.log) == (str(home), str(other), "debug")


@pytest.mark.parametrize("line, key, shown", [
    ("keep_days = -5", "keep_days", "-5"),
    ("keep_days = 1000000", "keep_days", "1000000"),
    ("keep_days = 2.5", "keep_days", "2.5"),
    ('compress = "zip"', "compress", '"zip"'),
    ("startsecs = -3", "startsecs", "-3"),
    ("startsecs = 1e20", "startsecs", "1e+20"),
    ("startsecs = 100000000000000000000", "startsecs", "100000000000000000000"),
    ("stopwaitsecs = -1", "stopwaitsecs", "-1"),
    ("stopwaitsecs = true", "stopwaitsecs", "true"),
    ('max_total = "5 parsecs"', "max_total", '"5 parsecs"'),
    ("max_total = -1", "max_total", "-1"),
    ('log = "info; rm -rf /"', "log", '"info; rm -rf /"'),
    ('log = ""', "log", '""'),
    ('command = "cells start"', "command", '"cells start"'),
    ('command = ["cells", "line\\nbreak"]', "command", '["cells", "line\\nbreak"]'),
    ('demo = "yes"', "demo", '"yes"'),
])
def test_bad_values_in_the_file_are_refused_before_anything_starts(home, line, key, shown):
    (home / "cellsrun.toml").write_text(line + "\n")
    r = run("start", "--home", str(home), "--demo", timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.startswith(f"Error: {home}/cellsrun.toml: {key} = {shown}: "), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in home.iterdir()) == ["cellsrun.toml"]  # nothing created


def test_bad_log_mode_from_the_environment_is_refused(home):
    r = run("start", "--home", str(home), "--demo", env=child_env(PYDIO_LOGS_LEVEL="info\nx"))
    assert r.returncode == 2 and r.stderr.decode().startswith("Error: PYDIO_LOGS_LEVEL: invalid log mode")
    assert list(home.iterdir()) == []


# -- a working dir that someone else controls ------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making files of another user needs root")


def hostile(base: Path) -> Path:
    """What an unprivileged user prepares: a command that proves it ran, a log file for root."""
    cells = base / "cells"
    (cells / "logs").mkdir(parents=True)
    (cells / "cellsrun.toml").write_text('command = ["/bin/sh", "-c", "id > pwned"]\n')
    (cells / "logs" / "cells.out").write_text("")
    os.chmod(cells / "logs" / "cells.out", 0o666)
    for p in (cells, cells / "logs", cells / "cellsrun.toml", cells / "logs" / "cells.out"):
        os.chown(p, NOBODY, NOBODY)
    return cells


def tree(path: Path) -> list:
    return sorted(str(p) for p in path.rglob("*")) if path.exists() else []


def refused(cells: Path, needle: str) -> str:
    before = tree(cells)
    r = run("start", "--home", str(cells), timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 1, (r.stdout, err)
    assert err.startswith("Error: ") and needle in err and len(err.splitlines()) == 1, err
    assert tree(cells) == before  # nothing ran (no pwned), nothing was created
    return err


@needs_root
def test_a_working_dir_owned_by_another_user_is_refused(home):
    os.chmod(home, 0o777)  # the world-writable place where the user prepared it
    cells = hostile(home)
    os.chmod(home, 0o755)
    err = refused(cells, f"{cells} is owned by nobody (uid {NOBODY})")
    assert "chown" in err


@needs_root
@pytest.mark.parametrize("what", ["cellsrun.toml", "logs", "run"])
def test_a_part_owned_by_another_user_is_refused(home, what):
    cells = home / "cells"
    (cells / "logs").mkdir(parents=True, mode=0o750)
    (cells / "run").mkdir(mode=0o750)
    (cells / "cellsrun.toml").write_text('command = ["/bin/sh", "-c", "id > pwned"]\n')
    os.chown(cells / what, NOBODY, NOBODY)
    refused(cells, f"{cells / what} is owned by nobody (uid {NOBODY})")


@needs_root
@pytest.mark.parametrize("what, mode", [(".", 0o777), (".", 0o770), ("cellsrun.toml", 0o666),
                                        ("logs", 0o777), ("run", 0o757)])
def test_a_part_writable_by_group_or_others_is_refused_with_the_fix(home, what, mode):
    cells = home / "cells"
    (cells / "logs").mkdir(parents=True, mode=0o750)
    (cells / "run").mkdir(mode=0o750)
    (cells / "cellsrun.toml").write_text('command = ["/bin/sh", "-c", "id > pwned"]\n')
    os.chmod(cells / what, mode)
    path = os.path.normpath(cells / what)
    refused(cells, f"{path} is writable by")
    r = run("start", "--home", str(cells), timeout=60)
    assert f"chmod go-w {path}" in r.stderr.decode()


@needs_root
def test_a_world_writable_directory_above_is_refused_unless_sticky(home):
    shared = home / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # anyone may rename cells/ away and put their own in its place
    cells = shared / "cells"
    refused(cells, f"{shared} is writable by group and others")
    os.chmod(shared, 0o1777)  # as /tmp: others cannot rename what is ours
    r = run("config", "--supervisor", "--home", str(cells))
    assert r.returncode == 0, r.stderr.decode()


@needs_root
def test_for_an_ordinary_user_root_owned_parts_are_accepted(home, monkeypatch):
    """The rule for a user that is not root: its own files and root's pass, another's do not
    (the euid is faked in-process; the files and their owners are real)."""
    from cellsrun.launch import ownership
    user = 4242
    cells = home / "cells"
    (cells / "logs").mkdir(parents=True, mode=0o750)
    os.chown(cells, user, user)
    os.chown(cells / "logs", 0, 0)  # root's: accepted, as OpenSSH accepts root-owned dirs
    monkeypatch.setattr(os, "geteuid", lambda: user)
    args = (str(cells), str(cells / "cellsrun.toml"), str(cells / "run"), str(cells / "logs"))
    ownership.check_working_dir(*args)
    os.chown(cells / "logs", NOBODY, NOBODY)
    with pytest.raises(RuntimeFailure, match=f"logs is owned by nobody .uid {NOBODY}., not by you"):
        ownership.check_working_dir(*args)


def test_refusals_are_usage_errors_for_paths_supervisord_cannot_hold(tmp_path):
    for bad in ("/tmp/a%b", "/tmp/a ;b", "/tmp/a #b", '/tmp/a"b', "/tmp/a\nb", "/tmp/trailing "):
        with pytest.raises(UsageError):
            resolve(bad, {}, env={})
