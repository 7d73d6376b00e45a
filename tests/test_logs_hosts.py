"""`cellsrun logs` over several directories (a collector's one per host): entries of all hosts
merged in time order, a Host column, --host; each host's entries exactly those of its own
`cellsrun logs`, whatever the filter and whichever path (grep or pure Python) reads them."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import cellsrun_cmd, child_env, run, wait_for
from test_logs import DAYS, ENV, UTC, as_json, console, records

HOSTS = ["node-a", "node-b", "node-c"]


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """The records of test_logs spread over three hosts (a record and the lines that follow it
    go to host n % 3): node-a as a rotator leaves its directory (.gz archives, a live
    cells.out), node-b and node-c as a collector does (a file per day; node-b's old days
    compressed). A foreign file and a symlinked directory lie beside them."""
    root = tmp_path_factory.mktemp("collected")
    per = {h: {} for h in HOSTS}
    host = HOSTS[0]
    for n, (day, r) in enumerate(records()):
        if not isinstance(r, str):
            host = HOSTS[int(r["MsgId"]) % 3]
        per[host].setdefault(day, []).append(r)

    def text(rs, fmt):
        return "".join((x if isinstance(x, str) else fmt(x)) + "\n" for x in rs).encode()
    for h in HOSTS:
        d = root / h
        d.mkdir()
        for i, day in enumerate(DAYS):
            fmt = console if i < 2 else as_json
            data = text(per[h].get(day, []), fmt)
            if h == "node-a" and day == DAYS[-1]:
                (d / "cells.out").write_bytes(data)
                t = dt.datetime.combine(day, dt.time(23), UTC).timestamp()
                os.utime(d / "cells.out", (t, t))
            elif h != "node-c" and i < 2:
                (d / f"cells.out.{day}.gz").write_bytes(gzip.compress(data))
            else:
                (d / f"cells.out.{day}").write_bytes(data)
    (root / "notes.txt").write_text("not a directory of logs")
    (root / "alias").symlink_to(root / "node-a")
    return root


def logs(*args, env=ENV):
    return run("logs", *args, env=env)


def pairs(r) -> list[tuple[str, dict]]:
    """(host, object) for each line of --json output over several hosts."""
    assert r.stderr == b"", r.stderr
    assert r.returncode == (0 if r.stdout else 1)
    out = []
    for line in r.stdout.decode().splitlines():
        assert line.startswith('{"host":'), line[:60]
        o = json.loads(line)
        out.append((o.pop("host"), o))
    return out


def own(root, host, *args, env=ENV) -> list[dict]:
    r = logs("--dir", str(root / host), *args, "--json", env=env)
    assert r.stderr == b""
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


def when(o) -> float:
    return dt.datetime.fromisoformat(o["ts"].replace("Z", "+00:00")).timestamp() if "ts" in o else float("-inf")


@pytest.mark.parametrize("args", [[], ["-q", "login"], ["-q", "10.0.0.7"], ["--user", "marc"],
                                  ["--level", ">=warn"], ["--day", str(DAYS[1])], ["-q", "goroutine"],
                                  ["--since", f"{DAYS[1]}T12:00", "--until", f"{DAYS[2]}T06:00"],
                                  ["-q", "upload", "--service", "rest"]])
def test_each_hosts_entries_are_its_own_merged_by_time(collected, args):
    for env in (ENV, child_env(TZ="UTC", CELLSRUN_GREP="0")):
        got = pairs(logs("--dir", str(collected / "*"), *args, "--json", env=env))
        assert {h for h, _ in got} <= set(HOSTS)  # not "alias" (a symlink), not notes.txt
        for h in HOSTS:
            assert [o for host, o in got if host == h] == own(collected, h, *args, env=env), (h, args)
        # Time order across hosts (lines without a time of their own take their host's last one).
        last, times = {}, []
        for h, o in got:
            last[h] = when(o) if "ts" in o else last.get(h, float("-inf"))
            times.append(last[h])
        assert times == sorted(times), args


def test_several_dirs_and_host_filter_and_the_host_column(collected):
    a, b = str(collected / "node-a"), str(collected / "node-b")
    both = pairs(logs("--dir", a, "--dir", b, "--json"))
    assert {h for h, _ in both} == {"node-a", "node-b"}
    only = pairs(logs("--dir", str(collected / "*"), "--host", "node-b", "--json"))
    assert only and only == [(h, o) for h, o in both if h == "node-b"]
    assert pairs(logs("--dir", str(collected / "*"), "--host", "nobody", "--json")) == []
    # The table and CSV carry a Host column after the date; -n and --reverse act on the merge.
    table = logs("--dir", str(collected / "*"), "-n", "5", "--reverse").stdout.decode().splitlines()
    assert table[0].split() == ["Date", "Host", "Level", "IP", "User", "Service", "Message"]
    assert [row.split()[2] for row in table[1:]] == [h for h, _ in pairs(logs(
        "--dir", str(collected / "*"), "-n", "5", "--json"))][::-1]
    csv = logs("--dir", str(collected / "*"), "--csv", "--user", "jenny").stdout.decode().splitlines()
    assert csv[0] == "Date,Host,Level,IP,User,Service,Message" and len(csv) > 1
    assert all(row.split(",")[1] in HOSTS for row in csv[1:])


def test_a_json_line_keeps_its_bytes_behind_the_host(tmp_path):
    d = tmp_path / "h1"
    d.mkdir()
    lines = ['{"level":"info","ts":"2026-11-27T10:00:00Z","msg":"a","n":  1.50}',
             '{"level":"info","ts":"2026-11-27T10:00:01Z","host":"own","msg":"b"}',
             '{}']
    (d / "cells.out.2026-11-27").write_text("\n".join(lines) + "\n")
    out = logs("--dir", str(tmp_path / "*"), "--json").stdout.decode().splitlines()
    assert out[0] == '{"host":"h1","level":"info","ts":"2026-11-27T10:00:00Z","msg":"a","n":  1.50}'
    assert json.loads(out[1])["host"] == "h1"  # its own "host" key is not repeated
    assert json.loads(out[2]) == {"host": "h1"}


def test_same_named_directories_go_by_their_paths(tmp_path):
    for parent in ("x", "y"):
        d = tmp_path / parent / "logs"
        d.mkdir(parents=True)
        (d / "cells.out").write_text(f'{{"level":"info","ts":"2026-11-27T10:00:00Z","msg":"{parent}"}}\n')
    got = pairs(logs("--dir", str(tmp_path / "x" / "logs"), "--dir", str(tmp_path / "y" / "logs"), "--json"))
    assert [h for h, _ in got] == [str(tmp_path / "x" / "logs"), str(tmp_path / "y" / "logs")]


def test_a_glob_that_matches_nothing_is_an_error(tmp_path):
    r = logs("--dir", str(tmp_path / "none-*"))
    assert r.returncode == 1 and r.stderr.decode().startswith("Error: ") and len(r.stderr.splitlines()) == 1


def test_follow_several_hosts_across_a_new_days_file(tmp_path):
    """-f over a rotator's directory (live cells.out) and a collector's (today's day file, then
    the next day's once it appears): every new entry, once, with its host."""
    today = dt.date.today()
    rot, col = tmp_path / "rot", tmp_path / "col"
    rot.mkdir()
    col.mkdir()
    line = lambda n: f'{{"level":"info","ts":"2026-11-27T10:00:{n % 60:02d}Z","msg":"m{n}"}}\n'  # noqa: E731
    (rot / "cells.out").write_text(line(0))
    (col / f"cells.out.{today}").write_text(line(1) + line(2)[:-12])  # a line under way
    out = tmp_path / "follow.out"
    follower = subprocess.Popen(cellsrun_cmd("logs", "--dir", str(tmp_path / "*"), "-f", "--json"),
                                stdout=open(out, "wb"), stderr=subprocess.PIPE, env=ENV)
    seen = lambda: [json.loads(x) for x in out.read_text().splitlines()]  # noqa: E731
    try:
        wait_for(lambda: len(seen()) == 2, 10, "the two complete lines", out.read_text)
        with open(col / f"cells.out.{today}", "a") as f:
            f.write(line(2)[-12:])  # the rest of the line under way
        with open(rot / "cells.out", "a") as f:
            f.write(line(3))
        wait_for(lambda: len(seen()) == 4, 10, "two more", out.read_text)
        (col / f"cells.out.{today + dt.timedelta(days=1)}").write_text(line(5))
        time.sleep(0.5)  # rsyslog may still add to the old day's file just after midnight
        with open(col / f"cells.out.{today}", "a") as f:
            f.write(line(4))
        wait_for(lambda: len(seen()) == 6, 10, "the old day's last line and the new day's", out.read_text)
    finally:
        follower.send_signal(signal.SIGINT)
        code = follower.wait(10)
    assert code == 0 and follower.stderr.read() == b""
    got = [(o["host"], o["msg"]) for o in seen()]
    assert sorted(got[:2]) == [("col", "m1"), ("rot", "m0")]
    assert sorted(got[2:4]) == [("col", "m2"), ("rot", "m3")]
    assert sorted(got[4:]) == [("col", "m4"), ("col", "m5")]
