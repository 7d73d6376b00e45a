"""The printers' fast path (``QuickConsole``, ``TableWriter.quick``, ``JsonWriter.quick``) prints
exactly what the entry path prints: the same bytes from ``cellsrun logs -q`` with and without
it (``CELLSRUN_QUICK=0``), on a corpus of ordinary and odd lines, in time zones whose offset
changes (a DST switch inside the corpus) or has seconds, through grep and without it."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import os
import time

import pytest

from conftest import child_env, run

from cellsrun.browse import output
from cellsrun.browse.entries import MAX_DEPTH, QuickConsole, parse_line

# Central European time with its DST rule: 2026-03-29 01:00 UTC jumps from +01:00 to +02:00.
ZONES = ["UTC", "CET-1CEST,M3.5.0,M10.5.0/3", "XYZ-05:23:17"]

TIMES = ["2026-03-29T00:59:58.123Z", "2026-03-29T00:59:59.999Z", "2026-03-29T01:00:00.000Z",
         "2026-03-29T01:00:01.5Z", "2026-03-29T01:00:02.123456Z", "2026-03-29T01:00:03Z",
         "2026-03-29T03:00:04.123+02:00", "2026-03-29T06:23:21.123+05:23:17", "2026-03-29T01:00:05.123",
         "2026-03-29T01:00:60.123Z", "2026-03-29T01:00:99.123Z", "2026-03-29T01:60:00.123Z",
         "2026-03-29 01:00:06.123Z", "2026-03-29t01:00:07.123Z", "٢٠٢٦-03-29T01:00:08.123Z",
         "2026-03-29T01:00:09.1٢3Z", "2026-03-29T01:00:10.123+0200", "2026-03-29T01:00:11.123z",
         "2026-03-29T01:00:12.1234Z", "2026-03-29T01:00:13.123+02:00:00"]
LEVELS = ["INFO", "WARN", "ERROR", "DEBUG", "DPANIC", "FATAL", "info", "Info", "WARNING", " INFO",
          "\x1b[31mERROR\x1b[0m", "TRACE", ""]
LOGGERS = ["pydio.grpc.auth", "pydio.rest.frontend", "pydio.x/y:z-1", "gateway", "", "bad logger", "é.log",
           "pydio."]
MESSAGES = ["Upload finished", "upload\twith a tab", "\t\tupload after tabs", "Upload, trailing  ",
            "upload \x07 bell", "upload \x9b csi", "Réunion upload", "<b>upload</b>", "upload ‮ rtl", "UPLOAD"]
FIELDS = ['{"RemoteAddress": "10.0.0.7", "UserName": "jenny", "MsgId": "1"}', "",
          '{"RemoteAddress":"10.0.0.7","UserName":"jenny"}', '{"MsgId": 12, "n": -0, "ok": true, "x": null}',
          '{"f": 1.5, "e": 1e5}', '{"a": {"b": 1}}', '{"UserName": "r\\u00e9my", "q": "a\\"b"}',
          '{"UserName": "a", "UserName": "b"}', '{"msg": "inner", "RemoteAddress": "::1"}', '{"ts": "x"}',
          '{"level": "error"}', '{"logger": "other"}', "{oops}", '{"a": 1} trailing', "{}",
          '{"RemoteAddress": 12, "UserName": null}', '{"UserName": "\\u001b[2J"}', '{"big": 123456789012345678901}',
          '{"s": "tab\\there"}', "{" * (MAX_DEPTH + 5) + "}" * (MAX_DEPTH + 5), '{"a": [1, 2]}', '{"a": NaN}',
          '{"UserName": "\\ud800"}']
ODD = ["panic: upload failed", "\tgoroutine 7 upload [running]:", "upload",
       '{"level":"info","ts":"2026-03-29T01:00:20.000Z","logger":"pydio.grpc.auth","msg":"upload","UserName":"j"}',
       '{"msg": "upload"', '{"upload": 1} trailing', '{"msg": "upload"}  ',
       "2026-03-29T01:00:21.123456Z 2026-03-29T01:00:21.100Z\tINFO\tpydio.x\tupload stamped\t{\"a\": \"b\"}",
       "2026-03-29T01:00:22.123456Z panic: upload stamped text"]


def corpus() -> list[str]:
    """Every time with a common rest, every odd piece cycled against the others (coprime
    periods: most combinations occur), and lines that are not console lines between them."""
    lines = [f"{t}\tINFO\tpydio.grpc.auth\tUpload finished\t{FIELDS[0]}" for t in TIMES]
    parts = zip(itertools.cycle(TIMES[:9]), itertools.cycle(LEVELS), itertools.cycle(LOGGERS),
                itertools.cycle(MESSAGES), itertools.cycle(FIELDS))
    for i, (t, level, logger, msg, fields) in enumerate(itertools.islice(parts, 900)):
        line = f"{t}\t{level}\t{logger}\t{msg}" if logger or i % 2 else f"{t}\t{level}\t{msg}"
        lines.append(f"{line}\t{fields}" if fields else line)
        if i % 37 == 0:
            lines.append(ODD[i // 37 % len(ODD)])
    return lines + ODD


@pytest.fixture
def zone(request, monkeypatch):
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("zone", ZONES, indirect=True)
def test_the_parts_of_an_accepted_line_are_the_entry_s(zone):
    quick = QuickConsole(output.local_time)
    accepted = 0
    for line in corpus():
        parts = quick.parts(line)
        if parts is None:
            continue
        accepted += 1
        e = parse_line(line)
        date, ts_text, level, logger, msg, fields, text = parts
        assert e.kind == "console", line
        assert (date, ts_text, level, logger, msg, fields) == (
            output.when(e), e.ts_text, e.level, e.logger, e.msg, e.fields), line
        assert text == (line[line.rfind("\t{") + 1:] if fields or text else ""), line
    # The fast path is taken for the usual lines, and only for lines it can be sure of.
    assert 150 < accepted < len(corpus()) * 0.5, accepted


def test_odd_lines_are_left_to_the_entry_path():
    quick = QuickConsole(output.local_time)
    base = "2026-03-29T01:00:00.000Z\tINFO\tpydio.grpc.auth\tUpload\t"
    assert quick.parts(base + FIELDS[0]) is not None
    for odd in [base + "{oops}", base + '{"a": 1}}', "2026-03-29T01:00:00.000Z\tInfo\tpydio.x\tUpload",
                "2026-03-29T01:00:00.000Z\t\x1b[31mERROR\x1b[0m\tpydio.x\tUpload",
                "2026-03-29T01:00:60.000Z\tINFO\tpydio.x\tUpload", "2026-03-29T01:00:00.000Z\tINFO\tUpload",
                base + "{" * (MAX_DEPTH + 5) + "}" * (MAX_DEPTH + 5), "panic: upload", '{"msg": "upload"}']:
        assert quick.parts(odd) is None, odd


def _logs(directory, *args, quick: bool, zone: str, grep: bool = True):
    env = child_env(TZ=zone, CELLSRUN_QUICK="1" if quick else "0", CELLSRUN_GREP="1" if grep else "0")
    return run("logs", "--dir", str(directory), *args, env=env)


@pytest.mark.parametrize("zone", ZONES)
def test_logs_prints_the_same_bytes_with_and_without_the_fast_path(tmp_path, zone):
    lines = corpus()
    data = ("\n".join(lines) + "\n").encode()
    (tmp_path / "cells.out.2026-03-29").write_bytes(data)  # a plain archive: read through grep
    (tmp_path / "cells.out.2026-03-30.gz").write_bytes(gzip.compress(data))  # through the feeder
    (tmp_path / "cells.out").write_bytes(data)  # the live file: read here, not by grep
    os.utime(tmp_path / "cells.out", (time.time(), time.time()))
    expected_rows = sum("upload" in line.lower() for line in lines) * 3
    for args in (["-q", "upload"], ["-q", "upload", "--json"], ["-q", "upload", "-q", "finished"],
                 ["-q", "UPLOAD", "--json", "-q", "réunion"]):
        for grep in (True, False):
            fast = _logs(tmp_path, *args, quick=True, zone=zone, grep=grep)
            slow = _logs(tmp_path, *args, quick=False, zone=zone, grep=grep)
            assert fast.returncode == slow.returncode == 0, (args, fast.stderr, slow.stderr)
            assert fast.stderr == slow.stderr, args
            if fast.stdout != slow.stdout:
                diff = next(f"{a!r}\n != \n{b!r}" for a, b in itertools.zip_longest(
                    fast.stdout.decode().splitlines(), slow.stdout.decode().splitlines()) if a != b)
                pytest.fail(f"{args} grep={grep}: first different row (fast, then entries):\n{diff}")
        if args == ["-q", "upload"]:
            assert len(fast.stdout.splitlines()) == expected_rows + 1  # and the header


def test_json_of_a_console_line_keeps_cells_keys_and_the_fields_order(tmp_path):
    (tmp_path / "cells.out.2026-03-29").write_text(
        '2026-03-29T01:00:00.123Z\tINFO\tpydio.grpc.auth\tUpload "x"\t{"UserName": "jenny", "MsgId": 3}\n'
        '2026-03-29T01:00:01.123Z\tINFO\tpydio.grpc.auth\tUpload\t{"b": 1.50, "a": "r\\u00e9my"}\n')
    r = _logs(tmp_path, "-q", "upload", "--json", quick=True, zone="UTC")
    assert r.returncode == 0, r.stderr
    first, second = (json.loads(line) for line in r.stdout.decode().splitlines())
    assert list(first) == ["ts", "level", "logger", "msg", "UserName", "MsgId"]
    assert first["msg"] == 'Upload "x"' and first["MsgId"] == 3
    assert second == {"ts": "2026-03-29T01:00:01.123Z", "level": "info", "logger": "pydio.grpc.auth",
                      "msg": "Upload", "b": 1.5, "a": "rémy"}
    assert '"b": 1.5, "a": "rémy"}' in r.stdout.decode()  # encoded again, as the entry path does


def _print(directory, *terms, fmt="table", workers=True, kill_worker=False, ready=None, monkeypatch=None):
    """What run_logs prints for ``-q TERMS`` on ``directory`` (through grep), in this process;
    ``workers``: whether a RowWorker may start (after 500 rows here, not 20,000); with
    ``kill_worker``, it is killed before its first answer is read. Returns (text, blocks sent)."""
    import io
    import signal as _signal
    from cellsrun.browse import rowpool
    from cellsrun.browse.main import run_logs
    from cellsrun.browse.query import Query
    sent = []
    real_send, real_take = rowpool.RowWorker.send, rowpool.RowWorker.take

    def send(self, data):
        sent.append(len(data))
        return real_send(self, data)

    def take(self):
        if kill_worker:
            os.kill(self.pid, _signal.SIGKILL)
            os.waitpid(self.pid, 0)
        return real_take(self)
    monkeypatch.setattr(rowpool, "ROWS_BEFORE", 500)
    monkeypatch.setattr(rowpool.RowWorker, "send", send)
    monkeypatch.setattr(rowpool.RowWorker, "take", take)
    if ready is not None:  # the worker seen always done (taken at once) or always busy
        monkeypatch.setattr(rowpool.RowWorker, "ready", lambda self: ready)
    monkeypatch.setenv("CELLSRUN_WORKERS", "1" if workers else "0")
    out = io.StringIO()
    run_logs(str(directory), Query(terms), fmt=fmt, out=out)
    return out.getvalue(), len(sent)


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_row_worker_prints_the_same_rows_in_the_same_order(tmp_path, monkeypatch, fmt):
    """A broad query's blocks of grep's output shared with a forked worker (blocks made here
    while it is busy kept until its own is out): the same text as one process makes, odd lines
    (read here, with their context) in their places; and when the worker dies, the rows it owed
    are made here: nothing lost, nothing twice."""
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")
    time.tzset()
    try:
        lines = corpus() * 40  # ~40,000 lines, ~4 MB: grep's output comes in many blocks
        data = ("\n".join(lines) + "\n").encode()
        (tmp_path / "cells.out.2026-03-28").write_bytes(data)
        (tmp_path / "cells.out.2026-03-29.gz").write_bytes(gzip.compress(data))
        alone, sent = _print(tmp_path, "upload", fmt=fmt, workers=False, monkeypatch=monkeypatch)
        assert sent == 0 and alone.count("\n") > 2 * 30_000
        for ready in (None, True, False):  # as it comes; the worker always done; always busy
            both, sent = _print(tmp_path, "upload", fmt=fmt, ready=ready, monkeypatch=monkeypatch)
            assert sent > 4, "the worker was given no blocks"
            assert both == alone, ready
        rescued, sent = _print(tmp_path, "upload", fmt=fmt, kill_worker=True, monkeypatch=monkeypatch)
        # Killed at its first answer (which may already be in the pipe): found gone by that
        # answer or by the next block sent, and never given another.
        assert sent in (1, 2) and rescued == alone
    finally:
        monkeypatch.undo()
        time.tzset()


def test_last_n_reverse_and_a_term_with_a_newline_are_the_entry_path_s(tmp_path):
    """-n and --reverse pick and turn rows, never runs of rows; a term holding a newline (two
    patterns to grep -F) still has to be in the line."""
    lines = [f"2026-03-28T{h:02d}:{m:02d}:{s:02d}.{i % 1000:03d}Z\tINFO\tpydio.x\tupload number {i}\t"
             f'{{"UserName": "u{i % 7}"}}' for i, (h, m, s) in enumerate(
                 (h, m, s) for h in range(24) for m in range(60) for s in range(0, 60, 2))][:30_000]
    data = ("\n".join(lines) + "\n").encode()
    (tmp_path / "cells.out.2026-03-28").write_bytes(data)
    (tmp_path / "cells.out.2026-03-29.gz").write_bytes(gzip.compress(data))
    for args in (["-q", "upload", "-n", "3"], ["-q", "upload", "--reverse"], ["-q", "upload", "-n", "5", "--json"],
                 ["-q", "nomatch\nupload"], ["-q", "nomatch\nupload", "--json"]):
        slow = _logs(tmp_path, *args, quick=False, zone="UTC")
        for workers in ("1", "0"):
            env = child_env(TZ="UTC", CELLSRUN_WORKERS=workers)
            fast = run("logs", "--dir", str(tmp_path), *args, env=env)
            assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout), (args, workers)
    assert _logs(tmp_path, "-q", "upload", "-n", "3", quick=False, zone="UTC").stdout.count(b"\n") == 4
