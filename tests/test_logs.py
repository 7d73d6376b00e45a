"""`cellsrun logs` on real files: both formats, mixed days, .gz and .N archives, every filter
checked against a reference computed here from the records the files were made of."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Rotate, cellsrun_cmd, check_sequence, child_env, run, wait_for, writer_cmd

UTC = dt.timezone.utc
ENV = child_env(TZ="UTC")
DAYS = [dt.date(2026, 11, 24), dt.date(2026, 11, 25), dt.date(2026, 11, 26), dt.date(2026, 11, 27)]
IPS = ["10.0.0.7", "10.0.0.70", "::1", "192.168.1.2"]
USERS = ["jenny", "admin", "marc"]
LEVELS = ["info", "info", "debug", "warn", "error"]
LOGGERS = ["pydio.grpc.auth", "pydio.rest.frontend", "pydio.grpc.data.sync"]
WORDS = ["Login", "Listing nodes", "Upload finished", "Cannot reach peer", "Réunion notes"]


def records():
    """(day, record) pairs; a record is a dict, or a str for a line that is not a log entry."""
    out, n = [], 0
    for d in DAYS:
        t = dt.datetime.combine(d, dt.time(0, 3), UTC).timestamp()
        for i in range(120):
            n += 1
            r = {"ts": t + i * 700 + 0.123, "level": LEVELS[n % 5], "logger": LOGGERS[n % 3],
                 "msg": f"{WORDS[n % 5]} #{n}", "RemoteAddress": IPS[n % 4], "UserName": USERS[n % 3],
                 "MsgId": str(n)}
            out.append((d, r))
            if n % 50 == 0:  # a Go panic: lines that are not entries
                out.append((d, f"panic: boom {n}"))
                out.append((d, f"\tgoroutine {n} [running]:"))
    return out


def console(r) -> str:
    ts = dt.datetime.fromtimestamp(r["ts"], UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields = {k: v for k, v in r.items() if k not in ("ts", "level", "logger", "msg")}
    level = r["level"].upper()
    if r["MsgId"].endswith("3"):  # some lines coloured, as on a terminal
        level = f"\x1b[31m{level}\x1b[0m"
    return f"{ts}\t{level}\t{r['logger']}\t{r['msg']}\t{json.dumps(fields, ensure_ascii=False)}"


def as_json(r) -> str:
    ts = dt.datetime.fromtimestamp(r["ts"], dt.timezone(dt.timedelta(hours=1))).isoformat(timespec="seconds")
    # As zap writes it: UTF-8 as is, no \u escapes.
    return json.dumps({"level": r["level"], "ts": ts, **{k: v for k, v in r.items() if k not in ("ts", "level")}},
                      ensure_ascii=False)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """Console archives (.gz, plain, a .1 collision), then JSON after a switch to production:
    a .gz archive and the live file."""
    d = tmp_path_factory.mktemp("logs")
    by_day = {}
    for day, r in records():
        by_day.setdefault(day, []).append(r)

    def text(rs, fmt):
        return "".join((x if isinstance(x, str) else fmt(x)) + "\n" for x in rs).encode()
    d0, d1, d2, d3 = DAYS
    (d / f"cells.out.{d0}.gz").write_bytes(gzip.compress(text(by_day[d0], console)))
    half = len(by_day[d1]) // 2
    (d / f"cells.out.{d1}").write_bytes(text(by_day[d1][:half], console))
    (d / f"cells.out.{d1}.1.gz").write_bytes(gzip.compress(text(by_day[d1][half:], console)))
    (d / f"cells.out.{d2}.gz").write_bytes(gzip.compress(text(by_day[d2], as_json)))
    (d / "cells.out").write_bytes(text(by_day[d3], as_json))
    t = dt.datetime.combine(d3, dt.time(23), UTC).timestamp()
    os.utime(d / "cells.out", (t, t))
    (d / f"cells.out.{d2}.gz.tmp").write_bytes(b"garbage of an unfinished compression")
    (d / "notes.txt").write_text("not a log")
    return d


def logs(d, *args, env=ENV):
    return run("logs", "--dir", str(d), *args, env=env)


def ids(r) -> list[str]:
    """What came out, as MsgIds (entries) or messages (other lines), from --json output; the
    exit code must say whether anything matched, and nothing may go to stderr."""
    assert r.stderr == b"", r.stderr
    assert r.returncode == (0 if r.stdout else 1), r.returncode
    out = []
    for line in r.stdout.decode().splitlines():
        o = json.loads(line)
        out.append(o.get("MsgId") or o["msg"])
    return out


def expect(pred, text_pred=None) -> list[str]:
    """The reference: records matching ``pred`` (dicts) / ``text_pred`` (other lines), in order."""
    out = []
    for _, r in records():
        if isinstance(r, str):
            if text_pred and text_pred(r):
                out.append(r)
        elif pred(r):
            out.append(r["MsgId"])
    return out


def expect_timed(pred_ts) -> list[str]:
    """The reference for time filters: entries and other lines whose time (for other lines:
    that of the entry before them, as the browser shows it) satisfies ``pred_ts``."""
    out, last = [], None
    for _, r in records():
        ts = last if isinstance(r, str) else r["ts"]
        last = ts
        if pred_ts(ts):
            out.append(r if isinstance(r, str) else r["MsgId"])
    return out


def ts_of(text):
    return dt.datetime.fromisoformat(text).timestamp()


def test_everything_in_order_across_formats_and_archives(logdir):
    assert ids(logs(logdir, "--json")) == expect(lambda r: True, lambda s: True)


def test_full_text_is_case_insensitive_and_all_terms_must_match(logdir):
    assert ids(logs(logdir, "-q", "LOGIN", "--json")) == expect(lambda r: "login" in r["msg"].lower())
    got = ids(logs(logdir, "-q", "upload", "-q", "#1", "--json"))
    assert got == expect(lambda r: "upload" in r["msg"].lower() and "#1" in r["msg"]) and got
    assert ids(logs(logdir, "-q", "panic: boom", "--json")) == expect(lambda r: False, lambda s: "panic: boom" in s)
    assert ids(logs(logdir, "-q", "réunion", "--json")) == expect(lambda r: "Réunion" in r["msg"])


def test_one_day(logdir):
    for day in DAYS:
        lo = dt.datetime.combine(day, dt.time(), UTC).timestamp()
        got = ids(logs(logdir, "--day", str(day), "--json"))
        assert got == expect_timed(lambda ts: lo <= ts < lo + 86400) and got


def test_day_opens_only_that_days_files(logdir, tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    for f in logdir.iterdir():
        (d / f.name).write_bytes(f.read_bytes())
    (d / f"cells.out.{DAYS[0]}.gz").write_bytes(b"not gzip at all")  # would fail if opened
    lo = dt.datetime.combine(DAYS[2], dt.time(), UTC).timestamp()
    r = logs(d, "--day", str(DAYS[2]), "--json")
    assert r.returncode == 0 and r.stderr == b"", r.stderr  # the damaged file was not opened
    assert ids(r) == expect_timed(lambda ts: lo <= ts < lo + 86400)


def test_period_boundaries_are_inclusive(logdir):
    recs = [r for _, r in records() if not isinstance(r, str)]
    a, b = recs[100]["ts"], recs[300]["ts"]
    since = dt.datetime.fromtimestamp(a, UTC).isoformat()
    until = dt.datetime.fromtimestamp(b, UTC).isoformat()
    got = ids(logs(logdir, "--since", since, "--until", until, "--json"))
    assert got == expect_timed(lambda ts: a <= ts <= b)
    assert got[0] == recs[100]["MsgId"] and got[-1] == recs[300]["MsgId"]
    # without an offset the time is local (TZ=UTC here); with one it is honoured
    shifted = dt.datetime.fromtimestamp(a, dt.timezone(dt.timedelta(hours=5, minutes=30))).isoformat()
    assert ids(logs(logdir, "--since", shifted, "--until", until, "--json")) == got
    # a date alone: --until takes its whole day
    got = ids(logs(logdir, "--since", str(DAYS[1]), "--until", str(DAYS[2]), "--json"))
    lo = dt.datetime.combine(DAYS[1], dt.time(), UTC).timestamp()
    assert got == expect_timed(lambda ts: lo <= ts < lo + 2 * 86400)


def test_level_exact_and_at_least(logdir):
    assert ids(logs(logdir, "--level", "error", "--json")) == expect(lambda r: r["level"] == "error")
    assert ids(logs(logdir, "--level", ">=warn", "--json")) == expect(lambda r: r["level"] in ("warn", "error"))


def test_service_user_ip(logdir):
    assert ids(logs(logdir, "--service", "data.sync", "--json")) == expect(lambda r: "data.sync" in r["logger"])
    assert ids(logs(logdir, "--user", "jenny", "--json")) == expect(lambda r: r["UserName"] == "jenny")
    got = ids(logs(logdir, "--ip", "10.0.0.7", "--json"))
    assert got == expect(lambda r: r["RemoteAddress"] == "10.0.0.7") and got  # not 10.0.0.70


def test_filters_combine_with_and(logdir):
    lo = dt.datetime.combine(DAYS[1], dt.time(), UTC).timestamp()
    got = ids(logs(logdir, "--day", str(DAYS[1]), "--level", ">=warn", "--user", "marc", "-q", "peer", "--json"))
    assert got == expect(lambda r: lo <= r["ts"] < lo + 86400 and r["level"] in ("warn", "error")
                         and r["UserName"] == "marc" and "peer" in r["msg"].lower()) and got


def test_around_an_entry(logdir):
    recs = [r for _, r in records() if not isinstance(r, str)]
    t = recs[200]["ts"]
    at = dt.datetime.fromtimestamp(t, UTC).isoformat()
    got = ids(logs(logdir, "--around", at, "--minutes", "30", "--json"))
    assert got == expect_timed(lambda ts: abs(ts - t) <= 1800) and len(got) >= 5


def test_not_log_lines_take_the_time_of_the_entry_before(logdir):
    r = logs(logdir, "-q", "goroutine 100 ", "--csv")
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    rows = r.stdout.decode().splitlines()
    assert rows[0] == "Date,Level,IP,User,Service,Message" and len(rows) == 2
    before = [r for _, r in records() if isinstance(r, dict) and r["MsgId"] == "100"][0]
    assert rows[1].startswith(dt.datetime.fromtimestamp(before["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S"))


def ok(r) -> str:
    """The output of a run that must have matched: exit 0, nothing on stderr."""
    assert r.returncode == 0 and r.stderr == b"", (r.returncode, r.stderr)
    return r.stdout.decode()


def test_outputs(logdir):
    lines = ok(logs(logdir, "--user", "jenny", "-n", "3", "--json")).splitlines()
    want = expect(lambda r: r["UserName"] == "jenny")[-3:]
    assert [json.loads(l)["MsgId"] for l in lines] == want
    assert lines[-1] == as_json([r for _, r in records() if isinstance(r, dict) and r["MsgId"] == want[-1]][0])
    rev = ok(logs(logdir, "--user", "jenny", "-n", "3", "--reverse", "--json")).splitlines()
    assert [json.loads(l)["MsgId"] for l in rev] == want[::-1]
    first = ok(logs(logdir, "--day", str(DAYS[0]), "-n", "1", "--json"))
    obj = json.loads(first)  # a console line under Cells' key names
    assert {"ts", "level", "logger", "msg", "MsgId", "RemoteAddress", "UserName"} <= set(obj)
    table = ok(logs(logdir, "--ip", "::1", "-n", "2")).splitlines()
    assert table[0].split() == ["Date", "Level", "IP", "User", "Service", "Message"]
    assert "::1" in table[1] and "\x1b" not in "".join(table)  # no colour when not a terminal
    detail = ok(logs(logdir, "--user", "admin", "-n", "1", "--detail"))
    assert "UserName" in detail and "RemoteAddress" in detail and "Message" in detail


def test_stats_per_hour(logdir):
    rows = json.loads(ok(logs(logdir, "--day", str(DAYS[0]), "--stats", "--json")))
    lo = dt.datetime.combine(DAYS[0], dt.time(), UTC).timestamp()
    want, last = {}, None  # hour -> level -> count; other lines count under "none", at the time before them
    for _, r in records():
        ts, level = (last, "none") if isinstance(r, str) else (r["ts"], r["level"])
        last = ts
        if lo <= ts < lo + 86400:
            levels = want.setdefault(dt.datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:00"), {})
            levels[level] = levels.get(level, 0) + 1
    assert rows == [{"hour": h, "total": sum(c.values()), "levels": c} for h, c in sorted(want.items())]
    bars = ok(logs(logdir, "--day", str(DAYS[0]), "--stats")).splitlines()
    assert [b.split()[:2] for b in bars] == [h.split() for h in sorted(want)]
    assert all("█" in b and f"█ {sum(want[h].values())}  (" in b for b, h in zip(bars, sorted(want)))


@pytest.mark.parametrize("args,needle", [(["--day", "2026-13-01"], "'2026-13-01'"),
                                         (["--since", "last tuesday"], "'last tuesday'"),
                                         (["--level", "loud"], "'loud'"),
                                         (["-f", "--reverse"], "--follow")])
def test_bad_input_is_a_usage_error(logdir, args, needle):
    r = logs(logdir, *args)
    err = r.stderr.decode()
    assert r.returncode == 2 and err.startswith("Error: ") and needle in err and "Traceback" not in err


def test_nothing_matched_exits_1(logdir):
    r = logs(logdir, "-q", "no such words anywhere")
    assert r.returncode == 1 and r.stdout == b""


def test_piped_into_head_ends_quietly(logdir):
    """`cellsrun logs | head -2`: two lines, no message, and cellsrun itself ends at once with
    exit 1 (its output was not all shown) rather than dying of SIGPIPE or printing a traceback."""
    p = subprocess.Popen(cellsrun_cmd("logs", "--dir", str(logdir)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    head = subprocess.run(["head", "-2"], stdin=p.stdout, capture_output=True, timeout=30)
    p.stdout.close()
    assert p.wait(30) == 1 and p.stderr.read() == b""
    assert head.returncode == 0 and len(head.stdout.splitlines()) == 2


@pytest.mark.slow
def test_follow_across_a_real_rotation(tmp_path):
    """`cellsrun logs -f` without a filter, across a real midnight: the output is the header,
    then one row per line of the files (the 20 before it started, then every line written
    while it ran), in order, each once, nothing else."""
    from test_midnight import tz_with_midnight_in
    from conftest import all_output
    tz, midnight = tz_with_midnight_in(4)
    env = child_env(TZ=tz)
    fifo, logs_dir = tmp_path / "cells.fifo", tmp_path / "logs"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs_dir), "--compress", "none", env=env)
    wait_for(lambda: (logs_dir / "cells.out").exists(), 10, "the live file", rot.stderr)
    subprocess.run(writer_cmd("--fifo", str(fifo), "--count", "20"), check=True)
    wait_for(lambda: (logs_dir / "cells.out").read_bytes().count(b"\n") == 20, 10, "20 lines")
    out = open(tmp_path / "follow.out", "wb")
    follower = subprocess.Popen(cellsrun_cmd("logs", "--dir", str(logs_dir), "-f"),
                                stdout=out, stderr=subprocess.PIPE, env=env)
    writer = subprocess.Popen(writer_cmd("--fifo", str(fifo), "--rate", "200", "--start", "20",
                                         "--state", str(tmp_path / "next")))
    wait_for(lambda: time.time() > midnight + 1.5, 15, "midnight to pass")
    writer.send_signal(signal.SIGTERM)
    writer.wait(10)
    sent = int((tmp_path / "next").read_text())
    rows = lambda: (tmp_path / "follow.out").read_bytes().count(b"\n")  # noqa: E731
    wait_for(lambda: rows() >= 1 + sent, 15, f"the follower to show {sent} rows", rows)
    follower.send_signal(signal.SIGINT)
    assert follower.wait(10) == 0 and follower.stderr.read() == b""
    rot.stop()
    assert any(p.name.startswith("cells.out.") for p in logs_dir.iterdir()), "no rotation happened"
    check_sequence(all_output(logs_dir), sent)
    # The writer's lines are no log entries and carry no time: a row is the day of the file the
    # line is in (the archive's from its name, the live file's from its last write), empty
    # columns, and the line.
    from conftest import log_files, read_file
    written = []
    for path in log_files(logs_dir):
        day = path.name[len("cells.out."):len("cells.out.") + 10] if path.name != "cells.out" else \
            subprocess.run(["date", "-d", f"@{path.stat().st_mtime}", "+%F"], env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
        written += [day.ljust(79) + l for l in read_file(path).decode().splitlines()]
    header = "Date                 Level  IP               User        Service               Message"
    assert (tmp_path / "follow.out").read_text().splitlines() == [header] + written


@pytest.mark.parametrize("args", [["-q", "login"], ["-q", "10.0.0.7"], ["--user", "marc"], ["--ip", "::1"],
                                  ["-q", "goroutine"], ["-q", "peer", "--level", ">=warn", "--day", str(DAYS[1])],
                                  ["-q", "upload", "--since", f"{DAYS[1]}T12:00", "--until", f"{DAYS[2]}T06:00"]])
def test_grep_and_pure_python_paths_agree(logdir, args):
    with_grep = logs(logdir, *args, "--json")
    without = logs(logdir, *args, "--json", env=child_env(TZ="UTC", CELLSRUN_GREP="0"))
    assert with_grep.returncode == without.returncode == 0, with_grep.stderr + without.stderr
    assert with_grep.stdout == without.stdout


def test_on_a_terminal_rows_fit_the_width_and_levels_are_coloured(logdir):
    import pty
    import struct
    import fcntl
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 130, 0, 0))  # the wide layout (narrower: test_logs_table.py)
    p = subprocess.Popen(cellsrun_cmd("logs", "--dir", str(logdir), "--day", str(DAYS[0])),
                         stdin=slave, stdout=slave, stderr=slave, env=ENV)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        data += chunk
    assert p.wait(30) == 0
    os.close(master)
    rows = data.decode().replace("\r", "").splitlines()
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", r) for r in rows]
    assert plain[0].split() == ["Date", "Level", "IP", "User", "Service", "Message"]
    assert max(len(r) for r in plain) <= 130
    assert any(r.startswith("\x1b[31m") and "ERROR" in r for r in rows)  # errors in red
    assert not any("\x1b" in r for r in rows if " INFO " in r)


import re  # noqa: E402  (used by the terminal test above)
