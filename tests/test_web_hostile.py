"""`cellsrun web`'s API on hostile log dirs, over a real uvicorn: a symlinked cells.out, a FIFO
named like an archive, a damaged .gz, a 50 MB line without newline, a line nested 1,000 deep.
Each answer is a 200 within a deadline (no 500, no hang), shows what `cellsrun logs` shows for
the same files (its output is the reference), carries the reader's warning for a file skipped,
and the server's peak RSS stays within the page's 80 MiB budget."""

from __future__ import annotations

import gzip
import json
import os
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import child_env, run, wait_for
from helpers.webserver import WebServer
from test_logs_hostile import DAYS, LOGGER, Line, deep_console, deep_json, deeper_json, entry, stamp, write
from test_web_api import EventReader

ENV = child_env(TZ="UTC")
M = 1 << 20
BUDGET_MIB = 80          # the page's RSS budget (issue 9)
DEADLINE = 30            # seconds for any one answer: past it, the server hangs
LEVELS = ("debug", "info", "warn", "error")


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def get(server, path, params=()):
    """(status, JSON body) of a GET that must answer within DEADLINE."""
    t0 = time.monotonic()
    status, headers, body = server.get(f"{path}?{urllib.parse.urlencode(list(params))}", timeout=DEADLINE)
    assert time.monotonic() - t0 < DEADLINE
    ctype = headers.get("content-type", "")
    return status, (json.loads(body) if ctype.startswith("application/json") else body)


def pages(server, params=(), limit=100):
    """Every row, newest first, and every warning, paging by cursor (each page a 200)."""
    rows, warnings, cursor = [], [], None
    while True:
        status, page = get(server, "/api/entries", list(params) + [("limit", str(limit))]
                           + ([("cursor", cursor)] if cursor else []))
        assert status == 200, page
        rows += page["entries"]
        warnings += [w for w in page["warnings"] if w not in warnings]
        cursor = page["next"]
        if cursor is None:
            return rows, warnings


def logs_view(d, *args):
    """What `cellsrun logs --json` shows for the same files: (objects in file order, warnings)."""
    r = run("logs", "--dir", str(d), "--json", *args, env=ENV, timeout=120)
    assert r.returncode in (0, 1), r.stderr.decode()[-2000:]
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    warnings = [line[len("warning: "):] for line in r.stderr.decode().splitlines() if line.startswith("warning: ")]
    return objs, warnings


def counted(objs) -> int:
    """What the volume picture counts: entries with a level and a time."""
    return sum(1 for o in objs if o.get("level") in LEVELS and o.get("ts"))


def check_like_logs(server, d, params=(), args=()):
    """The page's rows and warnings, the volume total and its warnings, and an NDJSON export:
    the same entries as `cellsrun logs`, the same warnings. Returns (rows, warnings)."""
    objs, warned = logs_view(d, *args)
    rows, warnings = pages(server, params)
    assert [r["msg"] for r in rows] == [o["msg"][:500] for o in reversed(objs)]
    assert [r["level"] for r in rows] == [o.get("level", "") for o in reversed(objs)]
    assert sorted(warnings) == sorted(set(warned)) and warnings
    status, stats = get(server, "/api/stats", params)
    assert status == 200, stats
    assert stats["total"] == counted(objs) and sorted(stats["warnings"]) == sorted(warnings)
    status, body = get(server, "/api/export.ndjson", params)
    assert status == 200
    assert [json.loads(line)["msg"] for line in body.splitlines()] == [o["msg"] for o in objs]
    return rows, warnings


@pytest.fixture
def logs_dir(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    return d


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start():
        s = WebServer(tmp_path, env=ENV)
        servers.append(s)
        return s
    yield start
    for s in servers:
        assert s.proc.poll() is None, "the server died"
        s.stop()


@pytest.mark.parametrize("target", ["a-log-elsewhere", "/dev/zero"])
def test_a_symlinked_cells_out_is_not_read_and_the_page_says_so(logs_dir, tmp_path, serve, target):
    write(logs_dir / f"cells.out.{DAYS[0]}", [entry(DAYS[0], 1, "info", "archived"), entry(DAYS[0], 2, "error", "archived too")])
    if target == "/dev/zero":
        (logs_dir / "cells.out").symlink_to("/dev/zero")
    else:
        write(tmp_path / "secret.log", [entry(DAYS[1], 1, "error", "secret line of another log")])
        (logs_dir / "cells.out").symlink_to(tmp_path / "secret.log")
    s = serve()
    rows, warnings = check_like_logs(s, logs_dir)
    assert [r["msg"] for r in rows] == ["archived too", "archived"]
    assert warnings == [f"skipped {logs_dir / 'cells.out'}: not a regular file (a symbolic link)"]
    events = EventReader(s, [])
    try:
        wait_for(lambda: events.problems, 10, "the live view to say why it stopped")
        assert "not a regular file (a symbolic link)" in events.problems[0]["error"] and not events.entries
    finally:
        events.close()
    assert peak_mib(s.pid) < BUDGET_MIB


@pytest.mark.parametrize("name", ["cells.out.{}.gz", "cells.out.{}"])
def test_a_fifo_named_like_an_archive_is_skipped_with_a_warning(logs_dir, serve, name):
    fifo = logs_dir / name.format(DAYS[0])
    os.mkfifo(fifo)  # opening it to read would block until a writer comes
    write(logs_dir / f"cells.out.{DAYS[1]}.gz", [entry(DAYS[1], 1, "warn", "in a gz")], gz=True)
    write(logs_dir / "cells.out", [entry(DAYS[2], 1, "info", "live")])
    s = serve()
    rows, warnings = check_like_logs(s, logs_dir)
    assert [r["msg"] for r in rows] == ["live", "in a gz"]
    assert warnings == [f"skipped {fifo}: not a regular file (a FIFO)"]
    # a day filter that needs only the FIFO's day: nothing to show, and why
    rows, warnings = check_like_logs(s, logs_dir, [("day", str(DAYS[0]))], ["--day", str(DAYS[0])])
    assert rows == [] and warnings == [f"skipped {fifo}: not a regular file (a FIFO)"]
    assert peak_mib(s.pid) < BUDGET_MIB


@pytest.mark.parametrize("damage", ["cut-short", "not-gzip"])
def test_a_damaged_gz_shows_what_comes_before_the_damage_and_a_warning(logs_dir, serve, damage):
    lines = [entry(DAYS[0], i // 60, "error" if i % 7 == 0 else "info", f"login {i} " + "x" * (i % 200))
             for i in range(3000)]
    whole = gzip.compress(("\n".join(l.text for l in lines) + "\n").encode())
    bad = logs_dir / f"cells.out.{DAYS[0]}.gz"
    bad.write_bytes(whole[:len(whole) * 3 // 5] if damage == "cut-short" else b"not gzip at all\n" * 100)
    write(logs_dir / "cells.out", [entry(DAYS[1], 1, "info", "login live")])
    s = serve()
    rows, warnings = check_like_logs(s, logs_dir)
    reason = "gzip data cut short after" if damage == "cut-short" else "not a gzip file"
    assert len(warnings) == 1 and warnings[0].startswith(f"skipped {bad}: {reason}")
    assert (len(rows) > 1000) == (damage == "cut-short")
    rows, _ = check_like_logs(s, logs_dir, [("q", "login 2")], ["-q", "login 2"])  # a needle too
    assert peak_mib(s.pid) < BUDGET_MIB


def _no_newline(path: Path, head: bytes, size: int) -> None:
    """``head``, then ``size`` bytes of one line without newline, written 1 MiB at a time."""
    chunk = (b"abcdefghij" * (M // 10 + 1))[:M]
    with open(path, "wb") as f:
        f.write(head)
        for _ in range(size // M):
            f.write(chunk)
        f.write(chunk[:size % M])


def test_a_50_MB_line_without_newline_is_shown_in_1_MiB_pieces_in_bounded_memory(logs_dir, serve):
    # a plain archive ending with it (shown whole, in pieces), and the live file still writing
    # one (its complete pieces shown, the rest when it is complete)
    first = (entry(DAYS[0], 1, "info", "before the long line").text + "\n").encode()
    _no_newline(logs_dir / f"cells.out.{DAYS[0]}", first, 50 * M + 12345)
    _no_newline(logs_dir / "cells.out", (entry(DAYS[1], 1, "warn", "live before").text + "\n").encode(), 50 * M + 777)
    s = serve()
    objs, warned = logs_view(logs_dir)
    rows, warnings = pages(s)
    assert not warned and not warnings
    assert [r["msg"] for r in rows] == [o["msg"][:500] for o in reversed(objs)]
    assert len(rows) > 100
    for r in rows[:3] + rows[48:53] + rows[-3:]:  # pieces of both lines, their ends, the entries
        status, e = get(s, "/api/entry", [("id", r["id"])])
        assert status == 200, e
        assert len(e["raw"].encode()) <= M and e["msg"][:500] == r["msg"]
    pieces = [o["msg"] for o in objs if "level" not in o]
    assert max(len(p) for p in pieces) == M and sum(map(len, pieces[:51])) == 50 * M + 12345
    status, stats = get(s, "/api/stats")
    assert status == 200 and stats["total"] == counted(objs) == 2
    # Live: the rest of the live line, then an entry; the pieces and the entry arrive, each with
    # an id that opens it
    status, page = get(s, "/api/entries", [("limit", "1")])
    events = EventReader(s, [("from", page["head"])])
    try:
        with open(logs_dir / "cells.out", "ab") as f:
            f.write(b"z" * (3 * M) + b"\n" + (entry(DAYS[1], 5, "error", "after the long line").text + "\n").encode())
        wait_for(lambda: events.entries and events.entries[-1]["msg"] == "after the long line", 20,
                 "the entry after the long line", lambda: [e["msg"][:20] for e in events.entries])
        assert not events.problems
        for r in events.entries:
            status, e = get(s, "/api/entry", [("id", r["id"])])
            assert status == 200 and e["msg"][:500] == r["msg"] and len(e["raw"].encode()) <= M
    finally:
        events.close()
    assert peak_mib(s.pid) < BUDGET_MIB


def test_a_line_nested_1000_deep_is_text_and_counts_as_the_reader_parses_it(logs_dir, serve):
    for day, name, gz in ((DAYS[0], f"cells.out.{DAYS[0]}.gz", True), (DAYS[1], "cells.out", False)):
        write(logs_dir / name, [entry(day, 1, "info", "before"), deep_json(day), deep_console(day), deeper_json(),
                                entry(day, 5, "error", "after")], gz=gz)
    s = serve()
    objs, _ = logs_view(logs_dir)
    rows, warnings = pages(s, limit=3)
    assert not warnings
    assert [r["msg"] for r in rows] == [o["msg"][:500] for o in reversed(objs)]
    deep = [r for r in rows if r["msg"].startswith('{"level":"error"')]
    assert len(deep) == 2 and all(r["level"] == "" for r in deep)  # too deep: a line of text
    for r in rows:
        status, e = get(s, "/api/entry", [("id", r["id"])])
        assert status == 200 and e["msg"][:500] == r["msg"]
    status, stats = get(s, "/api/stats")
    assert status == 200 and stats["total"] == counted(objs) == 6
    status, body = get(s, "/api/export.ndjson")
    assert status == 200 and len(body.splitlines()) == len(objs)
    status, body = get(s, "/api/export.csv")
    assert status == 200
    assert peak_mib(s.pid) < BUDGET_MIB


def test_lone_surrogates_and_nan_in_a_line_are_shown_not_a_500(logs_dir, serve):
    """JSON text can hold what UTF-8 and a browser's JSON cannot: a lone "\\ud800" escape
    (decoded, a character UTF-8 cannot encode) and NaN/Infinity (no JSON for a browser). The
    page answers with them escaped or as text; `cellsrun logs` prints every format."""
    day = DAYS[1]
    odd = ['{"UserName": "\\ud800", "MsgId": "1"}', '{"n": NaN, "m": -Infinity, "MsgId": "2"}']
    lines = [entry(day, 1, "info", "before")]
    lines += [Line(f"{stamp(day, 2 + i)}\tWARN\t{LOGGER}\todd {i}\t{f}", []) for i, f in enumerate(odd)]
    lines += [Line('{"level":"error","ts":"%s","msg":"json \\udc00 odd","x":NaN}' % stamp(day, 5), []),
              entry(day, 6, "info", "after")]
    write(logs_dir / "cells.out", lines)
    for fmt in ([], ["--json"], ["--csv"], ["--detail"]):
        r = run("logs", "--dir", str(logs_dir), *fmt, env=ENV)
        assert r.returncode == 0 and not r.stderr, (fmt, r.stderr.decode()[-500:])
        assert b"\\ud800" in r.stdout and b"odd 1" in r.stdout, fmt
    s = serve()
    rows, warnings = pages(s)
    assert [r["msg"] for r in rows] == ["after", "json \udc00 odd", "odd 1", "odd 0", "before"]
    for r in rows:
        status, e = get(s, "/api/entry", [("id", r["id"])])
        assert status == 200, e
    status, e = get(s, "/api/entry", [("id", rows[2]["id"])])
    assert status == 200 and '"NaN"' in json.dumps(e) and '"-Infinity"' in json.dumps(e)  # as text
    for path in ("/api/stats", "/api/export.ndjson", "/api/export.csv"):
        status, body = get(s, path)
        assert status == 200, (path, body)
