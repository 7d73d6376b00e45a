"""The launcher's command line: messages that match the case, --home that is not a usable
working dir, and help that gives every option's default. Nothing here starts supervisord."""

from __future__ import annotations

import re

import pytest

from conftest import run


def error_of(r) -> str:
    err = r.stderr.decode()
    assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("words, expected", [
    (["--rate", "5"], "'--rate' after -- would be the service's command, but it is an option of the demo: "
                      "cellsrun {cmd} --demo -- --rate 5"),
    (["--count", "9", "--log", "debug"], "cellsrun {cmd} --demo -- --count 9 --log debug"),
    (["-x", "y"], "a service command cannot begin with an option ('-x'): give the program first, "
                  "e.g. cellsrun {cmd} -- /path/to/service -x y"),
])
def test_an_option_right_after_the_double_dash_is_explained_for_its_case(tmp_path, words, expected):
    for command in ("start", "restart", "config"):
        extra = ["--supervisor"] if command == "config" else []
        r = run(command, *extra, "--home", str(tmp_path / "h"), "--", *words)
        err = error_of(r)
        assert r.returncode == 2 and expected.format(cmd=command + (" --supervisor" if extra else "")) in err, err
    assert not (tmp_path / "h").exists()


def test_a_newline_in_a_command_suggests_a_wrapper_script(tmp_path):
    r = run("start", "--home", str(tmp_path / "h"), "--", "/bin/echo", "a\nb")
    err = error_of(r)
    assert r.returncode == 2 and "newline" in err and "wrapper script" in err, err


@pytest.mark.parametrize("command", [["start", "--demo"], ["stop"], ["status"], ["restart", "--demo"],
                                     ["config", "--supervisor"]])
def test_a_home_that_is_a_file_is_not_a_directory(tmp_path, command):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    r = run(*command, "--home", str(afile))
    err = error_of(r)
    assert r.returncode == 2 and f"the working dir {afile} is not a directory" in err, err
    assert afile.read_text() == "keep me"


@pytest.mark.parametrize("command", [["stop"], ["stop", "--all"], ["status"], ["status", "--json"]])
def test_status_and_stop_on_a_working_dir_that_does_not_exist_say_so(tmp_path, command):
    missing = tmp_path / "nothing-here"
    r = run(*command, "--home", str(missing))
    err = error_of(r)
    assert r.returncode == 1 and f"the working dir {missing} does not exist" in err, err
    assert not missing.exists()


def help_entries(text: str) -> dict[str, str]:
    """argparse's help: each option (or positional) with its whole help text."""
    entries, name = {}, None
    body = text.split("\n\n", 2)[-1]
    for line in body.splitlines():
        m = re.match(r"^  (\S.*?)(?:\s{2,}(.*))?$", line)
        if m and not line.startswith("   "):
            name = m.group(1)
            entries[name] = m.group(2) or ""
        elif name and line.startswith("   "):
            entries[name] += " " + line.strip()
    return entries


@pytest.mark.parametrize("command", ["start", "restart", "config"])
def test_every_option_of_start_and_restart_has_help_with_its_default(command):
    r = run(command, "--help")
    assert r.returncode == 0
    entries = help_entries(r.stdout.decode())
    assert {"--home DIR", "--log MODE", "--demo", "--keep-days N", "--startsecs S"} <= set(entries), entries
    missing = {name: text for name, text in entries.items()
               if not name.startswith("-h") and "default" not in text.lower()}
    assert not missing, missing


def test_status_does_not_hang_on_a_fifo_put_in_place_of_a_log(tmp_path):
    """The log dir may belong to the service's user (--user): what status reads there must
    be a regular file, read without following a symlink."""
    import os
    home = tmp_path / "h"
    (home / "logs").mkdir(parents=True, mode=0o750)
    os.mkfifo(home / "logs" / "cellsrun-rotate.log")
    (home / "logs" / "cells.out").symlink_to("/etc/hostname")
    r = run("status", "--home", str(home), timeout=20)
    assert r.returncode == 1 and r.stdout.decode().startswith("supervisord   not running"), r.stdout + r.stderr


@pytest.fixture
def home(tmp_path):
    """A working dir not made yet; should a refusal fail and start things, they are stopped."""
    path = tmp_path / "h"
    yield path
    if (path / "run").exists():
        run("stop", "--all", "--home", str(path), timeout=90)


@pytest.mark.parametrize("command", [["start"], ["restart"], ["config", "--supervisor"]])
def test_port_0_for_the_page_under_supervisord_is_refused_before_anything_is_made(home, command):
    """supervisord runs the page: status could only print port 0, the port it bound is in its log."""
    r = run(*command, "--home", str(home), "--demo", "--web", "--web-listen", "127.0.0.1:0")
    err = error_of(r)
    assert r.returncode == 2 and "port 0" in err and "pick a port" in err, err
    assert not home.exists()
    home.mkdir(mode=0o750)
    (home / "cellsrun.toml").write_text('demo = true\nweb = true\nweb_listen = "[::1]:0"\n')
    r = run(*command, "--home", str(home))
    err = error_of(r)
    assert r.returncode == 2 and "port 0" in err and "cellsrun.toml" in err, err
    assert sorted(p.name for p in home.iterdir()) == ["cellsrun.toml"]


@pytest.mark.parametrize("words, said", [
    (["--rate", "abc"], "argument --rate: invalid float value: 'abc'"),
    (["--rate", "-5"], "--rate -5.0 must be 0 (as fast as possible) or more"),
    (["--count", "x"], "argument --count: invalid number 'x'"),
    (["--colour"], "unrecognized arguments: --colour"),
    (["stray"], "unrecognized arguments: stray"),
])
def test_the_demos_options_are_checked_before_anything_starts(home, words, said):
    """As the command is: a bad one is one Error line, exit 2, and no working dir made."""
    for command in (["start"], ["config", "--supervisor"]):
        r = run(*command, "--home", str(home), "--demo", "--", *words)
        err = error_of(r)
        assert r.returncode == 2 and said in err and "the demo's options" in err, err
        assert not home.exists()
    home.mkdir(mode=0o750)
    (home / "cellsrun.toml").write_text(f"demo = true\ncommand = {words!r}\n".replace("'", '"'))
    r = run("start", "--home", str(home))
    err = error_of(r)
    assert r.returncode == 2 and said in err and "cellsrun.toml" in err, err
    assert sorted(p.name for p in home.iterdir()) == ["cellsrun.toml"]


def test_an_error_message_never_carries_a_control_character(tmp_path):
    """The last guard, whatever a message quotes (a path, a process's words): `Error:` lines
    show control characters as \\xNN."""
    missing = tmp_path / "x\x1b[2J\x9bredy"
    r = run("status", "--home", str(missing))
    err = error_of(r)
    assert r.returncode == 1 and "x\\x1b[2J\\x9bredy does not exist" in err, repr(err)
