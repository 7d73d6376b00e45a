"""`cellsrun web --dir 'collector/*'`: the API over several log directories on a real uvicorn.
Every host's entries, newest first by cursor and merged by time, are exactly those of
`cellsrun logs` over the same directories (reversed); each row, detail, export line and live
event carries its host; the ``host`` parameter keeps one host."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import urllib.parse

import pytest

from conftest import child_env, run, wait_for
from helpers.webserver import WebServer
from test_logs_hosts import HOSTS, collected  # noqa: F401 - the collector's files (a fixture)
from test_web_api import EventReader

ENV = child_env(TZ="UTC")


@pytest.fixture(scope="module")
def server(collected, tmp_path_factory):  # noqa: F811
    s = WebServer(tmp_path_factory.mktemp("home"), env=ENV, extra=("--dir", str(collected / "*")))
    yield s
    s.stop()


def get_json(server, path, params=()):
    status, _, body = server.get(f"{path}?{urllib.parse.urlencode(list(params))}")
    return status, json.loads(body)


def all_pages(server, params=(), limit=37) -> list[dict]:
    rows, cursor, seen = [], None, set()
    while True:
        p = list(params) + [("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        status, page = get_json(server, "/api/entries", p)
        assert status == 200, page
        assert page["hosts"] == HOSTS
        rows += page["entries"]
        cursor = page["next"]
        if cursor is None:
            return rows
        assert cursor not in seen
        seen.add(cursor)


def cli(collected, *args) -> list[tuple[str, str]]:  # noqa: F811
    """(host, message) of each entry `cellsrun logs` gives over the same directories, oldest first."""
    r = run("logs", "--dir", str(collected / "*"), *args, "--json", env=ENV)
    assert r.stderr == b""
    out = []
    for line in r.stdout.decode().splitlines():
        o = json.loads(line)
        out.append((o["host"], o.get("msg", "")))
    return out


@pytest.mark.parametrize("params,args", [
    ([], []), ([("q", "login")], ["-q", "login"]), ([("level", ">=warn")], ["--level", ">=warn"]),
    ([("host", "node-b")], ["--host", "node-b"]), ([("q", "goroutine"), ("host", "node-c")], ["-q", "goroutine", "--host", "node-c"]),
    ([("since", "2026-11-25T12:00:00Z"), ("until", "2026-11-26T06:00:00Z")],
     ["--since", "2026-11-25T12:00:00Z", "--until", "2026-11-26T06:00:00Z"]),
], ids=["all", "q", "level", "host", "q-host", "period"])
def test_pages_hold_every_hosts_entries_newest_first(server, collected, params, args):  # noqa: F811
    for limit in (37, 1000):
        rows = all_pages(server, params, limit)
        want = cli(collected, *args)
        assert [(r["host"], r["msg"]) for r in rows] == want[::-1] and rows, (params, limit)
    times = [r["ts"] for r in rows if r["ts"] is not None]
    assert times == sorted(times, reverse=True), "not merged by time"


def test_detail_carries_the_host(server):
    status, page = get_json(server, "/api/entries", [("limit", "400")])
    assert status == 200
    picked = {r["host"]: r for r in page["entries"]}
    assert set(picked) == set(HOSTS)
    for host, r in picked.items():
        status, d = get_json(server, "/api/entry", [("id", r["id"])])
        assert status == 200 and d["host"] == host and d["msg"] == r["msg"], d


def test_stats_add_up_the_hosts(server):
    totals = {}
    for host in [None] + HOSTS:
        status, stats = get_json(server, "/api/stats", [("host", host)] if host else [])
        assert status == 200, stats
        totals[host] = stats["total"]
    assert totals[None] == sum(totals[h] for h in HOSTS) and all(totals[h] for h in HOSTS)


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_export_has_the_host_as_logs_shows_it(server, collected, fmt):  # noqa: F811
    status, headers, body = server.get("/api/export." + fmt + "?q=jenny")
    assert status == 200
    r = run("logs", "--dir", str(collected / "*"), "-q", "jenny", "--csv" if fmt == "csv" else "--json", env=ENV)
    if fmt == "ndjson":
        assert body == r.stdout
        return
    ours = list(csv.reader(io.StringIO(body.decode())))
    theirs = list(csv.reader(io.StringIO(r.stdout.decode())))
    assert ours[0] == ["Date", "Host", "Level", "IP", "User", "Service", "Message"] == theirs[0]
    assert ours[1:] == theirs[1:] and len(ours) > 10  # formula cells quoted alike (csv_cell)


def test_bad_host_and_handles_are_400(server):
    assert get_json(server, "/api/entries", [("host", "nobody")]) == (400, {"error": "unknown host 'nobody'"})
    status, page = get_json(server, "/api/entries", [("limit", "5")])
    cursor = page["next"]
    status, err = get_json(server, "/api/entries", [("cursor", cursor[:-3] + "AAA")])
    assert status == 400 and "altered" in err["error"]
    status, err = get_json(server, "/api/entry", [("id", cursor)])  # a cursor is no entry id
    assert status == 400


def test_live_events_of_every_host_with_their_host(tmp_path):
    """A rotator's directory (live cells.out) and a collector's (today's day file): a line
    appended to each after the first page arrives once, with its host."""
    today = dt.date.today()
    rot, col = tmp_path / "logs" / "rot", tmp_path / "logs" / "col"
    rot.mkdir(parents=True)
    col.mkdir()
    line = lambda n: f'{{"level":"info","ts":"{dt.datetime.now(dt.timezone.utc).isoformat()}","msg":"m{n}"}}\n'  # noqa: E731
    (rot / "cells.out").write_text(line(0))
    (col / f"cells.out.{today}").write_text(line(1))
    s = WebServer(tmp_path, env=ENV, extra=("--dir", str(tmp_path / "logs" / "*")))
    events = None
    try:
        status, page = get_json(s, "/api/entries")
        assert sorted((r["host"], r["msg"]) for r in page["entries"]) == [("col", "m1"), ("rot", "m0")]
        with open(rot / "cells.out", "a") as f:
            f.write(line(2))  # written after the first page, before Live: still comes through Live
        events = EventReader(s, [("from", page["head"])])
        with open(col / f"cells.out.{today}", "a") as f:
            f.write(line(3))
        with open(rot / "cells.out", "a") as f:
            f.write(line(4))
        got = lambda: sorted((e["host"], e["msg"]) for e in events.entries)  # noqa: E731
        wait_for(lambda: len(events.entries) >= 3, 10, "three live entries", lambda: str(got()) + s.text())
        time.sleep(1.0)  # a doubled line would be here by now (the hosts are polled every 0.25 s)
        assert got() == [("col", "m3"), ("rot", "m2"), ("rot", "m4")] and not events.problems
        for e in events.entries:  # a live row opens by its id, with its host
            status, d = get_json(s, "/api/entry", [("id", e["id"])])
            assert status == 200 and (d["host"], d["msg"]) == (e["host"], e["msg"]), d
        # Older entries from a live row (the page trims its oldest rows while Live is on): every
        # host's entries before it, newest first.
        m3 = next(e for e in events.entries if e["msg"] == "m3")
        status, older = get_json(s, "/api/entries", [("before", m3["id"])])
        assert status == 200, older
        assert [(r["host"], r["msg"]) for r in older["entries"]] == [("rot", "m2"), ("col", "m1"), ("rot", "m0")]
    finally:
        if events:
            events.close()
        s.stop()


def test_a_host_that_starts_sending_appears_and_one_removed_drops_out(tmp_path):
    """The --dir glob is expanded on each request: a collector's new host directory shows
    without a restart, and one removed drops out."""
    logs = tmp_path / "logs"
    for n, host in enumerate(["a", "b"]):
        (logs / host).mkdir(parents=True)
        (logs / host / "cells.out.2026-11-27").write_text(
            f'{{"level":"info","ts":"2026-11-27T10:00:0{n}Z","msg":"from {host}"}}\n')
    s = WebServer(tmp_path, env=ENV, extra=("--dir", str(logs / "*")))
    try:
        status, page = get_json(s, "/api/entries")
        assert status == 200 and page["hosts"] == ["a", "b"]
        (logs / "c").mkdir()
        (logs / "c" / "cells.out.2026-11-27").write_text('{"level":"info","ts":"2026-11-27T10:00:05Z","msg":"from c"}\n')
        status, page = get_json(s, "/api/entries")
        assert page["hosts"] == ["a", "b", "c"]
        assert [(r["host"], r["msg"]) for r in page["entries"]] == [("c", "from c"), ("b", "from b"), ("a", "from a")]
        status, stats = get_json(s, "/api/stats", [("host", "c")])
        assert status == 200 and stats["total"] == 1
        (logs / "b" / "cells.out.2026-11-27").unlink()
        (logs / "b").rmdir()
        status, page = get_json(s, "/api/entries")
        assert status == 200 and page["hosts"] == ["a", "c"] and len(page["entries"]) == 2
    finally:
        s.stop()


def test_before_an_entry_goes_on_with_every_host(server):
    """``before=<id>`` (the page trims its oldest rows while Live is on, and goes on from the
    oldest it kept): the entries after that row, every host's, as paging would give them."""
    every = all_pages(server, [("q", "login")], 1000)
    status, page = get_json(server, "/api/entries", [("q", "login"), ("limit", "20")])
    for k in (0, 7, 19):
        got, before = [], page["entries"][k]["id"]
        while True:
            status, more = get_json(server, "/api/entries", [("q", "login"), ("limit", "13"), ("before", before)])
            assert status == 200, more
            got += more["entries"]
            if not more["next"]:
                break
            before = more["entries"][-1]["id"] if more["entries"] else None
            assert before, "a page cut short by the time budget (not expected on these small files)"
        assert [(r["host"], r["msg"]) for r in got] == [(r["host"], r["msg"]) for r in every[k + 1:]], k
    status, err = get_json(server, "/api/entries", [("before", page["entries"][0]["id"]), ("cursor", page["next"])])
    assert status == 400
