"""A real local midnight, a few seconds from now (TZ set to a POSIX offset string)."""

import datetime as dt
import gzip
import os
import signal
import subprocess
import time

import pytest

from conftest import (Rotate, all_output, cellsrun_cmd, check_sequence, child_env, listing, log_files,
                      wait_for, writer_cmd)

pytestmark = pytest.mark.slow


def tz_with_midnight_in(seconds: float) -> tuple[str, float]:
    """(TZ string, epoch of the next local midnight) with that midnight ``seconds`` from now."""
    midnight = int(time.time() + seconds) + 1
    offset = (-midnight) % 86400  # local = UTC + offset puts `midnight` at 00:00:00
    sign, off = ("-", offset) if offset <= 12 * 3600 else ("+", 86400 - offset)  # POSIX signs are inverted
    h, rest = divmod(off, 3600)
    m, s = divmod(rest, 60)
    return f"XYZ{sign}{h:02d}:{m:02d}:{s:02d}", float(midnight)


def local_day(t: float, tz: str) -> dt.date:
    offset = int(tz[4:6]) * 3600 + int(tz[7:9]) * 60 + int(tz[10:12])
    sign = 1 if tz[3] == "-" else -1
    return dt.datetime.fromtimestamp(t + sign * offset, dt.timezone.utc).date()


def rotator_before_midnight(tmp_path, *args: str, lead: float = 2.0, margin: float = 1.0,
                            before_start=lambda logs, tz, midnight: None):
    """(Rotate, fifo, logs, tz, midnight): a rotator that is up (its FIFO exists) at least
    ``margin`` seconds before a real local midnight. The TZ is computed just before the start,
    and if a loaded machine took too long to get the rotator up, it is started again, in a
    fresh directory, with twice the lead: the budgets asserted afterwards never pay for a
    slow setup."""
    for attempt in range(5):
        base = tmp_path / f"try{attempt}"
        base.mkdir()
        fifo, logs = base / "cells.fifo", base / "logs"
        tz, midnight = tz_with_midnight_in(lead)
        before_start(logs, tz, midnight)
        rot = Rotate(base, "--input", str(fifo), "--dir", str(logs), *args, env=child_env(TZ=tz))
        wait_for(fifo.exists, 30, "the FIFO", rot.stderr)
        if time.time() < midnight - margin:
            return rot, fifo, logs, tz, midnight
        rot.stop()
        lead *= 2
    pytest.fail("could not get a rotator up before a midnight 2..32 s ahead")


def rotation_stamp(rot) -> float:
    """When the rotator renamed the file, as it logs it itself (microseconds)."""
    from cellsrun.rotationlog import parse_rotated
    found = wait_for(lambda: [f for f in map(parse_rotated, rot.stderr().splitlines())
                              if f and f["how"] == "rotated"], 10, "the rotation to be logged", rot.stderr)
    return dt.datetime.fromisoformat(found[0]["at"]).timestamp()


@pytest.mark.parametrize("fmt", ["raw", "json"])
def test_midnight_under_load_every_line_once_whole_in_order_in_its_day(tmp_path, fmt):
    rot, fifo, logs, tz, midnight = rotator_before_midnight(tmp_path, "--format", fmt, margin=1.5)
    writer = subprocess.Popen(writer_cmd("--fifo", str(fifo), "--rate", "5000", "--size", "200",
                                         "--state", str(tmp_path / "next")), env=child_env(TZ=tz))
    yesterday = local_day(midnight - 1, tz)
    archive = logs / f"cells.out.{yesterday}"
    try:
        wait_for(lambda: (logs / f"cells.out.{yesterday}.gz").exists(), 30,
                 "yesterday's compressed archive", lambda: listing(logs) + rot.stderr())
        wait_for(lambda: time.time() > midnight + 1.5, 10, "1.5 s of the new day")
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(10)
    sent = int((tmp_path / "next").read_text())
    count = lambda: all_output(logs).count(b"\n")  # noqa: E731
    wait_for(lambda: count() == sent, 20, f"all {sent} lines", lambda: f"{count()} lines; {listing(logs)}")
    assert rot.stop() == 0, rot.stderr()
    files = [p.name for p in log_files(logs)]
    assert files == [f"cells.out.{yesterday}.gz", "cells.out"], listing(logs)
    assert not archive.exists()
    old = gzip.decompress((logs / files[0]).read_bytes())
    new = (logs / "cells.out").read_bytes()
    if fmt == "json":
        import json
        old = b"".join(json.loads(l)["msg"].encode() + b"\n" for l in old.splitlines())
        new = b"".join(json.loads(l)["msg"].encode() + b"\n" for l in new.splitlines())
    check_sequence(old + new, sent)
    sent_at = lambda line: float(line.split(b" ")[1][2:])  # noqa: E731
    old_lines, new_lines = old.splitlines(), new.splitlines()
    assert old_lines and new_lines
    # The day of a line is the day the rotator received it. Timed by the rotator's own log,
    # not by this test's view of it: it rotated soon after midnight, and no line in
    # yesterday's file was sent after that rotation.
    stamp = rotation_stamp(rot)
    assert 0 <= stamp - midnight < 0.5, f"rotated {stamp - midnight:.3f}s after midnight"
    assert sent_at(old_lines[-1]) <= stamp, "a line sent after the rotation is in yesterday's file"


def test_silent_input_still_rotates_on_time(tmp_path):
    rot, fifo, logs, tz, midnight = rotator_before_midnight(tmp_path, "--compress", "none")
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "3"), check=True)
    wait_for(lambda: (logs / "cells.out").exists() and (logs / "cells.out").stat().st_size > 0, 10,
             "the three lines", lambda: listing(logs))
    archive = logs / f"cells.out.{local_day(midnight - 1, tz)}"
    wait_for(archive.exists, 40, "the archive after midnight", lambda: listing(logs) + rot.stderr())
    # When it rotated, as the rotator logs it (µs; a file's ctime is only as fine as a kernel tick).
    late = rotation_stamp(rot) - midnight
    assert 0 <= late < 0.5, f"rotated {late:.3f}s after midnight"
    assert (logs / "cells.out").read_bytes() == b""
    assert rot.stop() == 0
    check_sequence(archive.read_bytes(), 3)


def test_live_housekeeper_compresses_and_expires_after_a_real_midnight(tmp_path):
    """A real rotator crossing a real midnight: its housekeeper gzips the new archive and
    removes the one that the new day makes too old, with nothing else touched. The live
    file found at start has a far-future mtime: it is today's, so it is rotated tonight."""
    keep = 3
    seeded = {}

    def seed(logs, tz, midnight):
        today = local_day(midnight - 1, tz)
        logs.mkdir()
        seeded.update(today=today, expiring=f"cells.out.{today - dt.timedelta(days=keep)}.gz",
                      yesterday=f"cells.out.{today - dt.timedelta(days=1)}")
        (logs / seeded["expiring"]).write_bytes(gzip.compress(b"old enough tomorrow\n"))
        (logs / seeded["yesterday"]).write_bytes(b"yesterday, never compressed\n")
        (logs / "cells.out").write_bytes(b"leftover with a clock far ahead\n")
        t = dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc).timestamp()
        os.utime(logs / "cells.out", (t, t))

    rot, fifo, logs, tz, midnight = rotator_before_midnight(
        tmp_path, "--keep-days", str(keep), before_start=seed, lead=3.0, margin=1.5)
    today = seeded["today"]
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "5"), check=True)
    wait_for(lambda: (logs / f"{seeded['yesterday']}.gz").exists(), 10, "yesterday compressed at start",
             lambda: listing(logs))
    assert (logs / seeded["expiring"]).exists(), "removed before its day was over"
    assert time.time() < midnight, "too slow to observe the state before midnight"
    wait_for(lambda: (logs / f"cells.out.{today}.gz").exists() and not (logs / seeded["expiring"]).exists(),
             40, "today's archive compressed and the expired one removed", lambda: listing(logs) + rot.stderr())
    assert rot.stop() == 0, rot.stderr()
    assert sorted(p.name for p in logs.iterdir()) == sorted(
        ["cells.out", f"{seeded['yesterday']}.gz", f"cells.out.{today}.gz"]), listing(logs)
    archived = gzip.decompress((logs / f"cells.out.{today}.gz").read_bytes())
    assert archived.startswith(b"leftover with a clock far ahead\n")
    check_sequence(archived[len(b"leftover with a clock far ahead\n"):], 5)
    assert "warning" not in rot.stderr(), rot.stderr()


def test_rotator_down_over_midnight_archives_the_leftover_at_start(tmp_path):
    subprocess.run(writer_cmd("--count", "5"), stdout=open(tmp_path / "in1", "wb"), check=True)
    subprocess.run(writer_cmd("--count", "5", "--start", "5"), stdout=open(tmp_path / "in2", "wb"), check=True)
    lead = 2.0
    for attempt in range(5):  # the first run must end before midnight, however loaded the machine
        logs = tmp_path / f"logs{attempt}"
        tz, midnight = tz_with_midnight_in(lead)
        env = child_env(TZ=tz)
        with open(tmp_path / "in1", "rb") as f:
            assert subprocess.run(cellsrun_cmd("rotate", "--dir", str(logs),
                                   "--compress", "none"), stdin=f, env=env).returncode == 0
        if time.time() < midnight:
            break
        lead *= 2
    else:
        pytest.fail("could not run a rotator before a midnight 2..32 s ahead")
    wait_for(lambda: time.time() > midnight + 0.2, 40, "midnight")
    with open(tmp_path / "in2", "rb") as f:
        second = subprocess.run(cellsrun_cmd("rotate", "--dir", str(logs), "--compress", "none"),
                                stdin=f, env=env, capture_output=True)
    assert second.returncode == 0, second.stderr
    archive = logs / f"cells.out.{local_day(midnight - 1, tz)}"
    assert f"archived leftover cells.out to {archive.name}" in second.stderr.decode()
    check_sequence(archive.read_bytes(), 5)
    assert (logs / "cells.out").read_bytes().startswith(b"seq=5 ")
    check_sequence(archive.read_bytes() + (logs / "cells.out").read_bytes(), 10)
