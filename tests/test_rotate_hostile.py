"""`cellsrun rotate` against hostile input and operator accidents (issue 7): real processes,
FIFOs and files; every case asserts that no line is lost and the process keeps its promises."""

import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import (Rotate, all_output, cellsrun_cmd, check_sequence, child_env, listing, run,
                      wait_for, writer_cmd)

DATA = Path(__file__).resolve().parent / "data"


def fifo_queued(fd: int) -> int:
    import array
    import fcntl
    import termios
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return buf[0]


def lines_of(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


# -- 1. deep JSON -----------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["pipe", "file"])
def test_json_nested_1000_deep_is_wrapped_and_nothing_is_lost(tmp_path, source):
    deep = b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}"
    unterminated = b'{"a":' + b"[" * 200_000
    good = [b'{"n":%d}' % i for i in range(10)]
    lines = good[:5] + [deep] + good[5:8] + [unterminated] + good[8:]
    payload = b"\n".join(lines) + b"\n"
    d = tmp_path / "logs"
    if source == "pipe":
        r = run("rotate", "--dir", str(d), "--format", "json", input=payload)
    else:
        (tmp_path / "src").write_bytes(payload)
        with open(tmp_path / "src", "rb") as f:
            r = subprocess.run(cellsrun_cmd("rotate", "--dir", str(d), "--format", "json"), stdin=f,
                               capture_output=True, env=child_env(), timeout=60)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    out = (d / "cells.out").read_bytes().splitlines()
    assert len(out) == len(lines), [o[:60] for o in out]
    for sent, got in zip(lines, out):
        if sent in good:
            assert got == sent
        else:
            assert json.loads(got)["msg"] == sent.decode()


# -- 5. every output line of json mode is one JSON object -------------------------------------

def real_json_lines() -> list[bytes]:
    lines = (DATA / "cells-json.log").read_bytes().splitlines()
    lines += [b'{"level":"error","ts":"2026-11-27T13:32:18.123+01:00","logger":"pydio.rest.jobs",'
              b'"msg":"failed","error":"rpc error: code = Unavailable","stacktrace":"main.go:12\\nrun.go:3",'
              b'"nested":{"a":[1,2,{"b":null}],"u":"\xc3\xa9t\xc3\xa9 \\u00e9"}}',
              b'{"level":"info","ts":"2026-11-27T13:32:18+01:00","msg":"{\\"x\\": [1, {}]}"}',
              b"{}", b'{"a":{}}', b'{"a":[]}']
    return lines


def split_before_brace(rnd: random.Random, line: bytes) -> list[bytes]:
    """``line`` cut just before one of its inner '{' (e.g. '{"x":' and '{}}'): two lines
    that a stream decoder reads as the one object they were."""
    cuts, in_string, escaped = [], False, False
    for i, c in enumerate(line):  # only a '{' that opens an object, not one inside a string
        if in_string:
            in_string = not (c == 0x22 and not escaped)
            escaped = c == 0x5C and not escaped
        elif c == 0x22:
            in_string = True
        elif c == 0x7B and i:
            cuts.append(i)
    if not cuts:
        return [line]
    k = rnd.choice(cuts)
    return [line[:k], line[k:]]


def hostile_json_lines(rnd: random.Random, n: int) -> list[bytes]:
    """Random truncations and concatenations of real lines (what a crash, a race between two
    writers or a missing newline make of them), with a good line now and then."""
    real = real_json_lines()
    out = []
    while len(out) < n:
        a, b = rnd.choice(real), rnd.choice(real)
        cut_a, cut_b = rnd.randrange(len(a) + 1), rnd.randrange(len(b) + 1)
        kind = rnd.randrange(10)
        if kind in (0, 1):
            out.append(a)
        elif kind == 2:
            out.append(a[:cut_a])                        # truncated: '{"x":'
        elif kind in (3, 4):
            out.append(a + b)                            # two objects on a line: '{}{}'
        elif kind == 5:
            out.append(a[:cut_a] + b[cut_b:])            # a head and a foreign tail: '{}}'
        elif kind in (6, 7):
            out.extend(split_before_brace(rnd, a))       # one object over two lines
        elif kind == 8:
            out.append(a + b" " + b[:cut_b])             # an object, then half of another
        else:
            out.append(rnd.choice([b"}", b"{", b"{}}", b"{}{}", b'{"x":', b"", b" ", b"[]", b"null",
                                   a[cut_a:]]))
    return out


def balanced_json_lines(rnd: random.Random, n: int) -> list[bytes]:
    """Only lines that each start with '{', in which as many lines hold two objects as
    objects are spread over two lines: a block of them holds exactly one object per line
    on average, the case a count of objects cannot tell from good lines."""
    real = real_json_lines()
    out = []
    while len(out) < n:
        a, b = rnd.choice(real), rnd.choice(real)
        nested = [x for x in real if len(split_before_brace(rnd, x)) == 2]
        units = [[rnd.choice(real)] for _ in range(rnd.randrange(3))]
        units += [[a + b], split_before_brace(rnd, rnd.choice(nested))]
        rnd.shuffle(units)
        for unit in units:
            out.extend(unit)
    return out


def assert_one_object_per_line(sent: list[bytes], written: bytes) -> None:
    """Every written line parses (standard json module) as a dict; objects pass byte for
    byte, every other line is wrapped with itself as the message; nothing else."""
    got = written.split(b"\n")
    assert got[-1] == b"", "output does not end with a newline"
    got = got[:-1]
    assert len(got) == len(sent), f"{len(got)} lines written for {len(sent)} sent"
    for s, g in zip(sent, got):
        obj = json.loads(g)
        assert isinstance(obj, dict), g[:120]
        try:
            is_obj = isinstance(json.loads(s), dict)
        except ValueError:
            is_obj = False
        if is_obj:
            assert g == s, (s[:120], g[:120])
        else:
            assert set(obj) == {"level", "ts", "logger", "msg"} and obj["msg"] == s.decode(
                "utf-8", "backslashreplace"), (s[:120], g[:120])


@pytest.mark.parametrize("kind", ["balanced", "hostile"])
def test_json_mode_random_truncations_and_concatenations_are_each_one_object(tmp_path, kind):
    rnd = random.Random(20261128)
    sent = (balanced_json_lines if kind == "balanced" else hostile_json_lines)(rnd, 6000)
    payload = b"\n".join(sent) + b"\n"
    for source in ("pipe", "file"):
        d = tmp_path / source
        if source == "pipe":
            r = run("rotate", "--dir", str(d), "--format", "json", input=payload)
        else:
            (tmp_path / "src").write_bytes(payload)
            with open(tmp_path / "src", "rb") as f:
                r = subprocess.run(cellsrun_cmd("rotate", "--dir", str(d), "--format", "json"),
                                   stdin=f, capture_output=True, env=child_env(), timeout=60)
        assert r.returncode == 0, r.stderr
        assert_one_object_per_line(sent, (d / "cells.out").read_bytes())


def test_json_mode_lines_split_between_fifo_writes(tmp_path):
    """Hostile lines through a FIFO in writes of random sizes, so that blocks start and
    end anywhere (the block check sees every kind of boundary)."""
    rnd = random.Random(7)
    sent = []
    for _ in range(30):
        sent += (balanced_json_lines if rnd.random() < 0.5 else hostile_json_lines)(rnd, 100)
    payload = b"\n".join(sent) + b"\n"
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs), "--format", "json")
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    fd = os.open(fifo, os.O_WRONLY)
    view = memoryview(payload)
    while view:
        k = rnd.choice([1, 2, 7, 64, 500, 4096, 70000])
        view = view[os.write(fd, view[:k]):]
    wait_for(lambda: lines_of(logs / "cells.out") == len(sent), 30, f"{len(sent)} lines",
             lambda: f"{lines_of(logs / 'cells.out')} lines; {rot.stderr()}")
    assert rot.stop() == 0, rot.stderr()
    os.close(fd)
    assert_one_object_per_line(sent, (logs / "cells.out").read_bytes())


# -- 2. two rotators on one directory ---------------------------------------------------------

def test_a_second_rotator_on_the_same_directory_refuses_without_reading(tmp_path):
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    first = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs))
    wait_for(fifo.exists, 10, "the FIFO", first.stderr)
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "100"), check=True)
    # The second one is given a FIFO with lines waiting in it: they must still be there after.
    fifo2 = tmp_path / "other.fifo"
    os.mkfifo(fifo2, 0o600)
    holder = os.open(fifo2, os.O_RDWR | os.O_NONBLOCK)
    os.write(holder, b"given to the second rotator\n" * 100)
    for args in (["--input", str(fifo2)], []):
        second = subprocess.run(cellsrun_cmd("rotate", "--dir", str(logs), *args),
                                input=b"stdin of the second\n", capture_output=True,
                                env=child_env(), timeout=30)
        err = second.stderr.decode()
        assert second.returncode == 1, err
        assert err == f"Error: {logs} is already written by pid {first.proc.pid} (cellsrun rotate of cells.out)\n"
    assert fifo_queued(holder) == len(b"given to the second rotator\n") * 100  # not a byte read
    os.close(holder)
    # The first one is unharmed: it goes on writing, every line once.
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "100", "--start", "100"), check=True)
    wait_for(lambda: lines_of(logs / "cells.out") == 200, 10, "200 lines", lambda: listing(logs))
    assert rot_stop(first) == 0
    check_sequence(all_output(logs), 200)


def rot_stop(rot: Rotate) -> int:
    rc = rot.stop()
    assert "Traceback" not in rot.stderr(), rot.stderr()
    return rc


def test_lock_of_a_killed_rotator_does_not_block_and_is_never_an_archive(tmp_path):
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    os.mkfifo(fifo, 0o600)
    holder = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    first = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs), "--keep-days", "1",
                   "--max-total", "1")
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "50"), check=True)
    wait_for(lambda: lines_of(logs / "cells.out") == 50, 10, "50 lines", lambda: listing(logs))
    first.proc.kill()
    first.proc.wait(10)
    locks = [p.name for p in logs.iterdir() if p.name != "cells.out"]
    assert len(locks) == 1, listing(logs)  # the lock file the killed one left behind
    from cellsrun.archive import ArchiveNames
    assert ArchiveNames("cells.out").scan(str(logs)) == ([], [])
    second = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs), "--keep-days", "1",
                    "--max-total", "1")
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "50", "--start", "50"), check=True)
    wait_for(lambda: lines_of(logs / "cells.out") == 100, 10, "100 lines",
             lambda: listing(logs) + second.stderr())
    logs_out = run("logs", "--dir", str(logs), "-n", "1000")
    assert logs_out.returncode == 0 and logs_out.stdout.count(b"seq=") == 100, logs_out.stderr
    assert rot_stop(second) == 0
    os.close(holder)
    check_sequence((logs / "cells.out").read_bytes(), 100)


def test_lock_file_removed_while_running_is_taken_again(tmp_path):
    fifo, logs = tmp_path / "cells.fifo", tmp_path / "logs"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs))
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    lock = logs / "cells.out.lock"
    assert lock.read_text() == f"{rot.proc.pid}\n"
    lock.unlink()  # an operator's `rm logs/*`
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "10"), check=True)
    wait_for(lock.exists, 10, "the lock file again", lambda: listing(logs) + rot.stderr())
    second = run("rotate", "--dir", str(logs), input=b"x\n")
    assert second.returncode == 1 and b"already written by pid" in second.stderr, second.stderr
    assert rot_stop(rot) == 0
    assert "lock file" in rot.stderr() and not lock.exists()
    check_sequence((logs / "cells.out").read_bytes(), 10)


def test_lock_file_is_not_left_in_a_directory_the_rotator_did_not_create(tmp_path):
    logs = tmp_path / "var-log"
    logs.mkdir()
    (logs / "syslog").write_bytes(b"not ours\n")
    r = run("rotate", "--dir", str(logs), input=b"one\n")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in logs.iterdir()) == ["cells.out", "syslog"]


def test_lock_path_that_is_a_symlink_is_refused_untouched(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    victim = tmp_path / "precious"
    victim.write_bytes(b"keep\n")
    (logs / "cells.out.lock").symlink_to(victim)
    r = run("rotate", "--dir", str(logs), input=b"one\n")
    assert r.returncode == 1 and r.stderr.decode().startswith("Error: "), r.stderr
    assert "cells.out.lock" in r.stderr.decode() and "Traceback" not in r.stderr.decode()
    assert victim.read_bytes() == b"keep\n"
    assert not (logs / "cells.out").exists()


# -- 3. cells.out deleted or its directory renamed while running ------------------------------

@pytest.mark.parametrize("fmt", ["raw", "json"])
def test_live_file_deleted_then_directory_renamed_while_writing(tmp_path, fmt):
    fifo, logs, moved = tmp_path / "cells.fifo", tmp_path / "logs", tmp_path / "logs-moved"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs), "--format", fmt)
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    writer = subprocess.Popen(writer_cmd("--fifo", str(fifo), "--rate", "3000", "--size", "120",
                                         "--state", str(tmp_path / "next")))
    live = logs / "cells.out"
    try:
        wait_for(lambda: lines_of(live) > 1000, 20, "1000 lines", lambda: listing(logs))
        seen_before_delete = lines_of(live)  # these are the operator's to delete
        live.unlink()
        wait_for(lambda: "reopened" in rot.stderr() and live.exists(), 10, "a new cells.out and a warning",
                 lambda: listing(logs) + rot.stderr())
        wait_for(lambda: lines_of(live) > 1000, 20, "1000 more lines", lambda: listing(logs))
        mode = logs.stat().st_mode & 0o777
        os.rename(logs, moved)
        wait_for(lambda: rot.stderr().count("reopened") == 2 and live.exists(), 10,
                 "cells.out in a new log dir", lambda: listing(tmp_path) + rot.stderr())
        wait_for(lambda: lines_of(live) > 1000, 20, "1000 lines in the new dir", lambda: listing(logs))
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(10)
    sent = int((tmp_path / "next").read_text())
    total = lambda: lines_of(moved / "cells.out") + lines_of(live)  # noqa: E731
    wait_for(lambda: all_lines_from(tmp_path, fmt)[-1:] == [sent - 1], 20, f"line {sent - 1}",
             lambda: f"{total()} lines; {rot.stderr()}")
    assert rot_stop(rot) == 0
    assert logs.stat().st_mode & 0o777 == mode
    seqs = all_lines_from(tmp_path, fmt)
    # Nothing written after the delete is lost: the lines from where the operator last saw
    # the file to the end are all there, each once, in order.
    assert seqs[0] <= seen_before_delete, (seqs[0], seen_before_delete)
    assert seqs == list(range(seqs[0], sent)), "lost or duplicated lines"
    err = rot.stderr()
    assert "Traceback" not in err and err.count("warning:") == 2, err


def all_lines_from(tmp_path: Path, fmt: str) -> list[int]:
    data = b""
    for f in (tmp_path / "logs-moved" / "cells.out", tmp_path / "logs" / "cells.out"):
        if f.exists():
            data += f.read_bytes()
    lines = data.splitlines()
    if fmt == "json":
        lines = [json.loads(l)["msg"].encode() for l in lines]
    out = []
    for line in lines:
        assert line.startswith(b"seq=") and line.endswith(b"END"), line[:80]
        out.append(int(line[4:].split(b" ")[0]))
    return out


# -- 14. future mtimes, 16. hard links --------------------------------------------------------

@pytest.fixture
def tmpfs_dir():
    """A directory on tmpfs (ext4 clamps mtimes to the year 2446; tmpfs keeps 9999)."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    d = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="cellsrun-test-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("year", [2099, 9999])
def test_leftover_with_a_future_mtime_is_treated_as_today(tmpfs_dir, year):
    import datetime as dt
    logs = tmpfs_dir / "logs"
    logs.mkdir()
    live = logs / "cells.out"
    live.write_bytes(b"written with a clock far ahead\n")
    t = dt.datetime(year, 12, 31, 12, tzinfo=dt.timezone.utc).timestamp()
    os.utime(live, (t, t))
    assert live.stat().st_mtime == t
    r = run("rotate", "--dir", str(logs), "--compress", "none", input=b"now\n")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr.decode()
    assert sorted(p.name for p in logs.iterdir()) == ["cells.out"]
    assert live.read_bytes() == b"written with a clock far ahead\nnow\n"


def test_hard_linked_live_file_is_refused_untouched(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    target = tmp_path / "elsewhere"
    target.write_bytes(b"precious\n")
    os.link(target, logs / "cells.out")
    r = run("rotate", "--dir", str(logs), input=b"x\n")
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith("Error: ") and "hard link" in err, err
    assert len(err.strip().splitlines()) == 1
    assert target.read_bytes() == b"precious\n"
    assert sorted(p.name for p in logs.iterdir()) == ["cells.out"]


# -- the json guard itself, in-process: many more cases than a process can take ---------------

def test_json_guard_fuzz_every_line_one_object_whatever_the_block_boundaries():
    from cellsrun.clock import Clock
    from cellsrun.rotate.framing import LineFramer
    from cellsrun.rotate.jsonguard import JsonGuard
    rnd = random.Random(1)
    guard = JsonGuard("cells", Clock.utc(lambda: 1_800_000_000.0))
    for case in range(3000):
        make = balanced_json_lines if case % 2 else hostile_json_lines
        sent = make(rnd, rnd.randrange(1, 12))
        out = bytearray()
        framer = LineFramer(guard, out.extend, lambda: 1_800_000_000.0, max_line=1 << 20,
                            chunk=rnd.choice([64, 1000, 4096, 1 << 20]))
        data = memoryview(b"\n".join(sent) + b"\n")
        while data:  # a whole case at once (one block), or in pieces
            k = len(data) if case % 3 else rnd.randrange(1, 3000)
            framer.feed(data[:k])
            data = data[k:]
        framer.cut()
        assert_one_object_per_line(sent, bytes(out))


def test_json_guard_wraps_what_it_cannot_judge():
    from cellsrun.clock import Clock
    from cellsrun.rotate.jsonguard import JsonGuard
    guard = JsonGuard("cells", Clock.utc(lambda: 0.0))
    deep = b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert guard.is_object(deep) is False
    block = b'{"n":1}\n' + deep + b'\n{"n":2}\n'
    out = bytes(guard.check(block, len(block), 0.0)).splitlines()
    assert out[0] == b'{"n":1}' and out[2] == b'{"n":2}'
    assert json.loads(out[1])["msg"] == deep.decode()


def test_json_guard_block_paths_give_the_bytes_of_judging_each_line_alone():
    """The fast path (blocks, the runs between odd lines, splits at msgspec's error and in
    halves) must print exactly what judging every line on its own prints: strays at every
    density, halves of objects, '{}{}', deep nesting, invalid UTF-8, blank and space-only
    lines, arrays and scalars, an object with spaces around it."""
    from cellsrun.clock import Clock
    from cellsrun.rotate.jsonguard import JsonGuard
    rnd = random.Random(12)
    guard = JsonGuard("cells", Clock.utc(lambda: 1_800_000_000.0))
    real = real_json_lines()
    deep = b'{"a":' + b"[" * 3000 + b"]" * 3000 + b"}"
    odd = [b"panic: runtime error", b"\tmain.go:42 +0x1d", b"", b"  ", b"\r", b"[1]", b"null", b'"s"',
           b"{}{}", b'{"x":', b"}", b'{"a":1}}', deep, b'{"bad":"\xff\xfe"}', b' {"a":1} ',
           b'{"a":1}\r', b'{"a":}', b"{", b"\x1b[31mred\x1b[0m"]
    for case in range(60):
        density = rnd.choice([0.0, 0.0005, 0.02, 0.2, 0.9])
        lines, n = [], rnd.choice([1, 70, 800, 5000])
        while len(lines) < n:
            if rnd.random() < density:
                pick = rnd.randrange(3)
                if pick == 0:
                    lines.extend(split_before_brace(rnd, rnd.choice(real)))  # one object over two lines
                elif pick == 1:
                    lines.append(rnd.choice(real) + rnd.choice(real))
                else:
                    lines.append(rnd.choice(odd))
            else:
                lines.append(rnd.choice(real))
        block = b"\n".join(lines) + b"\n"
        alone = b"".join(line + b"\n" if guard.is_object(line) else guard.wrap(line, 1_800_000_000.0)
                         for line in lines)
        assert bytes(guard.check(bytearray(block), len(block), 1_800_000_000.0)) == alone, case


def test_json_mode_wrapped_lines_stay_within_max_line_and_read_back_whole(tmp_path):
    """A piece of a long line, or a line of control characters (each escaped to six bytes),
    grows when wrapped: it must not come out longer than --max-line, or every reader that
    cuts at that bound (`cellsrun logs`, an rsyslog sized to it) splits a JSON object in two.
    The wrapper splits the text over as many objects as it needs, in order, nothing lost."""
    max_line = 64 * 1024
    long_text = b"Z" * (3 * max_line + 123)
    controls = b"\x01" * (max_line - 10)
    mixed = ("é\x01€" * 9000).encode()  # under the bound, over it once escaped: split between characters
    d = tmp_path / "logs"
    payload = b'{"level":"info","msg":"before"}\n' + long_text + b"\n" + controls + b"\n" + mixed + b"\n"
    r = run("rotate", "--dir", str(d), "--format", "json", "--max-line", "64KiB", input=payload)
    assert r.returncode == 0, r.stderr
    lines = (d / "cells.out").read_bytes().split(b"\n")[:-1]
    assert max(map(len, lines)) <= max_line, sorted(map(len, lines))[-3:]
    objs = [json.loads(line) for line in lines]
    assert objs[0]["msg"] == "before"
    text = "".join(o["msg"] for o in objs[1:])
    assert text == (long_text + controls + mixed).decode(), (len(text), [len(o["msg"]) for o in objs])
    r = run("logs", "--dir", str(d), "--json")
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(got) == len(objs) and all(o.get("level") == "info" for o in got), [o.get("level") for o in got]
