"""`cellsrun rotate --stamp`: each line begins with its arrival time; and the browser reads
it. Real rotators on real pipes and FIFOs; a real local midnight (TZ trick) for the day rule."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import Rotate, all_output, check_sequence, child_env, listing, log_files, run, wait_for, writer_cmd

STAMP = re.compile(rb"^(\d{4}-\d\d-\d\d)T\d\d:\d\d:\d\d\.\d{6}(?:Z|[+-]\d\d:\d\d(?::\d\d)?) ")


def split_stamps(data: bytes) -> tuple[list[bytes], bytes]:
    """(the stamps, the lines without them); every line must have one."""
    stamps, rest = [], []
    for line in data.split(b"\n")[:-1]:
        m = STAMP.match(line)
        assert m, f"a line without a stamp: {line[:80]!r}"
        stamps.append(m.group(0)[:-1])
        rest.append(line[m.end():] + b"\n")
    return stamps, b"".join(rest)


def stamp_time(stamp: bytes) -> float:
    return dt.datetime.fromisoformat(stamp.decode()).timestamp()


# -- the format, byte for byte --------------------------------------------------------------

def test_every_line_gets_its_arrival_time_and_keeps_its_bytes(tmp_path):
    hostile = (b"plain\n\x00nul\xff\xfe invalid utf-8\r\n\x1b[31mred\x1b[0m\n\n"
               b"2025-03-07T18:47:50.025Z\tINFO\tpydio.rest.jobs\tits own time\n"
               b'{"level":"info","msg":"a JSON line"}\n' + b"y" * 5000 + b"\nno newline at the end")
    before = time.time()
    r = run("rotate", "--dir", str(tmp_path), "--stamp", input=hostile, env=child_env(TZ="Europe/Paris"))
    after = time.time()
    assert r.returncode == 0, r.stderr
    stamps, rest = split_stamps((tmp_path / "cells.out").read_bytes())
    assert rest == hostile + b"\n"  # a partial last line is completed, as without --stamp
    assert len(stamps) == 8
    times = [stamp_time(s) for s in stamps]
    assert before <= times[0] and times == sorted(times) and times[-1] <= after
    # Local time with its offset, microseconds, one space: Paris is +01:00 or +02:00.
    assert all(re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0[12]:00", s) for s in stamps), stamps


def test_utc_stamps_end_in_z(tmp_path):
    r = run("rotate", "--dir", str(tmp_path), "--stamp", "--utc", input=b"a\nb\n",
            env=child_env(TZ="Asia/Kolkata"))
    assert r.returncode == 0, r.stderr
    stamps, rest = split_stamps((tmp_path / "cells.out").read_bytes())
    assert rest == b"a\nb\n" and all(s.endswith(b"Z") for s in stamps), stamps


def test_long_lines_are_cut_and_each_piece_is_stamped(tmp_path):
    r = run("rotate", "--dir", str(tmp_path), "--stamp", "--max-line", "1KiB",
            input=b"z" * 2500 + b"\nshort\n")
    assert r.returncode == 0, r.stderr
    stamps, rest = split_stamps((tmp_path / "cells.out").read_bytes())
    assert rest.split(b"\n") == [b"z" * 1024, b"z" * 1024, b"z" * 452, b"short", b""]


def test_a_line_written_in_pieces_gets_the_time_of_its_first_byte(tmp_path):
    fifo = tmp_path / "in.fifo"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(tmp_path / "logs"), "--stamp")
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    fd = os.open(fifo, os.O_WRONLY)
    started = time.time()
    os.write(fd, b"first half, ")
    time.sleep(0.3)  # the rest comes later: the line keeps the time its start arrived
    os.write(fd, b"second half\nnext line\n")
    ended = time.time()
    os.close(fd)
    live = tmp_path / "logs" / "cells.out"
    wait_for(lambda: live.read_bytes().count(b"\n") == 2, 10, "two lines", lambda: live.read_bytes())
    assert rot.stop() == 0, rot.stderr()
    stamps, rest = split_stamps(live.read_bytes())
    assert rest == b"first half, second half\nnext line\n"
    first, second = map(stamp_time, stamps)
    assert started - 0.05 <= first < started + 0.2 and ended - 0.05 <= second <= ended + 1, (started, stamps)


def test_stamp_with_json_format_is_refused_and_nothing_touched(tmp_path):
    d = tmp_path / "logs"
    r = run("rotate", "--dir", str(d), "--stamp", "--format", "json", input=b'{"a":1}\n')
    err = r.stderr.decode()
    assert r.returncode == 2 and err.startswith("Error: --stamp cannot go with --format json") \
        and err.count("\n") == 1, err
    assert not d.exists()


def test_without_stamp_raw_stays_byte_for_byte(tmp_path):
    data = b"2026-11-28T01:03:45.123456+01:00 looks like a stamp\nplain\n"
    r = run("rotate", "--dir", str(tmp_path), input=data)
    assert r.returncode == 0 and (tmp_path / "cells.out").read_bytes() == data


def test_stamper_never_rounds_into_the_next_day():
    """Unit: the stamp is cut to whole microseconds and stays below the end of the file's day."""
    from cellsrun.clock import Clock
    from cellsrun.rotate.stamp import Stamper
    midnight = dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc).timestamp()
    s = Stamper(Clock.utc(), day_end=lambda: midnight)
    assert s.stamp(midnight - 4e-7) == b"2026-11-27T23:59:59.999999Z "
    assert s.stamp(midnight + 0.5) == b"2026-11-27T23:59:59.999999Z "  # a line finished late in the old file
    assert Stamper(Clock.utc()).stamp(midnight + 0.25) == b"2026-11-28T00:00:00.250000Z "
    paris = Stamper(Clock(__import__("zoneinfo").ZoneInfo("Europe/Paris")))
    assert paris.stamp(midnight) == b"2026-11-28T01:00:00.000000+01:00 "


# -- a real midnight ------------------------------------------------------------------------

def _check_days(logs, tz, midnight) -> tuple[bytes, list[float]]:
    """Each file's stamps are of its own day; returns (the lines without stamps, the times)."""
    from test_midnight import local_day
    yesterday = local_day(midnight - 1, tz)
    files = log_files(logs)
    assert [p.name for p in files] == [f"cells.out.{yesterday}", "cells.out"], listing(logs)
    days = {files[0]: str(yesterday).encode(), files[1]: str(local_day(midnight + 1, tz)).encode()}
    all_rest, all_times = b"", []
    for path, day in days.items():
        stamps, rest = split_stamps(path.read_bytes())
        assert stamps, path
        wrong = [s for s in stamps if not s.startswith(day)]
        assert not wrong, f"{path.name}: stamps of another day {wrong[:3]}"
        all_rest += rest
        all_times += [stamp_time(s) for s in stamps]
    assert all_times == sorted(all_times)
    return all_rest, all_times


@pytest.mark.slow
def test_midnight_under_load_every_stamp_falls_in_its_files_day(tmp_path):
    from test_midnight import rotator_before_midnight
    rot, fifo, logs, tz, midnight = rotator_before_midnight(tmp_path, "--stamp", "--compress", "none",
                                                            margin=1.5)
    writer = subprocess.Popen(writer_cmd("--fifo", str(fifo), "--rate", "5000", "--size", "120",
                                         "--state", str(tmp_path / "next")), env=child_env(TZ=tz))
    try:
        wait_for(lambda: time.time() > midnight + 1.5, 30, "1.5 s of the new day")
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(10)
    sent = int((tmp_path / "next").read_text())
    count = lambda: all_output(logs).count(b"\n")  # noqa: E731
    wait_for(lambda: count() == sent, 20, f"all {sent} lines", lambda: f"{count()}; {listing(logs)}")
    assert rot.stop() == 0, rot.stderr()
    rest, _ = _check_days(logs, tz, midnight)
    check_sequence(rest, sent)


@pytest.mark.slow
def test_a_line_under_way_at_midnight_keeps_the_old_day(tmp_path):
    from test_midnight import rotator_before_midnight
    rot, fifo, logs, tz, midnight = rotator_before_midnight(tmp_path, "--stamp", "--compress", "none",
                                                            margin=1.0)
    fd = os.open(fifo, os.O_WRONLY)
    try:
        os.write(fd, b"before\n")
        wait_for(lambda: time.time() > midnight - 0.3, 30, "0.3 s before midnight")
        os.write(fd, b"under way at midnight: ")
        wait_for(lambda: time.time() > midnight + 0.2, 5, "just after midnight")
        os.write(fd, b"ends in the new day\nafter\n")
    finally:
        os.close(fd)
    wait_for(lambda: all_output(logs).count(b"\n") == 3, 10, "3 lines", lambda: listing(logs))
    assert rot.stop() == 0, rot.stderr()
    rest, times = _check_days(logs, tz, midnight)
    assert rest == b"before\nunder way at midnight: ends in the new day\nafter\n"
    assert times[1] < midnight <= times[2], (times, midnight)
    assert midnight - 0.3 <= times[1], "the held line's time is when its first byte came"


# -- the browser reads the stamp ------------------------------------------------------------

def logs(d, *args, env=None):
    return run("logs", "--dir", str(d), *args, env=env or child_env(TZ="Europe/Paris"))


def ok_lines(r) -> list[str]:
    assert r.returncode == 0 and r.stderr == b"", (r.returncode, r.stderr)
    return r.stdout.decode().splitlines()


@pytest.fixture()
def stamped(tmp_path):
    """A live file written by a real `cellsrun rotate --stamp` from a service whose lines carry
    no time, then a Cells console line and a JSON line that carry their own (from 2025)."""
    d = tmp_path / "logs"
    service = (b"starting the thing\nlistening on :8080\n"
               b"2025-03-07T18:47:50.025Z\tWARN\tpydio.rest.jobs\tslow job\t{\"UserName\": \"jenny\"}\n"
               b'{"level":"error","ts":"2025-03-07T19:47:50+01:00","logger":"pydio.grpc.auth",'
               b'"msg":"Login failed","RemoteAddress":"10.0.0.7"}\n'
               b"a last plain line\n")
    before = time.time()
    r = run("rotate", "--dir", str(d), "--stamp", input=service, env=child_env(TZ="Europe/Paris"))
    assert r.returncode == 0, r.stderr
    return d, before, time.time()


def test_lines_without_a_time_take_the_stamp(stamped):
    d, before, after = stamped
    rows = [json.loads(l) for l in ok_lines(logs(d, "--since", "1m", "--json"))]
    plain = [o for o in rows if o["msg"] in ("starting the thing", "listening on :8080", "a last plain line")]
    assert len(plain) == 3
    for o in plain:  # the stamp is the entry's time, and kept as "arrived"
        assert o["ts"] == o["arrived"] and before <= dt.datetime.fromisoformat(o["ts"]).timestamp() <= after
    assert ok_lines(logs(d, "--day", "today", "-q", "listening", "--json"))
    table = ok_lines(logs(d, "-q", "starting"))
    today = dt.datetime.now().astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).date()
    assert table[1].startswith(str(today) + " ") and table[1].endswith("starting the thing"), table
    stats = json.loads(logs(d, "--stats", "--json").stdout)
    assert "unknown" not in [h["hour"] for h in stats] and sum(h["total"] for h in stats) == 5


def test_the_services_own_time_after_the_stamp_is_the_entrys_time(stamped):
    d, before, after = stamped
    console, js = (json.loads(l) for l in ok_lines(logs(d, "--level", ">=warn", "--json")))
    assert (console["ts"], console["level"], console["logger"], console["msg"], console["UserName"]) == \
        ("2025-03-07T18:47:50.025Z", "warn", "pydio.rest.jobs", "slow job", "jenny")
    assert before <= dt.datetime.fromisoformat(console["arrived"]).timestamp() <= after
    # A JSON line after a stamp: still one object, its own keys and the stamp as "arrived".
    assert js["arrived"] and {k: v for k, v in js.items() if k != "arrived"} == {
        "level": "error", "ts": "2025-03-07T19:47:50+01:00", "logger": "pydio.grpc.auth",
        "msg": "Login failed", "RemoteAddress": "10.0.0.7"}
    assert ok_lines(logs(d, "--ip", "10.0.0.7", "--json")) == [json.dumps(js, ensure_ascii=False)]
    assert ok_lines(logs(d, "--user", "jenny", "--csv"))[1].startswith("2025-03-07 19:47:50,WARN,,jenny,rest.jobs,")
    detail = "\n".join(ok_lines(logs(d, "--user", "jenny", "--detail")))
    assert f"Arrived   {console['arrived']}\n" in detail and re.search(r"^Message +slow job$", detail, re.M)


# -- without stamps: an archive's day is in its name -----------------------------------------

@pytest.fixture()
def timeless(tmp_path):
    """Archives and a live file of a service whose lines carry no time (TZ=UTC)."""
    import gzip
    d = tmp_path / "logs"
    d.mkdir()
    (d / "cells.out.2026-11-25").write_bytes(b"line A1\nline A2\n")
    (d / "cells.out.2026-11-26.gz").write_bytes(gzip.compress(b"line B1\nline B2\n"))
    (d / "cells.out").write_bytes(b"line C1\n")
    t = dt.datetime(2026, 11, 27, 15, tzinfo=dt.timezone.utc).timestamp()
    os.utime(d / "cells.out", (t, t))
    return d


UTC_ENV = child_env(TZ="UTC")
UTC_NO_GREP = child_env(TZ="UTC", CELLSRUN_GREP="0")


def msgs(r) -> list[str]:
    if r.returncode == 1 and r.stdout == b"" and r.stderr == b"":
        return []
    return [json.loads(l)["msg"] for l in ok_lines(r)]


@pytest.mark.parametrize("env", [UTC_ENV, UTC_NO_GREP], ids=["grep", "python"])
@pytest.mark.parametrize("args, want", [
    (["--day", "2026-11-25"], ["line A1", "line A2"]),
    (["--day", "2026-11-26"], ["line B1", "line B2"]),
    (["--day", "2026-11-27"], ["line C1"]),
    (["--since", "2026-11-26", "--until", "2026-11-26"], ["line B1", "line B2"]),
    (["--since", "2026-11-26"], ["line B1", "line B2", "line C1"]),
    (["--until", "2026-11-25T23:59:59.999999"], ["line A1", "line A2"]),
    (["--since", "2026-11-26T12:00"], ["line C1"]),  # the 26th is only partly in the period
    (["--since", "2026-11-25T00:00:01", "--until", "2026-11-26T23:00"], []),
    (["--around", "2026-11-26T12:00", "--minutes", "30"], []),
    (["-q", "line b", "--day", "2026-11-26"], ["line B1", "line B2"]),
    (["-q", "A2", "--since", "2026-11-25"], ["line A2"]),
])
def test_lines_without_time_belong_to_their_files_day(timeless, env, args, want):
    assert msgs(logs(timeless, *args, "--json", env=env)) == want


def test_the_day_shows_in_the_date_column_and_the_stats(timeless):
    table = ok_lines(logs(timeless, "--day", "2026-11-25", env=UTC_ENV))
    assert [row.split()[0] for row in table[1:]] == ["2026-11-25", "2026-11-25"]
    assert table[1].endswith("line A1")
    stats = json.loads(logs(timeless, "--stats", "--json", env=UTC_ENV).stdout)
    assert [(h["hour"], h["total"]) for h in stats] == [
        ("2026-11-25 (no time)", 2), ("2026-11-26 (no time)", 2), ("2026-11-27 (no time)", 1)]


def test_after_a_timed_line_a_line_still_takes_its_time(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    (d / "cells.out.2026-11-25").write_bytes(
        b"no time yet\n2026-11-25T10:00:00.000Z\tINFO\tpydio.x\ttimed\npanic: after it\n")
    rows = [json.loads(l) for l in ok_lines(logs(d, "--since", "2026-11-25T09:00", "--json", env=UTC_ENV))]
    assert [r["msg"] for r in rows] == ["timed", "panic: after it"]
    csv = ok_lines(logs(d, "--csv", env=UTC_ENV))
    assert [c.split(",")[0] for c in csv[1:]] == ["2026-11-25", "2026-11-25 10:00:00", "2026-11-25 10:00:00"]


# -- cellsrun start --stamp: the launcher passes it to the rotator ---------------------------

@pytest.fixture()
def home():
    """A short working dir (a unix socket path stays under ~100 bytes); stopped afterwards."""
    import shutil
    import tempfile
    from pathlib import Path
    path = Path(tempfile.mkdtemp(prefix="crst", dir="/tmp"))
    yield path
    run("stop", "--home", str(path), "--all", timeout=90)
    shutil.rmtree(path, ignore_errors=True)


def error_line(r) -> str:
    err = r.stderr.decode()
    assert len(err.splitlines()) == 1 and err.startswith("Error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("how", ["flags", "env", "saved-stamp", "saved-log", "saved-both"])
def test_stamp_with_json_logs_is_refused_before_anything_starts(home, how):
    """A stamp before a JSON line would break it, wherever the two settings come from."""
    args, env, toml = ["--demo"], child_env(), ""
    if how == "flags":
        args += ["--stamp", "--log", "production"]
    elif how == "env":
        args += ["--stamp"]
        env = child_env(PYDIO_LOGS_LEVEL="production")
    elif how == "saved-stamp":
        toml, args = "stamp = true\n", args + ["--log", "production"]
    elif how == "saved-log":
        toml, args = 'log = "production"\n', args + ["--stamp"]
    else:
        toml = 'log = "production"\nstamp = true\n'
    if toml:
        (home / "cellsrun.toml").write_text(toml)
    r = run("start", "--home", str(home), *args, env=env, timeout=60)
    err = error_line(r)
    assert r.returncode == 2 and "stamp" in err and "production" in err, err
    assert sorted(p.name for p in home.iterdir()) == (["cellsrun.toml"] if toml else [])
    if toml:
        assert (home / "cellsrun.toml").read_text() == toml  # the refused flags were not saved


@pytest.mark.parametrize("value", ['"yes"', "1"])
def test_a_stamp_setting_that_is_not_a_boolean_is_refused(home, value):
    (home / "cellsrun.toml").write_text(f"stamp = {value}\n")
    r = run("config", "--supervisor", "--home", str(home))
    assert r.returncode == 2 and error_line(r).startswith(f"Error: {home}/cellsrun.toml: stamp = {value}: ")


def test_config_supervisor_passes_the_saved_stamp_to_the_rotator(home):
    def rotator_command() -> str:
        r = run("config", "--supervisor", "--home", str(home))
        assert r.returncode == 0, r.stderr
        return next(l for l in r.stdout.decode().splitlines() if l.startswith("command=") and " rotate " in l)
    assert "--stamp" not in rotator_command()
    (home / "cellsrun.toml").write_text("stamp = true\n")
    assert rotator_command().endswith(" --stamp") or " --stamp " in rotator_command()


@pytest.mark.slow
def test_start_stamp_gives_a_timeless_service_times_and_no_stamp_takes_them_away(home):
    """A real supervisord: a service that prints lines without a time, started with --stamp;
    `cellsrun logs --since 1m` finds them with the time they arrived, and the choice is saved."""
    script = "i=0; while :; do i=$((i+1)); echo \"tick $i\"; sleep 0.2; done"
    before = time.time()
    r = run("start", "--home", str(home), "--stamp", "--startsecs", "1", "--", "/bin/sh", "-c", script,
            timeout=90)
    assert r.returncode == 0, r.stderr
    live = home / "logs" / "cells.out"
    wait_for(lambda: live.exists() and live.read_bytes().count(b"\n") >= 3, 30, "three ticks",
             lambda: listing(home / "logs"))
    first = live.read_bytes().split(b"\n")[0]
    assert STAMP.match(first) and first.endswith(b" tick 1"), first
    got = run("logs", "--home", str(home), "--since", "1m", "-q", "tick 1", "--json")
    o = json.loads(got.stdout.splitlines()[0])
    assert o["msg"] == "tick 1" and before <= dt.datetime.fromisoformat(o["ts"]).timestamp() <= time.time()
    assert "stamp = true" in (home / "cellsrun.toml").read_text()
    # --no-stamp: the next start writes the lines as they come (and saves that).
    r = run("restart", "--home", str(home), "--no-stamp", timeout=90)
    assert r.returncode == 0, r.stderr
    size = live.stat().st_size
    wait_for(lambda: live.read_bytes()[size:].count(b"\n") >= 3, 30, "three more ticks")
    later = live.read_bytes()[size:].split(b"\n")[1]
    assert later.startswith(b"tick "), later
    assert "stamp = false" in (home / "cellsrun.toml").read_text()


def test_stop_and_status_work_whatever_the_log_mode_says(home):
    """The refusal is for what starts programs: `stop` and `status` with PYDIO_LOGS_LEVEL=production
    and a saved stamp still act (here: nothing runs, and they say so)."""
    (home / "cellsrun.toml").write_text("stamp = true\n")
    env = child_env(PYDIO_LOGS_LEVEL="production")
    assert run("stop", "--home", str(home), env=env).returncode == 0
    assert run("status", "--home", str(home), env=env).returncode != 2
    r = run("config", "--supervisor", "--home", str(home), env=env)
    assert r.returncode == 2 and "--stamp cannot go with --log production" in error_line(r)


@pytest.mark.parametrize("env", [UTC_ENV, UTC_NO_GREP], ids=["grep", "python"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_stamped_archives_are_searched_by_their_stamps(tmp_path, env, gz):
    """Stamped archives (as a `rotate --stamp` leaves them): -q through grep or Python, a
    period that binary-searches a plain archive, --day: the stamps are the times."""
    import gzip
    d = tmp_path / "logs"
    d.mkdir()
    for day in ("2026-11-25", "2026-11-26"):
        text = "".join(f"{day}T{h:02d}:{m:02d}:00.000000Z worker {h}:{m:02d} done\n"
                       for h in range(24) for m in range(0, 60, 5)).encode()
        name = d / f"cells.out.{day}"
        if gz:
            name.with_name(name.name + ".gz").write_bytes(gzip.compress(text))
        else:
            name.write_bytes(text)
    assert msgs(logs(d, "-q", "worker 13:05", "--json", env=env)) == ["worker 13:05 done"] * 2
    assert msgs(logs(d, "-q", "worker 13:05", "--day", "2026-11-26", "--json", env=env)) == ["worker 13:05 done"]
    got = [json.loads(l) for l in ok_lines(logs(d, "--since", "2026-11-26T07:58", "--until", "2026-11-26T08:11",
                                                "--json", env=env))]
    assert [(o["ts"], o["msg"]) for o in got] == [
        ("2026-11-26T08:00:00.000000Z", "worker 8:00 done"), ("2026-11-26T08:05:00.000000Z", "worker 8:05 done"),
        ("2026-11-26T08:10:00.000000Z", "worker 8:10 done")]
    stats = json.loads(logs(d, "--stats", "--json", env=env).stdout)
    assert len(stats) == 48 and {h["total"] for h in stats} == {12}
