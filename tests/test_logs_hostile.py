"""`cellsrun logs` on hostile files (issue 7, items 6-10; issue 8's grep-without-gzip): lines
nested 1,000 deep, lines without end, a live file that is a symlink or a FIFO, an unreadable
archive, a last line without newline. The expected output is computed here from the lines the
files were made of; every case runs both reading paths (GNU grep for archives, and
CELLSRUN_GREP=0: pure Python), which must print the same bytes."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import zlib
from pathlib import Path

import pytest

from cellsrun.defaults import MAX_LINE_BYTES as M
from conftest import cellsrun_cmd, child_env, run

UTC = dt.timezone.utc
GREP = child_env(TZ="UTC")
PYTHON = child_env(TZ="UTC", CELLSRUN_GREP="0")
PATHS = pytest.mark.parametrize("env", [GREP, PYTHON], ids=["grep", "python"])
DAYS = [dt.date(2026, 11, 24) + dt.timedelta(days=i) for i in range(4)]
LOGGER = "pydio.grpc.test"


class Line:
    """A line of a test file: ``text`` as written, and ``shown``: the (raw, object) pairs that
    `logs --json` prints for it (several when it is longer than the 1 MiB cut)."""

    def __init__(self, text: str, shown: list[tuple[str, dict]]):
        self.text, self.shown = text, shown


def stamp(day: dt.date, sec: int) -> str:
    return dt.datetime.combine(day, dt.time(8), UTC).replace(second=sec).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def entry(day, sec, level, msg, fields_text=None) -> Line:
    """A console line; ``fields_text`` a trailing field object the reader cannot use (it then
    stays part of the message)."""
    text = f"{stamp(day, sec)}\t{level.upper()}\t{LOGGER}\t{msg}"
    if fields_text is not None:
        text += "\t" + fields_text
        msg = f"{msg}\t{fields_text}"
    return Line(text, [(text, {"ts": stamp(day, sec), "level": level, "logger": LOGGER, "msg": msg})])


def text(line: str) -> Line:
    """A line that is no entry (or cannot be one): shown as its text, cut into 1 MiB pieces."""
    pieces = [line[i:i + M] for i in range(0, len(line), M)] or [""]
    return Line(line, [(p, {"msg": p}) for p in pieces])


def deep_json(day) -> Line:
    return text(f'{{"level":"error","ts":"{stamp(day, 2)}","logger":"{LOGGER}","msg":"deep json",'
                f'"a":{"[" * 1000}{"]" * 1000}}}')


def deeper_json() -> Line:
    return text('{"msg":"deeper json","a":' + '{"a":' * 100_000 + "1" + "}" * 100_001)


def deep_console(day) -> Line:
    return entry(day, 3, "warn", "deep fields", '{"a":' + "[" * 1000 + "]" * 1000 + "}")


def long_line() -> Line:
    """3.5 MiB without newline: "needle" in pieces 0, 1 and 3; piece 2 only holds the end of a
    needle cut in two at 2 MiB (so no piece shows it); "splitmark" only across the cut at 1 MiB."""
    chars = bytearray(b"abcdefghij" * (7 * M // 20))
    for at, word in ((100, b"needle"), (M - 4, b"splitmark"), (M + 500, b"needle"), (2 * M - 3, b"needle"),
                     (3 * M + 10, b"needle")):
        chars[at:at + len(word)] = word
    return text("long:" + chars.decode()[5:])


def write(path: Path, lines: list[Line], *, newline_at_end=True, gz=False) -> None:
    data = "\n".join(l.text for l in lines) + ("\n" if newline_at_end else "")
    path.write_bytes(gzip.compress(data.encode()) if gz else data.encode())


def logs(d, *args, env=GREP, timeout=60):
    return run("logs", "--dir", str(d), *args, env=env, timeout=timeout)


def expected(lines: list[Line], pick=lambda raw, obj: True) -> bytes:
    return "".join(json.dumps(obj, ensure_ascii=False) + "\n"
                   for l in lines for raw, obj in l.shown if pick(raw, obj)).encode()


def check(r, want: bytes):
    """What a user sees: exactly ``want``, nothing on stderr, exit 0 when something matched."""
    assert r.stderr == b"", r.stderr.decode()[-2000:]
    assert r.stdout == want, f"got {len(r.stdout)} bytes, expected {len(want)}"
    assert r.returncode == (0 if want else 1)


# --- item 6: nesting 1,000 deep ------------------------------------------------------------

@pytest.fixture(scope="module")
def deep_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("deep")
    days = {}
    for day in DAYS[:2]:
        days[day] = [entry(day, 1, "info", "before"), deep_json(day), deep_console(day), deeper_json(),
                     entry(day, 5, "error", "after")]
    write(d / f"cells.out.{DAYS[0]}.gz", days[DAYS[0]], gz=True)
    write(d / "cells.out", days[DAYS[1]])
    return d, days[DAYS[0]] + days[DAYS[1]]


@PATHS
@pytest.mark.parametrize("args,pick", [
    ([], lambda raw, obj: True),
    (["-q", "deep"], lambda raw, obj: "deep" in raw),
    (["--level", "warn"], lambda raw, obj: obj.get("level") == "warn"),
], ids=["all", "q", "level"])
def test_deeply_nested_lines_are_entries_with_their_text_as_message(deep_dir, env, args, pick):
    d, lines = deep_dir
    check(logs(d, "--json", *args, env=env), expected(lines, pick))


@PATHS
@pytest.mark.parametrize("fmt", [[], ["--detail"], ["--csv"], ["--stats"]], ids=["table", "detail", "csv", "stats"])
def test_deeply_nested_lines_print_in_every_format(deep_dir, env, fmt):
    d, _ = deep_dir
    r = logs(d, "-q", "deep", *fmt, env=env)
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()[-2000:]
    if fmt != ["--stats"]:
        assert r.stdout.count(b"deep fields") == 2 and r.stdout.count(b"deeper json") == 2


# --- item 7: lines without end, cut at 1 MiB while reading ---------------------------------

@pytest.fixture(scope="module")
def long_dir(tmp_path_factory):
    """The long line in a .gz archive, in a plain archive (which also ends without newline),
    and in the live file."""
    d = tmp_path_factory.mktemp("long")
    days = [[entry(day, 1, "info", "before needle"), long_line(), entry(day, 5, "error", "after needle")]
            for day in DAYS[:3]]
    write(d / f"cells.out.{DAYS[0]}.gz", days[0], gz=True)
    write(d / f"cells.out.{DAYS[1]}", days[1], newline_at_end=False)
    write(d / "cells.out", days[2])
    return d, days[0] + days[1] + days[2]


@PATHS
@pytest.mark.parametrize("args,pick", [
    ([], lambda raw, obj: True),
    (["-q", "NEEDLE"], lambda raw, obj: "needle" in raw),
    (["-q", "splitmark"], lambda raw, obj: "splitmark" in raw),
], ids=["all", "q", "q-across-a-cut"])
def test_long_lines_are_cut_into_1_MiB_pieces(long_dir, env, args, pick):
    d, lines = long_dir
    check(logs(d, "--json", *args, env=env), expected(lines, pick))


def _measure(d: Path, args: list[str], env) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of `cellsrun logs` with its output going to /dev/null.
    The peak comes from wait4: the largest of the process and the children it waited for
    (grep), so a grep child that swells is counted too."""
    with open(os.devnull, "wb") as null:
        t0 = time.perf_counter()
        p = subprocess.Popen(cellsrun_cmd("logs", "--dir", str(d), *args), stdout=null,
                             stderr=subprocess.PIPE, env=env)
        watchdog = threading.Timer(120, p.kill)
        watchdog.start()
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        watchdog.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        secs = time.perf_counter() - t0
    assert p.returncode in (0, 1) and err == b"", f"exit {p.returncode}: {err.decode()[-2000:]}"
    return secs, usage.ru_maxrss * 1024


def _no_newline(path: Path, size: int, gz: bool) -> None:
    """``size`` bytes without a newline; "needle" once, near the end."""
    unit = b"abcdefghijklmnopqrstuvwxyz0123456789 " * (M // 37)
    z = zlib.compressobj(1, zlib.DEFLATED, 31) if gz else None
    with open(path, "wb") as f:
        left = size
        while left > 0:
            chunk = unit[:left]
            left -= len(chunk)
            if left <= 0:
                chunk = chunk[:-10] + b"needle" + chunk[-4:]
            f.write(z.compress(chunk) if z else chunk)
        if z:
            f.write(z.flush())


@pytest.fixture(scope="module")
def endless(tmp_path_factory):
    """For each size, three dirs holding one file without a newline: a plain archive, the live
    file, a .gz archive (a small bomb: 256 MiB from ~1 MB)."""
    root = tmp_path_factory.mktemp("endless")
    out = {}
    for size in (64 << 20, 256 << 20):
        for kind, name, gz in (("archive", f"cells.out.{DAYS[0]}", False), ("live", "cells.out", False),
                               ("gz", f"cells.out.{DAYS[0]}.gz", True)):
            d = root / f"{kind}-{size >> 20}"
            d.mkdir()
            _no_newline(d / name, size, gz)
            out[kind, size] = d
    (root / "empty").mkdir()
    (root / "empty" / "cells.out").touch()  # an empty log: no log at all is an error (no logs in DIR)
    out["empty"] = root / "empty"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind,args,env", [
    ("archive", [], PYTHON), ("archive", ["-q", "needle"], GREP), ("archive", ["-q", "needle"], PYTHON),
    ("live", [], PYTHON), ("gz", ["-q", "needle"], GREP), ("gz", [], PYTHON),
], ids=["archive", "archive-q-grep", "archive-q-python", "live", "gz-bomb-q-grep", "gz-bomb"])
def test_input_without_newlines_takes_linear_time_and_bounded_memory(endless, kind, args, env):
    """64 MiB and 256 MiB without a newline: 4x the size may take at most ~6x the time (the
    quadratic reading took 10-20x), and the peak RSS (grep's included) stays within 64 MiB
    of a run on an empty log."""
    bare = _measure(endless["empty"], [], env)[1]
    small = min(_measure(endless[kind, 64 << 20], args, env)[0] for _ in range(2))
    big, rss = _measure(endless[kind, 256 << 20], args, env)
    assert rss - bare < 64 << 20, f"peak RSS {rss >> 20} MiB, bare process {bare >> 20} MiB"
    assert big < 6 * small, f"64 MiB: {small:.2f} s, 256 MiB: {big:.2f} s"


# --- item 8: only regular files are read ---------------------------------------------------

@pytest.fixture
def with_archive(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    lines = [entry(DAYS[0], 1, "info", "archived needle"), entry(DAYS[0], 2, "error", "archived error")]
    write(d / f"cells.out.{DAYS[0]}", lines)
    return d, lines


def _make_live(d: Path, how: str, tmp_path: Path) -> str:
    live = d / "cells.out"
    if how == "symlink-to-dev-zero":
        live.symlink_to("/dev/zero")
        return "a symbolic link"
    if how == "fifo":
        os.mkfifo(live)
        return "a FIFO"
    elsewhere = tmp_path / "elsewhere.log"  # a log-like file outside: not ours to read through a link
    write(elsewhere, [entry(DAYS[1], 1, "info", "linked needle")])
    live.symlink_to(elsewhere)
    return "a symbolic link"


@PATHS
@pytest.mark.parametrize("how", ["symlink-to-dev-zero", "fifo", "symlink-to-a-log"])
def test_live_file_that_is_not_regular_is_skipped_with_a_warning(with_archive, tmp_path, env, how):
    d, lines = with_archive
    why = _make_live(d, how, tmp_path)
    r = logs(d, "--json", "-q", "needle", env=env, timeout=20)
    assert r.stdout == expected(lines, lambda raw, obj: "needle" in raw) and r.returncode == 0
    assert r.stderr.decode() == f"warning: skipped {d / 'cells.out'}: not a regular file ({why})\n"


@pytest.mark.parametrize("how", ["symlink-to-dev-zero", "fifo"])
def test_following_a_live_file_that_is_not_regular_is_an_error(with_archive, tmp_path, how):
    d, lines = with_archive
    why = _make_live(d, how, tmp_path)
    r = logs(d, "-f", "--json", timeout=20)
    assert r.stdout == expected(lines) and r.returncode == 1
    live = d / "cells.out"
    assert r.stderr.decode() == (f"warning: skipped {live}: not a regular file ({why})\n"
                                 f"Error: cannot follow {live}: not a regular file ({why})\n")


# --- item 9: an unreadable archive is skipped, the rest shown ------------------------------

def _as_unprivileged() -> list[str]:
    """A prefix that makes mode 000 stop the reader. Root reads anything, so as root the
    reader runs in a new user namespace (`unshare --user`): it keeps uid 0 on the files but
    loses CAP_DAC_OVERRIDE over them, so the permission bits apply to it like to anyone."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run(["unshare", "--user", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop root's file access: unshare --user: {probe.stderr.decode()}")
    return ["unshare", "--user"]


@pytest.fixture
def one_unreadable(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    days = [[entry(day, 1, "info", f"login {day}"), entry(day, 2, "error", f"failed {day}")] for day in DAYS]
    write(d / f"cells.out.{DAYS[0]}.gz", days[0], gz=True)
    write(d / f"cells.out.{DAYS[1]}.gz", days[1], gz=True)
    write(d / f"cells.out.{DAYS[2]}", days[2])
    write(d / "cells.out", days[3])
    os.chmod(d / f"cells.out.{DAYS[1]}.gz", 0)
    return d, days[0] + days[2] + days[3]


@PATHS
@pytest.mark.parametrize("args,pick", [
    ([], lambda raw, obj: True),
    (["-q", "LOGIN"], lambda raw, obj: "login" in raw),
    (["--level", "error"], lambda raw, obj: obj["level"] == "error"),
    (["-q", "nowhere"], lambda raw, obj: False),
], ids=["all", "q", "level", "nothing"])
def test_unreadable_archive_is_skipped_with_a_warning_and_the_rest_shown(one_unreadable, env, args, pick):
    d, readable = one_unreadable
    r = subprocess.run(_as_unprivileged() + cellsrun_cmd("logs", "--dir", str(d), "--json", *args),
                       capture_output=True, env=env, timeout=60)
    want = expected(readable, pick)
    assert r.stdout == want and r.returncode == (0 if want else 1), r.stderr.decode()
    assert r.stderr.decode() == f"warning: skipped {d / f'cells.out.{DAYS[1]}.gz'}: Permission denied\n"


@PATHS
def test_damaged_gz_archive_is_skipped_with_a_warning(tmp_path, env):
    d = tmp_path / "logs"
    d.mkdir()
    a, b = [entry(day, 1, "info", f"login {day}") for day in DAYS[:2]]
    (d / f"cells.out.{DAYS[0]}.gz").write_bytes(b"not gzip at all\n")
    write(d / f"cells.out.{DAYS[1]}.gz", [a, b], gz=True)
    r = logs(d, "--json", "-q", "login", env=env)
    assert r.stdout == expected([a, b]) and r.returncode == 0
    assert r.stderr.decode() == (f"warning: skipped {d / f'cells.out.{DAYS[0]}.gz'}: "
                                 "not a gzip file (incorrect header check)\n")


def test_gz_archive_cut_short_shows_what_comes_before_the_cut(tmp_path):
    """A .gz cut in the middle (a disk that filled, a copy that stopped): the lines before the
    cut are shown, the line the cut falls in as far as it goes (by both paths alike), then a
    warning; the next file is read as usual."""
    d = tmp_path / "logs"
    d.mkdir()
    lines = [entry(DAYS[0], i % 60, "info", f"login {i} " + "x" * (i % 300)) for i in range(3000)]
    whole = gzip.compress(("\n".join(l.text for l in lines) + "\n").encode())
    (d / f"cells.out.{DAYS[0]}.gz").write_bytes(whole[:len(whole) * 3 // 5])
    last = entry(DAYS[1], 1, "info", "login next day")
    write(d / f"cells.out.{DAYS[1]}.gz", [last], gz=True)
    runs = [logs(d, "--json", "-q", "login", env=env) for env in (GREP, PYTHON)]
    assert runs[0].stdout == runs[1].stdout and runs[0].returncode == runs[1].returncode == 0
    assert runs[0].stderr == runs[1].stderr
    shown = runs[0].stdout.decode().splitlines()
    assert 0 < len(shown) < len(lines) and shown[-1] == json.dumps(last.shown[0][1])
    assert runs[0].stdout.startswith(expected(lines[:len(shown) - 2]))  # all but the cut one
    assert re.fullmatch(rf"warning: skipped {re.escape(str(d))}/cells\.out\.{DAYS[0]}\.gz: "
                        r"gzip data cut short after \d+ bytes\n", runs[0].stderr.decode())


# --- item 10: a plain archive's last line without newline ----------------------------------

@PATHS
@pytest.mark.parametrize("args,pick", [
    (["--level", "error"], lambda raw, obj: obj.get("level") == "error"),
    (["-q", "unterminated"], lambda raw, obj: "unterminated" in raw),
    ([], lambda raw, obj: True),
], ids=["level", "q", "all"])
def test_last_line_of_a_plain_archive_without_newline_is_shown(tmp_path, env, args, pick):
    d = tmp_path / "logs"
    d.mkdir()
    first = [entry(DAYS[0], 1, "info", "first"), entry(DAYS[0], 2, "error", "unterminated stop")]
    second = [entry(DAYS[1], 1, "error", "next day")]
    write(d / f"cells.out.{DAYS[0]}", first, newline_at_end=False)
    write(d / f"cells.out.{DAYS[1]}", second)
    check(logs(d, "--json", *args, env=env), expected(first + second, pick))


# --- issue 8: grep without gzip ------------------------------------------------------------

def test_grep_without_gzip_still_reads_gz_archives(deep_dir, tmp_path):
    """A PATH that holds grep but no gzip (a minimal image): `.gz` archives are read all the
    same, and the output is the pure-Python path's."""
    d, lines = deep_dir
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "grep").symlink_to(shutil.which("grep"))
    r = logs(d, "--json", "-q", "before", env=dict(GREP, PATH=str(bin_dir)))
    check(r, expected(lines, lambda raw, obj: "before" in raw))
    assert r.stdout == logs(d, "--json", "-q", "before", env=PYTHON).stdout


# --- both paths, every format, one byte for byte -------------------------------------------

@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory):
    """All of the above in one directory: deep lines and a long line in a .gz archive, in a
    plain archive with long lines that ends without newline, in a clean plain archive that ends
    without newline, and in the live file."""
    d = tmp_path_factory.mktemp("hostile")
    per_day = [[entry(day, 1, "info", "before needle"), deep_json(day), deep_console(day), long_line(),
                text("\tgoroutine 7 [running]: needle"), entry(day, 9, "error", "unterminated needle")]
               for day in DAYS]
    write(d / f"cells.out.{DAYS[0]}.gz", per_day[0], gz=True)
    write(d / f"cells.out.{DAYS[1]}", per_day[1], newline_at_end=False)
    write(d / f"cells.out.{DAYS[2]}", [per_day[2][0], per_day[2][4], per_day[2][5]], newline_at_end=False)
    write(d / "cells.out", per_day[3])
    return d


@pytest.mark.parametrize("args", [["-q", "needle"], ["-q", "needle", "--json"], ["-q", "deep", "--detail"],
                                  ["-q", "needle", "--csv"], ["-q", "[[[", "--json"], ["-q", "goroutine"],
                                  ["-q", "unterminated", "--level", "error"], ["--user", "nobody"],
                                  ["-q", "needle", "--stats", "--json"]])
def test_grep_and_pure_python_paths_agree_on_hostile_files(hostile_dir, args):
    with_grep = logs(hostile_dir, *args, env=GREP)
    without = logs(hostile_dir, *args, env=PYTHON)
    assert with_grep.stderr == without.stderr == b"", with_grep.stderr + without.stderr
    assert with_grep.returncode == without.returncode == (0 if without.stdout else 1)
    assert with_grep.stdout == without.stdout


def test_logs_imports_no_supervisor_psutil_msgspec_or_web_stack(tmp_path):
    """Both paths (grep with its feeder for a .gz archive, and plain reading) import nothing
    heavy: `cellsrun logs` starts often and must start fast."""
    lines = [entry(DAYS[0], 1, "error", "needle")]
    write(tmp_path / f"cells.out.{DAYS[0]}.gz", lines, gz=True)
    write(tmp_path / f"cells.out.{DAYS[1]}", lines)
    write(tmp_path / "cells.out", lines)
    code = ("import sys; from cellsrun.cli import main; rc = main(sys.argv[1:]); "
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)")
    for args in (["-q", "needle"], ["--level", "error", "--json"]):
        r = subprocess.run([cellsrun_cmd()[0], "-c", code, "logs", "--dir", str(tmp_path), *args],
                           capture_output=True, env=GREP, timeout=60)
        loaded = {m.split(".")[0] for m in r.stderr.decode().split()}
        assert r.returncode == 0 and loaded, r.stderr.decode()[-2000:]
        heavy = {"supervisor", "psutil", "msgspec", "starlette", "uvicorn", "fastapi", "aiohttp",
                 "jinja2", "asyncio", "http"} & loaded
        assert not heavy, f"cellsrun logs imported {heavy}"


def test_follow_skips_a_new_live_file_that_is_not_regular_until_a_regular_one_comes(tmp_path):
    """A rotation leaves a FIFO where cells.out was: `logs -f` says so once, reads nothing from
    it, and goes on with the regular file that replaces it."""
    from conftest import wait_for
    d = tmp_path / "logs"
    d.mkdir()
    write(d / "cells.out", [entry(DAYS[0], 1, "info", "first")])
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as o, open(err, "wb") as e:
        p = subprocess.Popen(cellsrun_cmd("logs", "--dir", str(d), "-f", "--json"), stdout=o, stderr=e, env=GREP)
    try:
        wait_for(lambda: b"first" in out.read_bytes(), 10, "the first entry", out.read_bytes)
        os.rename(d / "cells.out", d / f"cells.out.{DAYS[0]}")
        os.mkfifo(d / "cells.out")
        warning = f"warning: not following {d / 'cells.out'}: not a regular file (a FIFO)\n".encode()
        wait_for(lambda: err.read_bytes() == warning, 10, "the warning", err.read_bytes)
        os.unlink(d / "cells.out")
        write(d / "cells.out", [entry(DAYS[1], 1, "info", "second")])
        wait_for(lambda: b"second" in out.read_bytes(), 10, "the entry of the new file", out.read_bytes)
    finally:
        p.send_signal(signal.SIGINT)
        rc = p.wait(10)
    assert rc == 0 and err.read_bytes() == warning
    assert out.read_bytes() == expected([entry(DAYS[0], 1, "info", "first"), entry(DAYS[1], 1, "info", "second")])


@PATHS
def test_isal_and_zlib_show_the_same_bytes_and_warnings(tmp_path, env):
    """.gz archives are inflated by ISA-L when the isal package is installed, else by zlib:
    the same entries and the same warnings either way, damaged files included (ISA-L's
    errors are worded differently: zlib reads a damaged file again, for its reason)."""
    pytest.importorskip("isal")
    d = tmp_path / "logs"
    d.mkdir()
    lines = [entry(DAYS[0], i % 60, "info", f"login {i} " + "x" * (i % 500)) for i in range(20000)]
    data = ("\n".join(l.text for l in lines) + "\n").encode()
    half = len(data) // 2
    (d / f"cells.out.{DAYS[0]}.gz").write_bytes(gzip.compress(data[:half]) + gzip.compress(data[half:]))
    whole = bytearray(gzip.compress(data))
    (d / f"cells.out.{DAYS[1]}.gz").write_bytes(bytes(whole[:len(whole) * 2 // 3]))  # cut short
    whole[len(whole) // 2:len(whole) // 2 + 40] = b"\x00" * 40                  # damaged inside
    (d / f"cells.out.{DAYS[2]}.gz").write_bytes(bytes(whole))
    crc = bytearray(gzip.compress(b"\n".join(l.text.encode() for l in lines[:50]) + b"\n"))
    crc[-8] ^= 0xFF                                                             # a wrong checksum
    (d / f"cells.out.{DAYS[3]}.gz").write_bytes(bytes(crc))
    for args in (["--json", "-q", "login"], ["--json"]):
        fast = logs(d, *args, env=env)
        slow = logs(d, *args, env=dict(env, CELLSRUN_ISAL="0"))
        assert fast.stdout == slow.stdout and fast.returncode == slow.returncode
        assert fast.stderr == slow.stderr and fast.stderr.count(b"warning: skipped") == 3, fast.stderr
        assert fast.stdout.startswith(expected(lines[:1000]))


def test_csv_export_never_hands_a_spreadsheet_a_formula(tmp_path):
    """Log text is written by whoever reaches the server: a cell starting with = + - @ (or a
    tab or CR) is opened by spreadsheets as a formula. `logs --csv` quotes it with a leading
    ', as the page's export does."""
    import csv
    import io
    d = tmp_path / "logs"
    d.mkdir()
    line = {"level": "info", "ts": "2026-11-28T10:00:00Z", "logger": "pydio.rest.x",
            "msg": '=HYPERLINK("http://evil","x")', "UserName": "+cmd|calc", "RemoteAddress": "@SUM(1)"}
    (d / "cells.out").write_text(json.dumps(line) + "\n")
    r = run("logs", "--dir", str(d), "--csv")
    assert r.returncode == 0, r.stderr
    header, row = list(csv.reader(io.StringIO(r.stdout.decode())))
    cells = dict(zip(header, row))
    assert cells["Message"] == "'" + line["msg"] and cells["User"] == "'+cmd|calc", cells
    assert cells["IP"] == "'@SUM(1)", cells
