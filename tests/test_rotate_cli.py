"""`cellsrun rotate` as a real process: pipes, FIFOs, signals, hostile input, errors."""

import gzip
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (Rotate, all_output, cellsrun_cmd, check_sequence, child_env, listing,
                      run, wait_for, writer_cmd)


def wait_fifo_empty(fifo_holder_fd, timeout=20):
    import array
    import fcntl
    import termios

    def queued():
        buf = array.array("i", [0])
        fcntl.ioctl(fifo_holder_fd, termios.FIONREAD, buf)
        return buf[0]
    wait_for(lambda: queued() == 0, timeout, "the FIFO to drain", lambda: f"{queued()} bytes queued")


# -- stdin ----------------------------------------------------------------------------------

def test_stdin_to_file_and_exit_at_end_of_input(tmp_path):
    r = run("rotate", "--dir", str(tmp_path / "logs"), input=b"one\ntwo\nno newline")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "logs" / "cells.out").read_bytes() == b"one\ntwo\nno newline\n"
    assert oct((tmp_path / "logs").stat().st_mode & 0o777) == "0o750"


def test_hostile_bytes_pass_through_raw(tmp_path):
    long_line = b"L" * (3 << 20) + b"\n"
    payload = (b"nul\x00inside\n" + b"bad utf8 \xff\xfe\xc3\x28\n" + b"cr\r\n" + b"\x1b[31mred\x1b[0m\n"
               + long_line + b"\n\n" + b"last without newline")
    for path in ("pipe", "file"):
        d = tmp_path / path
        if path == "pipe":
            r = run("rotate", "--dir", str(d), input=payload)
        else:
            src = tmp_path / "src"
            src.write_bytes(payload)
            with open(src, "rb") as f:
                r = subprocess.run(cellsrun_cmd("rotate", "--dir", str(d)), stdin=f,
                                   capture_output=True, env=child_env(), timeout=60)
        assert r.returncode == 0, r.stderr
        assert (d / "cells.out").read_bytes() == payload + b"\n", path


def test_json_format_makes_every_line_an_object(tmp_path):
    samples = Path(__file__).resolve().parent / "data" / "cells-json.log"
    objects = [b'{"level":"info","ts":"2026-11-27T13:32:18+01:00","logger":"pydio.grpc.auth","msg":"Login","UserName":"jenny"}',
               b'  {"spaced": true}  ', b'{"cr": 1}\r', b'{"nested":{"a":[1,2,{"b":null}]}}']
    objects += samples.read_bytes().splitlines()
    others = [b"panic: runtime error: invalid memory address", b"\tgoroutine 1 [running]:",
              b'{"broken": ', b"[1, 2, 3]", b'"just a string"', b"", b"   ", b'{"a":1}{"b":2}',
              b"bad \xff utf8", b'{"bad":"\xff"}', b"nul\x00here", b"\x1b[31mansi\x1b[0m", b"{}x"]
    lines = []
    for i in range(300):
        lines.append(objects[i % len(objects)])
        lines.append(others[i % len(others)])
    payload = b"\n".join(lines) + b"\n" + b"Y" * ((2 << 20) + 1000) + b"\n" + b"tail without newline"
    r = run("rotate", "--dir", str(tmp_path), "--format", "json", "--logger", "cells", input=payload)
    assert r.returncode == 0, r.stderr
    out = (tmp_path / "cells.out").read_bytes().split(b"\n")
    assert out[-1] == b""
    out = out[:-1]
    for line in out:
        assert isinstance(json.loads(line), dict), line[:100]
    expect_iter = iter(out)
    for line in lines:
        got = next(expect_iter)
        if line in objects:
            assert got == line  # byte for byte
        else:
            obj = json.loads(got)
            assert set(obj) == {"level", "ts", "logger", "msg"} and obj["logger"] == "cells"
            assert obj["msg"] == line.decode("utf-8", "backslashreplace")
            assert obj["ts"][:2] == "20" and obj["level"] == "info"
    rest = list(expect_iter)
    assert json.loads(rest[-1])["msg"] == "tail without newline"
    pieces = [json.loads(line)["msg"] for line in rest[:-1]]
    assert "".join(pieces) == "Y" * ((2 << 20) + 1000)  # cut at 1 MiB, nothing lost
    assert all(len(line) <= 1 << 20 for line in rest), [len(line) for line in rest]  # wrapper included


# -- usage and runtime errors ---------------------------------------------------------------

@pytest.mark.parametrize("args,code,needle", [
    (["--max-total", "10XB"], 2, "'10XB'"),
    (["--keep-days", "-1"], 2, "'-1'"),
    (["--keep-days", "1000000"], 2, "'1000000'"),  # past 36,500 days: a typo, not a policy
    (["--compress", "zip"], 2, "'zip'"),
    (["--name", "a/b"], 2, "'a/b'"),
])
def test_bad_values_are_usage_errors(tmp_path, args, code, needle):
    r = run("rotate", "--dir", str(tmp_path / "logs"), *args, input=b"x\n")
    assert r.returncode == code
    err = r.stderr.decode()
    assert err.startswith("Error: ") and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "logs").exists()


def test_input_that_is_a_regular_file_is_refused_untouched(tmp_path):
    f = tmp_path / "service.log"
    f.write_bytes(b"precious\n")
    r = run("rotate", "--input", str(f), "--dir", str(tmp_path / "logs"))
    assert r.returncode == 2
    assert r.stderr.decode().startswith("Error: --input") and str(f) in r.stderr.decode()
    assert f.read_bytes() == b"precious\n"
    assert not (tmp_path / "logs").exists()


def test_unwritable_dir_is_a_runtime_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    r = run("rotate", "--dir", str(blocker / "logs"), input=b"line\n")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.startswith("Error: ") and str(blocker / "logs") in err and "Traceback" not in err
    assert blocker.read_bytes() == b"x"


def test_read_only_dir_is_a_runtime_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into a mode-0500 directory anyway")
    d = tmp_path / "ro"
    d.mkdir(mode=0o500)
    r = run("rotate", "--dir", str(d), input=b"line\n")
    assert r.returncode == 1 and r.stderr.decode().startswith("Error: ")


# -- FIFO, signals, restarts ----------------------------------------------------------------

def test_fifo_is_created_private_and_survives_writers_coming_and_going(tmp_path):
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs))
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    assert oct(fifo.stat().st_mode & 0o777) == "0o600"
    for start in (0, 100, 200):  # three writers, one after the other, each closing the FIFO
        subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "100", "--start", str(start)), check=True)
    wait_for(lambda: all_output(logs).count(b"\n") == 300, 10, "300 lines", lambda: listing(logs))
    assert rot.stop() == 0
    check_sequence(all_output(logs), 300)


def test_sighup_reopens_the_live_file(tmp_path):
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs))
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "10"), check=True)
    wait_for(lambda: (logs / "cells.out").exists() and (logs / "cells.out").read_bytes().count(b"\n") == 10,
             10, "10 lines", lambda: listing(logs))
    os.rename(logs / "cells.out", logs / "moved-by-logrotate")
    rot.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: (logs / "cells.out").exists(), 10, "a new cells.out", lambda: listing(logs))
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "10", "--start", "10"), check=True)
    wait_for(lambda: (logs / "cells.out").read_bytes().count(b"\n") == 10, 10, "10 more lines",
             lambda: listing(logs))
    assert rot.stop() == 0
    check_sequence((logs / "moved-by-logrotate").read_bytes() + (logs / "cells.out").read_bytes(), 20)


@pytest.mark.slow
def test_rotator_restarted_many_times_while_the_writer_writes(tmp_path):
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    os.mkfifo(fifo, 0o600)
    holder = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # as the exec shim holds it for the service
    writer = subprocess.Popen(writer_cmd("--fifo", str(fifo), "--rate", "4000", "--size", "300",
                                         "--state", str(tmp_path / "next")))
    try:
        for i in range(12):
            rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs))
            before = (logs / "cells.out").stat().st_size if (logs / "cells.out").exists() else 0
            wait_for(lambda: (logs / "cells.out").exists() and (logs / "cells.out").stat().st_size > before,
                     10, f"progress in round {i}", lambda: listing(logs) + rot.stderr())
            assert rot.stop(signal.SIGINT if i % 2 else signal.SIGTERM) == 0, rot.stderr()
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(10)
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs))
    wait_fifo_empty(holder)
    assert rot.stop() == 0
    os.close(holder)
    sent = int((tmp_path / "next").read_text())
    seqs = check_sequence(all_output(logs), sent)
    assert len(seqs) > 1000


def test_sigterm_writes_everything_already_read(tmp_path):
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs), "--format", "json")
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    fd = os.open(fifo, os.O_WRONLY)
    os.write(fd, b'{"n":1}\n{"n":2}\n{"n":3, "partial')
    wait_for(lambda: (logs / "cells.out").exists() and (logs / "cells.out").read_bytes().count(b"\n") == 2,
             10, "two lines", lambda: listing(logs))
    assert rot.stop() == 0
    os.close(fd)
    lines = (logs / "cells.out").read_bytes().splitlines()
    assert lines[:2] == [b'{"n":1}', b'{"n":2}']
    assert json.loads(lines[2])["msg"] == '{"n":3, "partial'  # read, so written (wrapped)


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["group", "rotator only"])
def test_killed_during_compression_then_restarted(tmp_path, kill):
    """SIGKILL of the whole group (as a power cut would) or of the rotator alone (its gzip
    child, orphaned, finishes on its own): after a restart the archive is there exactly once."""
    logs = tmp_path / "logs"
    logs.mkdir()
    import random
    rnd = random.Random(7)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"pydio.grpc.auth", b"10.0.0.7", b"jenny"]
    payload = b"".join(b" ".join(rnd.choice(words) for _ in range(20)) + b"\n" for _ in range(600000))
    (logs / "cells.out.2026-11-20").write_bytes(payload)
    fifo = tmp_path / "cells.fifo"
    err = open(tmp_path / "err", "wb")
    first = subprocess.Popen(cellsrun_cmd("rotate", "--input", str(fifo), "--dir", str(logs), "--keep-days", "0"),
                             env=child_env(), stderr=err, start_new_session=True)
    wait_for(lambda: (logs / "cells.out.2026-11-20.gz.tmp").exists(), 20, "compression to start",
             lambda: listing(logs))
    if kill == "group":
        os.killpg(first.pid, signal.SIGKILL)
    else:
        first.kill()
    first.wait(10)
    if kill == "group":
        assert (logs / "cells.out.2026-11-20").read_bytes() == payload  # the original is intact
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs), "--keep-days", "0")
    wait_for(lambda: not (logs / "cells.out.2026-11-20").exists()
             and not (logs / "cells.out.2026-11-20.gz.tmp").exists(), 60, "compression to finish",
             lambda: listing(logs))
    assert rot.stop() == 0
    names = sorted(p.name for p in logs.iterdir())
    assert names == ["cells.out", "cells.out.2026-11-20.gz"], names
    assert gzip.decompress((logs / "cells.out.2026-11-20.gz").read_bytes()) == payload


# -- a full disk ----------------------------------------------------------------------------

@pytest.fixture
def tiny_fs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["raw", "json"])
def test_full_disk_holds_data_applies_backpressure_and_resumes(tmp_path, tiny_fs, fmt):
    import psutil
    filler = tiny_fs / "filler"
    filler.write_bytes(b"\0" * (3 << 20))
    logs, fifo = tiny_fs / "logs", tmp_path / "cells.fifo"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs), "--compress", "none",
                 "--format", fmt)
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    total = 20000  # ~3.2 MB: more than the ~1 MB left
    gen = (tmp_path / "gen.py")
    gen.write_text("import json,sys\nfor i in range(%d):\n"
                   "    sys.stdout.write(json.dumps({'msg': 'seq=%%d %s END' %% i})+'\\n')\n" % (total, "x" * 120))
    writer = subprocess.Popen(f"{os.sys.executable} {gen} > {fifo}", shell=True)
    wait_for(lambda: "No space left" in rot.stderr(), 30, "a warning about the full disk", rot.stderr)
    size = (logs / "cells.out").stat().st_size
    time.sleep(0.5)  # give a stalled writer a chance to (wrongly) make progress
    assert writer.poll() is None, "the writer finished although the disk is full: data was dropped"
    assert (logs / "cells.out").stat().st_size == size
    assert psutil.Process(rot.proc.pid).memory_info().rss < 64 << 20
    filler.unlink()  # the operator frees space: it resumes by itself
    assert writer.wait(60) == 0
    lines = lambda: (logs / "cells.out").read_bytes().count(b"\n")  # noqa: E731
    wait_for(lambda: lines() == total, 30, "all lines", lambda: f"{lines()} lines; {rot.stderr()}")
    assert "again after" in rot.stderr()
    assert rot.stop() == 0
    seen = [json.loads(l)["msg"].split()[0] for l in (logs / "cells.out").read_bytes().splitlines()]
    assert seen == [f"seq={i}" for i in range(total)]


@pytest.mark.slow
@pytest.mark.parametrize("fmt,source", [("json", "fifo"), ("raw", "file")])
def test_hup_and_term_during_a_full_disk_stall_do_not_spin(tmp_path, tiny_fs, fmt, source):
    """The back-off loop sleeps between retries whatever signal arrives: a HUP or TERM
    must not leave its wake-up fd readable (measured: CPU time of the stalled rotator)."""
    import psutil
    (tiny_fs / "filler").write_bytes(b"\0" * (3 << 20))
    logs, fifo = tiny_fs / "logs", tmp_path / "cells.fifo"
    args = ["--dir", str(logs), "--compress", "none", "--format", fmt]
    writer = None
    if source == "fifo":
        rot = Rotate(tmp_path, "--input", str(fifo), *args)
        wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
        writer = subprocess.Popen(writer_cmd("--fifo", str(fifo), "--count", "20000", "--size", "160"))
    else:
        subprocess.run(writer_cmd("--count", "20000", "--size", "160"), stdout=open(tmp_path / "src", "wb"),
                       check=True)
        rot = Rotate(tmp_path, *args, stdin=open(tmp_path / "src", "rb"))
    try:
        wait_for(lambda: "No space left" in rot.stderr(), 30, "a warning about the full disk", rot.stderr)
        proc = psutil.Process(rot.proc.pid)

        def cpu_in_one_second():
            t = proc.cpu_times()
            time.sleep(1.0)  # the interval measured, not a wait for something
            u = proc.cpu_times()
            return (u.user + u.system) - (t.user + t.system)
        for sig in (signal.SIGHUP, signal.SIGTERM):
            rot.proc.send_signal(sig)
            used = cpu_in_one_second()
            assert used < 0.2, f"{used:.2f}s of CPU in 1s after {sig.name}: the retry loop spins"
            assert rot.proc.poll() is None
        (tiny_fs / "filler").unlink()  # space again: what was read is written, then it stops
        assert rot.proc.wait(30) == 0, rot.stderr()
    finally:
        if writer:
            writer.kill()
            writer.wait()
    data = (logs / "cells.out").read_bytes()
    if fmt == "json":
        data = b"".join(json.loads(l)["msg"].encode() + b"\n" for l in data.splitlines())
        assert len(check_sequence(data)) > 1000
    else:  # what was read is written; a stop leaves the last line open (see the README)
        assert data.count(b"\n") > 1000 and (tmp_path / "src").read_bytes().startswith(data)


def test_leftover_archived_at_start_is_logged_and_handed_to_the_housekeeper(tmp_path):
    import datetime as dt
    from cellsrun.rotationlog import parse_rotated
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "cells.out"
    live.write_bytes(b"from two days ago\n")
    t = time.time() - 2 * 86400
    os.utime(live, (t, t))
    r = run("rotate", "--dir", str(logs), input=b"today\n")
    assert r.returncode == 0, r.stderr
    day = dt.date.fromtimestamp(t)
    logged = [f for f in map(parse_rotated, r.stderr.decode().splitlines()) if f]
    assert [(f["how"], f["archive"]) for f in logged] == [("archived leftover", f"cells.out.{day}")], r.stderr
    assert sorted(p.name for p in logs.iterdir()) == ["cells.out", f"cells.out.{day}.gz"]
    assert gzip.decompress((logs / f"cells.out.{day}.gz").read_bytes()) == b"from two days ago\n"


def test_utc_days_instead_of_local_days(tmp_path):
    """A cells.out last written 1 min before today's UTC midnight: with --utc it is yesterday's
    and gets archived at start; in a local zone where that minute is today, it is kept."""
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc)
    midnight = dt.datetime.combine(now.date(), dt.time(), dt.timezone.utc)
    t = midnight.timestamp() - 60
    since = (now - midnight).total_seconds()
    east = 14 * 3600 if since < 10 * 3600 else 86400 - int(since + 1800) // 60 * 60
    tz = f"XYZ-{east // 3600:02d}:{east // 60 % 60:02d}"  # local = UTC + east: t and now share a day
    for utc in (True, False):
        d = tmp_path / ("utc" if utc else "local")
        d.mkdir()
        (d / "cells.out").write_bytes(b"late yesterday (UTC)\n")
        os.utime(d / "cells.out", (t, t))
        r = run("rotate", "--dir", str(d), "--compress", "none", *(["--utc"] if utc else []),
                input=b"now\n", env=child_env(TZ=tz))
        assert r.returncode == 0, r.stderr
        archives = sorted(p.name for p in d.iterdir() if p.name != "cells.out")
        if utc:
            assert archives == [f"cells.out.{(midnight - dt.timedelta(days=1)).date()}"], archives
            assert (d / "cells.out").read_bytes() == b"now\n"
        else:
            assert archives == [] and (d / "cells.out").read_bytes() == b"late yesterday (UTC)\nnow\n"
