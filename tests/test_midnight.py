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


@pytest.mark.parametrize("fmt", ["raw", "json"])
def test_midnight_under_load_every_line_once_whole_in_order_in_its_day(tmp_path, fmt):
    tz, midnight = tz_with_midnight_in(5)
    env = child_env(TZ=tz)
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs), "--format", fmt, env=env)
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    writer = subprocess.Popen(writer_cmd("--fifo", str(fifo), "--rate", "5000", "--size", "200",
                                         "--state", str(tmp_path / "next")), env=env)
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
    wait_for(lambda: all_output(logs).count(b"\n") >= sent, 20, f"all {sent} lines",
             lambda: listing(logs))
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
    # The day of a line is the day the rotator received it: never before it was sent, and
    # under this load not more than a second after.
    # A line sent microseconds after midnight may reach the pipe between the rotator's clock
    # check and its read, and so count as received the day before: within the 50 ms budget.
    assert sent_at(old_lines[-1]) < midnight + 0.05, "a line sent after midnight is in yesterday's file"
    assert sent_at(new_lines[0]) > midnight - 1.0, "a line sent long before midnight is in today's file"


def test_silent_input_still_rotates_on_time(tmp_path):
    tz, midnight = tz_with_midnight_in(3)
    env = child_env(TZ=tz)
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs), "--compress", "none", env=env)
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "3"), check=True, env=env)
    wait_for(lambda: (logs / "cells.out").exists() and (logs / "cells.out").stat().st_size > 0, 10,
             "the three lines", lambda: listing(logs))
    archive = logs / f"cells.out.{local_day(midnight - 1, tz)}"
    wait_for(archive.exists, 10, "the archive after midnight", lambda: listing(logs) + rot.stderr())
    # When it rotated, as the rotator logs it (µs; a file's ctime is only as fine as a kernel tick).
    stamp = wait_for(lambda: [l.split()[2] for l in rot.stderr().splitlines() if " rotated " in l], 5,
                     "the rotation to be logged", rot.stderr)[0]
    late = dt.datetime.fromisoformat(stamp).timestamp() - midnight
    assert 0 <= late < 0.5, f"rotated {late:.3f}s after midnight"
    assert (logs / "cells.out").read_bytes() == b""
    assert rot.stop() == 0
    check_sequence(archive.read_bytes(), 3)


def test_rotator_down_over_midnight_archives_the_leftover_at_start(tmp_path):
    tz, midnight = tz_with_midnight_in(2)
    env = child_env(TZ=tz)
    logs = tmp_path / "logs"
    subprocess.run(writer_cmd("--count", "5"), stdout=open(tmp_path / "in1", "wb"), check=True)
    with open(tmp_path / "in1", "rb") as f:
        assert subprocess.run(cellsrun_cmd("rotate", "--dir", str(logs),
                               "--compress", "none"), stdin=f, env=env).returncode == 0
    wait_for(lambda: time.time() > midnight + 0.2, 10, "midnight")
    subprocess.run(writer_cmd("--count", "5", "--start", "5"), stdout=open(tmp_path / "in2", "wb"), check=True)
    with open(tmp_path / "in2", "rb") as f:
        assert subprocess.run(cellsrun_cmd("rotate", "--dir", str(logs),
                               "--compress", "none"), stdin=f, env=env).returncode == 0
    archive = logs / f"cells.out.{local_day(midnight - 1, tz)}"
    check_sequence(archive.read_bytes(), 5)
    assert (logs / "cells.out").read_bytes().startswith(b"seq=5 ")
    check_sequence(archive.read_bytes() + (logs / "cells.out").read_bytes(), 10)
