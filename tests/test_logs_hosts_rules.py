"""`cellsrun logs` over several directories keeps, in each directory, the rules of one: speed
(only the files whose day can match are opened, plain files are binary-searched for --since,
grep finds the candidate lines of archives) and hardening (only regular files are read, lines
are cut at 1 MiB, a file that cannot be read is skipped with a warning and the rest shown).
Each case is checked against what a user sees: the entries, the warnings, and for the speed
rules the bytes the process read and the files grep was run on."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cellsrun.defaults import MAX_LINE_BYTES as M
from conftest import child_env
from test_logs_hostile import GREP, PATHS, PYTHON, _as_unprivileged, entry, long_line, write

UTC = dt.timezone.utc
HOSTS = ["node-a", "node-b", "node-c"]
D0, D1 = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
PER_HOST = 60_000  # lines of a host's plain day file (~8.5 MB)
NEEDLE_EVERY = 5_000

# Runs cellsrun and, at its exit, prints the bytes it read (/proc/self/io rchar) on stderr.
READ_BYTES = ("import atexit, runpy, sys\n"
              "atexit.register(lambda: sys.stderr.write('rchar ' + open('/proc/self/io').read().split()[1] + '\\n'))\n"
              "sys.argv = ['cellsrun'] + sys.argv[1:]\n"
              "runpy.run_module('cellsrun', run_name='__main__')\n")


def logs(*args, env=GREP, prefix=(), timeout=120):
    return subprocess.run([*prefix, sys.executable, "-m", "cellsrun", "logs", *args], capture_output=True,
                          env=env, timeout=timeout)


def line_at(host: str, day: dt.date, i: int) -> str:
    t = dt.datetime.combine(day, dt.time(), UTC) + dt.timedelta(seconds=i * 86400 / PER_HOST)
    word = "NeedleWord" if i % NEEDLE_EVERY == 7 else "served"
    return (f"{t.isoformat(timespec='milliseconds').replace('+00:00', 'Z')}\tINFO\tpydio.rest.frontend\t"
            f"Request {word} {host} #{i}\t{{\"RemoteAddress\":\"10.0.{HOSTS.index(host)}.{i % 250}\","
            f"\"UserName\":\"jenny\"}}")


@pytest.fixture(scope="module")
def big_hosts(tmp_path_factory):
    """A collector's three host directories: D0 as a .gz archive (node-b's is damaged: not gzip
    at all, so opening it is seen), D1 as a plain day file of PER_HOST lines."""
    root = tmp_path_factory.mktemp("big-hosts")
    for h in HOSTS:
        d = root / h
        d.mkdir()
        (d / f"cells.out.{D0}.gz").write_bytes(
            b"not gzip at all" if h == "node-b" else
            gzip.compress("".join(line_at(h, D0, i) + "\n" for i in range(0, PER_HOST, 100)).encode()))
        (d / f"cells.out.{D1}").write_text("".join(line_at(h, D1, i) + "\n" for i in range(PER_HOST)))
    return root


def host_pairs(r) -> list[tuple[str, dict]]:
    out = []
    for line in r.stdout.decode().splitlines():
        o = json.loads(line)
        out.append((o.pop("host"), o))
    return out


def msgs(r) -> list[str]:
    return [o["msg"] for _, o in host_pairs(r)]


@PATHS
def test_only_the_files_of_the_days_asked_are_opened_in_each_directory(big_hosts, env):
    damaged = big_hosts / "node-b" / f"cells.out.{D0}.gz"
    r = logs("--dir", str(big_hosts / "*"), "--day", str(D1), "-q", "needleword", "--json", env=env)
    assert r.returncode == 0 and r.stderr == b"", r.stderr  # node-b's damaged D0 was not opened
    want = sorted(f"Request NeedleWord {h} #{i}" for h in HOSTS for i in range(7, PER_HOST, NEEDLE_EVERY))
    assert sorted(msgs(r)) == want
    # Without --day it is opened, skipped with a warning, and every other file is still shown.
    r = logs("--dir", str(big_hosts / "*"), "-q", "needleword", "--json", env=env)
    assert r.stderr.decode().startswith(f"warning: skipped {damaged}: "), r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.returncode == 0
    assert sorted(msgs(r)) == want  # (D0's archives hold no needle)


def test_since_binary_searches_each_hosts_plain_file(big_hosts):
    """--since an hour before D1's end over three 8.5 MB plain files: the entries of that hour,
    merged by time, for a few reads of each file (a scan would read the 25 MB)."""
    since = dt.datetime.combine(D1, dt.time(23), UTC)
    r = subprocess.run([sys.executable, "-c", READ_BYTES, "logs", "--dir", str(big_hosts / "*"),
                        "--since", since.isoformat(), "--json"], capture_output=True, env=PYTHON, timeout=120)
    err = r.stderr.decode().splitlines()
    assert r.returncode == 0 and len(err) == 1 and err[0].startswith("rchar "), r.stderr
    first = -(-23 * 3600 * PER_HOST // 86400)  # the first line at or after 23:00 (1.44 s apart)
    got = host_pairs(r)
    assert sorted(o["msg"] for _, o in got) == sorted(
        f"Request served {h} #{i}" if i % NEEDLE_EVERY != 7 else f"Request NeedleWord {h} #{i}"
        for h in HOSTS for i in range(first, PER_HOST))
    times = [o["ts"] for _, o in got]
    assert times == sorted(times), "not merged by time"
    total = sum(p.stat().st_size for p in big_hosts.rglob(f"cells.out.{D1}"))
    read = int(err[0].split()[1])
    assert read < total / 4, f"read {read} bytes for {total} bytes of plain files"


def test_grep_finds_the_candidate_lines_of_each_hosts_archives(big_hosts, tmp_path):
    """A grep on PATH that notes the file it was given: it is run on every host's plain day
    file (the .gz ones come through a pipe), and prints what the pure-Python path prints."""
    shim, seen = tmp_path / "bin", tmp_path / "grep-runs"
    shim.mkdir()
    real = subprocess.run(["sh", "-c", "command -v grep"], capture_output=True, text=True).stdout.strip()
    (shim / "grep").write_text(f'#!/bin/sh\nreadlink /proc/self/fd/0 >> "{seen}"\nexec {real} "$@"\n')
    (shim / "grep").chmod(0o755)
    env = child_env(TZ="UTC", PATH=f"{shim}{os.pathsep}{os.environ['PATH']}")
    args = ["--dir", str(big_hosts / "*"), "-q", "needleword", "--json"]
    r = logs(*args, env=env)
    ran = seen.read_text().splitlines()
    assert sorted(p for p in ran if not p.startswith("pipe:")) == [
        str(big_hosts / h / f"cells.out.{D1}") for h in HOSTS], ran
    assert len(ran) == 6, ran  # and once on each .gz archive, node-b's damaged one included
    python = logs(*args, env=PYTHON)
    assert r.stdout == python.stdout and len(host_pairs(r)) > 30
    assert r.stderr == python.stderr and r.stderr.decode().startswith("warning: skipped ")


@pytest.fixture
def hostile_hosts(tmp_path):
    """node-a: 3.5 MiB lines in a plain and a .gz archive; node-b: an unreadable (mode 0) .gz
    archive beside a readable day; node-c: a day file that is a symlink to a log elsewhere and a
    live cells.out that is a FIFO."""
    root = tmp_path / "collector"
    for h in HOSTS:
        (root / h).mkdir(parents=True)
    a, b, c = (root / h for h in HOSTS)
    write(a / f"cells.out.{D0}", [entry(D0, 1, "info", "a before needle"), long_line(),
                                  entry(D0, 5, "error", "a after")])
    write(a / f"cells.out.{D1}.gz", [entry(D1, 1, "info", "a gz needle"), long_line()], gz=True)
    write(b / f"cells.out.{D0}.gz", [entry(D0, 2, "info", "b hidden needle")], gz=True)
    os.chmod(b / f"cells.out.{D0}.gz", 0)
    write(b / f"cells.out.{D1}", [entry(D1, 2, "info", "b shown needle")])
    elsewhere = tmp_path / "elsewhere.log"
    write(elsewhere, [entry(D0, 3, "info", "linked needle")])
    (c / f"cells.out.{D0}").symlink_to(elsewhere)
    write(c / f"cells.out.{D1}", [entry(D1, 3, "info", "c shown needle")])
    os.mkfifo(c / "cells.out")
    return root


@PATHS
@pytest.mark.parametrize("args", [[], ["-q", "needle"], ["--level", "info"]], ids=["all", "q", "level"])
def test_hostile_files_in_one_host_are_handled_as_in_its_own_directory(hostile_hosts, env, args):
    prefix = _as_unprivileged()
    merged = logs("--dir", str(hostile_hosts / "*"), *args, "--json", env=env, prefix=prefix)
    got = host_pairs(merged)
    warnings = []
    for h in HOSTS:
        own = logs("--dir", str(hostile_hosts / h), *args, "--json", env=env, prefix=prefix)
        assert [o for host, o in got if host == h] == [json.loads(x) for x in own.stdout.decode().splitlines()], h
        warnings += own.stderr.decode().splitlines()
    assert sorted(merged.stderr.decode().splitlines()) == sorted(warnings)
    # What each host's own run says, the merged one says: the FIFO, the symlinked day file and
    # the mode-0 archive are skipped with a warning (none is read), long lines are cut.
    assert sorted(warnings) == sorted([
        f"warning: skipped {hostile_hosts / 'node-b' / f'cells.out.{D0}.gz'}: Permission denied",
        f"warning: skipped {hostile_hosts / 'node-c' / 'cells.out'}: not a regular file (a FIFO)",
        f"warning: skipped {hostile_hosts / 'node-c' / f'cells.out.{D0}'}: not a regular file (a symbolic link)"])
    texts = [o["msg"] for _, o in got]
    assert not any("linked" in t or "hidden" in t for t in texts)
    assert "b shown needle" in texts and "c shown needle" in texts
    pieces = [t for h, o in got for t in [o["msg"]] if h == "node-a" and t.startswith(("long:", "abcdefghij"))]
    if not args or args[0] == "-q":
        assert pieces and all(len(t.encode()) <= M for t in pieces)
        assert max(len(t.encode()) for t in pieces) == M
