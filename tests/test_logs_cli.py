"""`cellsrun logs` as a new user meets it: no logs yet, --home, times of today, far dates,
the help. Real processes on real files in temp dirs."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest

from conftest import child_env, run

ENV = child_env(TZ="UTC")


def _day_file(d, day: str, lines: list[str]) -> None:
    (d / f"cells.out.{day}").write_text("".join(l + "\n" for l in lines))


@pytest.fixture()
def logdir(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    _day_file(d, "2026-11-27", ["2026-11-27T05:29:30.000Z\tINFO\tpydio.rest.jobs\tfirst",
                                "2026-11-27T05:29:38.000Z\tWARN\tpydio.rest.jobs\tsecond"])
    return d


# -- far and impossible times: one Error: line, exit 2, never a traceback -----------------------

@pytest.mark.parametrize("args", [
    ["--until", "9999-12-31"], ["--since", "9999-12-31"], ["--day", "9999-12-31"],
    ["--until", "9999-12-31T23:59:59"], ["--around", "9999-12-31T23:59", "--minutes", "5"],
    ["--since", "0001-01-01"], ["--until", "0001-01-01T00:00"], ["--since", "99999999999w"],
    ["--since", "1e300d"], ["--around", "now", "--minutes", "1e300"], ["--around", "now", "--minutes", "nan"],
    ["--around", "now", "--minutes", "inf"],
])
def test_out_of_range_times_are_usage_errors(logdir, args):
    r = run("logs", "--dir", str(logdir), *args, env=ENV)
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert r.stdout == b""


def test_out_of_range_message_names_the_value_and_the_range(logdir):
    err = run("logs", "--dir", str(logdir), "--until", "9999-12-31", env=ENV).stderr.decode()
    assert "'9999-12-31'" in err and "out of range" in err and "9999-12-30" in err, err


def test_the_last_and_first_accepted_days_work(logdir):
    r = run("logs", "--dir", str(logdir), "--until", "9999-12-30", "--since", "0001-01-02", "--json",
            env=ENV)
    assert r.returncode == 0, r.stderr
    assert [json.loads(l)["msg"] for l in r.stdout.decode().splitlines()] == ["first", "second"]


def test_query_refuses_far_times_once_for_every_caller():
    """The guard is in build_query, which the page calls too: a ValueError, not an OverflowError."""
    from cellsrun.browse.query import build_query
    now = time.time()
    for kw in ({"until": "9999-12-31"}, {"day": "9999-12-31"}, {"since": "99999999999w"},
               {"around": "now", "minutes": float("inf")}, {"around": "now", "minutes": float("nan")}):
        with pytest.raises(ValueError, match="out of range|minutes"):
            build_query(now, **kw).day_range()


# -- --around a time of today; every form in the error ----------------------------------------

def test_around_takes_a_time_of_today(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    today = dt.datetime.now(dt.timezone.utc).date()
    (d / "cells.out").write_text(f"{today}T05:29:38.000Z\tINFO\tpydio.rest.jobs\tat 05:29:38\n"
                                 f"{today}T05:40:00.000Z\tINFO\tpydio.rest.jobs\tat 05:40\n")
    r = run("logs", "--dir", str(d), "--around", "05:29:38", "--minutes", "2", "--json", env=ENV)
    assert r.returncode == 0, r.stderr
    assert [json.loads(l)["msg"] for l in r.stdout.decode().splitlines()] == ["at 05:29:38"]
    r = run("logs", "--dir", str(d), "--since", "05:30", "--json", env=ENV)
    assert [json.loads(l)["msg"] for l in r.stdout.decode().splitlines()] == ["at 05:40"]


def test_until_error_lists_every_accepted_form(logdir):
    err = run("logs", "--dir", str(logdir), "--until", "last tuesday", env=ENV).stderr.decode()
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    for form in ("2026-11-27", "today", "yesterday", "2026-11-27T13:30", "+01:00", "13:30",
                 "now", "30m", "2h", "3d", "1w", "90s"):
        assert form in err, (form, err)


def test_minutes_is_echoed_as_typed(logdir):
    err = run("logs", "--dir", str(logdir), "--around", "now", "--minutes", "-2", env=ENV).stderr.decode()
    assert "invalid --minutes -2 " in err and "-2.0" not in err, err
    err = run("logs", "--dir", str(logdir), "--around", "now", "--minutes", "five", env=ENV).stderr.decode()
    assert "invalid --minutes five (" in err and err.startswith("Error: "), err


def test_minutes_without_around_is_a_usage_error_not_ignored(logdir):
    """--minutes only ever widened --around: alone it would be dropped without a word."""
    from cellsrun.browse.query import build_query
    for args in (["--minutes", "5"], ["--minutes", "30", "--since", "2026-11-27"]):
        r = run("logs", "--dir", str(logdir), *args, env=ENV)
        err = r.stderr.decode()
        assert (r.returncode, r.stdout) == (2, b"") and err.count("\n") == 1, err
        assert err.startswith("Error: --minutes is only for --around"), err
    with pytest.raises(ValueError, match="--minutes is only for --around"):
        build_query(time.time(), minutes=5)
    build_query(time.time(), around="now")  # --around alone: 5 minutes
    assert run("logs", "--dir", str(logdir), "--around", "2026-11-27T05:29:35Z", env=ENV).returncode == 0


def test_n_0_is_every_match_as_help_says(logdir):
    every = run("logs", "--dir", str(logdir), "--json", env=ENV).stdout
    assert every.count(b"\n") == 2
    assert run("logs", "--dir", str(logdir), "--json", "-n", "0", env=ENV).stdout == every
    assert run("logs", "--dir", str(logdir), "--json", "-n", "1", env=ENV).stdout == every.splitlines(True)[1]
    assert "0: all" in " ".join(run("logs", "--help").stdout.decode().split())


# -- no logs yet --------------------------------------------------------------------------------

NO_LOGS = "Error: no logs in {} (is the rotator running? see cellsrun status)\n"


def test_missing_log_dir_says_so(tmp_path):
    d = tmp_path / "nothing-here"
    r = run("logs", "--dir", str(d), env=ENV)
    assert (r.returncode, r.stdout, r.stderr.decode()) == (1, b"", NO_LOGS.format(d))


def test_log_dir_without_any_log_file_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("not a log")
    (tmp_path / "cells.out.2026-11-27.gz.tmp").write_text("an unfinished compression")
    r = run("logs", "--dir", str(tmp_path), "-q", "x", env=ENV)
    assert (r.returncode, r.stdout, r.stderr.decode()) == (1, b"", NO_LOGS.format(tmp_path))


def test_nothing_matched_in_existing_files_stays_silent(logdir):
    for args in (["-q", "no such text"], ["--day", "2020-01-01"]):
        r = run("logs", "--dir", str(logdir), *args, env=ENV)
        assert (r.returncode, r.stdout, r.stderr) == (1, b"", b""), args


def test_an_empty_live_file_is_a_file_to_read(tmp_path):
    (tmp_path / "cells.out").write_bytes(b"")
    r = run("logs", "--dir", str(tmp_path), env=ENV)
    assert (r.returncode, r.stdout, r.stderr) == (1, b"", b"")


# -- --home -------------------------------------------------------------------------------------

def test_home_reads_home_logs(tmp_path, logdir):
    home = logdir.parent  # logdir is <tmp>/logs
    env = child_env(TZ="UTC")
    env.pop("CELLS_LOG_DIR", None)
    env["CELLS_WORKING_DIR"] = str(tmp_path / "elsewhere")
    r = run("logs", "--home", str(home), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert [json.loads(l)["msg"] for l in r.stdout.decode().splitlines()] == ["first", "second"]
    r = run("logs", "--home", str(tmp_path / "no-home"), env=env)
    assert r.stderr.decode() == NO_LOGS.format(tmp_path / "no-home" / "logs")


def test_dir_wins_over_home(tmp_path, logdir):
    r = run("logs", "--home", str(tmp_path / "no-home"), "--dir", str(logdir), "--json", env=ENV)
    assert r.returncode == 0, r.stderr


# -- help ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["logs", "rotate"])
def test_every_option_has_help_with_its_default(command):
    """Each option of `cellsrun logs/rotate --help` has a line of help that states its default."""
    import argparse
    from cellsrun.cli import build_parser
    parser = build_parser([command]).commands[command]
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS or "-h" in action.option_strings:
            continue
        assert action.help, action.option_strings
        assert "default" in action.help, (action.option_strings, action.help)
    out = run(command, "--help", env=ENV).stdout.decode()
    assert out.count("default") >= sum(1 for a in parser._actions
                                       if a.option_strings and a.help not in (None, argparse.SUPPRESS)
                                       and "-h" not in a.option_strings)


# -- a file where a directory is expected ---------------------------------------------------------

@pytest.mark.parametrize("flag, what", [("--home", "the working dir"), ("--dir", "the log dir")])
def test_a_file_given_as_a_directory_is_not_a_directory(tmp_path, flag, what):
    f = tmp_path / "a-file"
    f.write_text("not a directory\n")
    r = run("logs", flag, str(f), env=ENV)
    assert (r.returncode, r.stdout, r.stderr.decode()) == (
        2, b"", f"Error: {what} {f} is not a directory (see {flag})\n")
    assert f.read_text() == "not a directory\n"


def test_a_log_dir_from_the_environment_that_is_a_file_says_where_it_came_from(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("")
    r = run("logs", env=child_env(TZ="UTC", CELLS_LOG_DIR=str(f)))
    assert (r.returncode, r.stderr.decode()) == (
        2, f"Error: the log dir {f} is not a directory (see $CELLS_LOG_DIR)\n")
