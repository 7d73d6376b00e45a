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
