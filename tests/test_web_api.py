"""`cellsrun web`'s API on a real uvicorn (a free loopback port), over real files: auth, each
filter against the same reference as `cellsrun logs`, paging by cursor with nothing skipped or
repeated, detail, exports, 400s, and the event stream across a real midnight rotation."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import re
import signal
import stat
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import Rotate, child_env, run, wait_for, writer_cmd
from helpers.webserver import WebServer
from test_logs import DAYS, as_json, console, expect, records

UTC = dt.timezone.utc
ENV = child_env(TZ="UTC")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A working dir whose logs/ holds the browser's test files (console .gz, plain and .1.gz
    archives, JSON .gz and a JSON live file, panic lines in between)."""
    h = tmp_path_factory.mktemp("home")
    d = h / "logs"
    d.mkdir()
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
    return h


@pytest.fixture(scope="module")
def server(home):
    s = WebServer(home, env=ENV)
    yield s
    s.stop()


def get_json(server, path, params=(), cookie=True):
    status, headers, body = server.get(f"{path}?{urllib.parse.urlencode(list(params))}", cookie=cookie)
    return status, json.loads(body)


def key(row) -> str:
    """A row as the reference names it: the MsgId in its message, or the message itself."""
    m = re.search(r"#(\d+)$", row["msg"])
    return m.group(1) if m else row["msg"]


def all_pages(server, params=(), limit=37):
    """Every row, newest first, paging by cursor; fails on a repeated cursor."""
    rows, cursor, seen = [], None, set()
    while True:
        p = list(params) + [("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        status, page = get_json(server, "/api/entries", p)
        assert status == 200, page
        rows += page["entries"]
        cursor = page["next"]
        if cursor is None:
            return rows
        assert cursor not in seen
        seen.add(cursor)


def newest_first(pred, text_pred=None):
    return list(reversed(expect(pred, text_pred)))


# -- auth and headers ------------------------------------------------------------------------

def test_token_file_is_private_and_kept_across_starts(server, home):
    path = home / "run" / "web.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == server.token and len(server.token) >= 32
    again = WebServer(home, env=ENV)
    try:
        assert again.token == server.token
    finally:
        again.stop()


def test_without_the_cookie_everything_is_401(server):
    for path in ("/api/entries", "/api/stats", "/api/export.csv", "/api/events", "/api/entry?id=x"):
        status, headers, body = server.get(path, cookie=False)
        assert status == 401, path
        assert "authentication required" in json.loads(body)["error"]
    status, headers, body = server.get("/", cookie=False)
    assert status == 401 and b'<form class="login-box" method="post" action="/login">' in body
    status, _, _ = server.get("/static/js/app.js", cookie=False)
    assert status == 401
    status, _, _ = server.get("/api/entries", cookie=False, headers={"Cookie": "cellsrun_session=" + "A" * 43})
    assert status == 401


def test_the_favicon_a_browser_asks_for_at_each_load_is_no_404(server):
    """Public (the login form's page asks for it too) and empty: 204, no log noise."""
    for cookie in (False, True):
        status, headers, body = server.get("/favicon.ico", cookie=cookie)
        assert (status, body) == (204, b""), (status, body)


def test_login_url_sets_an_httponly_strict_cookie(server):
    status, headers, body = server.get("/login?token=" + server.token, cookie=False)
    assert status == 200
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"cellsrun_session={server.token};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    status, headers, _ = server.get("/login?token=wrong" + server.token[5:], cookie=False)
    assert status == 401 and "set-cookie" not in headers
    # the login form posts the token
    for token, want in ((server.token, 200), ("nope", 401)):
        req = urllib.request.Request(server.base + "/login", data=f"token={token}".encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                code, set_cookie = r.status, r.headers.get("set-cookie")
        except urllib.error.HTTPError as e:
            code, set_cookie = e.code, e.headers.get("set-cookie")
        assert code == want and bool(set_cookie) == (want == 200)


def test_security_headers_on_every_answer(server):
    for path, cookie in (("/", True), ("/api/entries", True), ("/static/js/app.js", True), ("/", False),
                         ("/api/entries?level=loud", True), ("/nowhere", True)):
        _, headers, _ = server.get(path, cookie=cookie)
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_server_listens_on_loopback_by_default(tmp_path):
    r = run("web", "--help")
    assert r.returncode == 0 and b"127.0.0.1:8035" in r.stdout


# -- entries, filters, paging ----------------------------------------------------------------

def test_newest_first_paging_skips_and_repeats_nothing(server):
    rows = all_pages(server)
    assert [key(r) for r in rows] == newest_first(lambda r: True, lambda s: True)
    # a big page and a small one agree
    assert [key(r) for r in all_pages(server, limit=1000)] == [key(r) for r in rows]


@pytest.mark.parametrize("params,pred", [
    ([("q", "LOGIN")], lambda r: "login" in r["msg"].lower()),
    ([("q", "upload"), ("q", "#1")], lambda r: "upload" in r["msg"].lower() and "#1" in r["msg"]),
    ([("level", "error")], lambda r: r["level"] == "error"),
    ([("level", ">=warn")], lambda r: r["level"] in ("warn", "error")),
    ([("service", "data.sync")], lambda r: "data.sync" in r["logger"]),
    ([("user", "jenny")], lambda r: r["UserName"] == "jenny"),
    ([("ip", "10.0.0.7")], lambda r: r["RemoteAddress"] == "10.0.0.7"),
    ([("day", str(DAYS[1])), ("level", ">=warn"), ("user", "marc")],
     lambda r: DAYS[1] == dt.datetime.fromtimestamp(r["ts"], UTC).date() and r["level"] in ("warn", "error")
     and r["UserName"] == "marc"),
])
def test_each_filter_pages_like_the_reference(server, params, pred):
    want = newest_first(pred)
    assert want, "the reference selects something"
    assert [key(r) for r in all_pages(server, params, limit=7)] == want


def test_days_period_and_around(server):
    for day in DAYS:
        lo = dt.datetime.combine(day, dt.time(), UTC).timestamp()
        got = [key(r) for r in all_pages(server, [("day", str(day))]) if key(r).isdigit()]
        assert got == newest_first(lambda r: lo <= r["ts"] < lo + 86400)
    recs = [r for _, r in records() if not isinstance(r, str)]
    a, b = recs[100]["ts"], recs[300]["ts"]
    iso = lambda t: dt.datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")  # noqa: E731
    got = [key(r) for r in all_pages(server, [("since", iso(a)), ("until", iso(b))]) if key(r).isdigit()]
    assert got == newest_first(lambda r: a <= r["ts"] <= b)
    t = recs[200]["ts"]
    got = [key(r) for r in all_pages(server, [("around", iso(t)), ("minutes", "30")]) if key(r).isdigit()]
    assert got == newest_first(lambda r: abs(r["ts"] - t) <= 1800) and len(got) >= 5


def test_rows_carry_the_columns_and_the_detail_every_field(server):
    status, page = get_json(server, "/api/entries", [("q", "#130"), ("limit", "5")])
    row = next(r for r in page["entries"] if r["msg"].endswith("#130"))
    rec = next(r for _, r in records() if isinstance(r, dict) and r["MsgId"] == "130")
    assert (row["level"], row["ip"], row["user"], row["service"]) == (
        rec["level"], rec["RemoteAddress"], rec["UserName"], rec["logger"].removeprefix("pydio."))
    assert abs(row["ts"] - rec["ts"]) < 0.001
    status, det = get_json(server, "/api/entry", [("id", row["id"])])
    assert status == 200
    assert det["fields"]["MsgId"] == "130" and det["fields"]["msg"] == rec["msg"]
    assert det["raw"] == console(rec) and det["kind"] == "console"
    # a JSON line: its own keys
    status, page = get_json(server, "/api/entries", [("limit", "1")])
    status, det = get_json(server, "/api/entry", [("id", page["entries"][0]["id"])])
    assert det["kind"] == "json" and json.loads(det["raw"]) == det["fields"]


def test_stats_count_by_level(server):
    status, stats = get_json(server, "/api/stats", [("tz", "0")])
    assert status == 200 and stats["bucket"] == 3600
    recs = [r for _, r in records() if isinstance(r, dict)]
    totals = [sum(c[i] for _, c in stats["bars"]) for i in range(len(stats["levels"]))]
    for level in ("debug", "info", "warn", "error"):
        assert totals[stats["levels"].index(level)] == sum(r["level"] == level for r in recs), level
    status, stats = get_json(server, "/api/stats", [("day", str(DAYS[1])), ("user", "marc"), ("tz", "0")])
    assert stats["total"] == len(expect(lambda r: r["UserName"] == "marc" and
                                        dt.datetime.fromtimestamp(r["ts"], UTC).date() == DAYS[1]))
    assert not stats["partial"]


def test_exports_stream_every_match(server):
    status, headers, body = server.get("/api/export.ndjson?level=error")
    assert status == 200 and "attachment" in headers["content-disposition"]
    assert [json.loads(l)["MsgId"] for l in body.decode().splitlines()] == expect(lambda r: r["level"] == "error")
    status, headers, body = server.get("/api/export.csv?user=jenny&tz=0")
    assert headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == ["Date", "Level", "IP", "User", "Service", "Message"]
    assert [r[5].split("#")[1] for r in rows[1:]] == expect(lambda r: r["UserName"] == "jenny")


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("query,needle", [
    ("day=2026-13-45", "invalid date"),
    ("since=yesterdayish", "invalid time"),
    ("level=loud", "invalid level"),
    ("limit=0", "invalid limit"),
    ("limit=abc", "invalid limit"),
    ("minutes=-3&around=2026-11-25T10:00:00Z", "minutes"),
    ("tz=99999", "invalid tz"),
    ("colour=red", "unknown parameter"),
    ("cursor=abc", "invalid cursor"),
    ("level=error&level=warn", "given twice"),
    ("since=99999999999d", "out of range"),
    ("until=9999-12-31", "out of range"),
    ("minutes=nan&around=2026-11-25T10:00:00Z", "invalid minutes"),
    ("minutes=5", "only for --around"),
    ("minutes=5&since=2026-11-25", "only for --around"),
])
def test_bad_parameters_are_400_with_a_message(server, query, needle):
    path = "/api/stats" if query.startswith("tz") else "/api/entries"
    status, headers, body = server.get(f"{path}?{query}")
    assert status == 400, body
    assert needle in json.loads(body)["error"]
    assert b"Traceback" not in body


def test_a_tampered_cursor_or_id_is_400(server):
    status, page = get_json(server, "/api/entries", [("limit", "3")])
    payload, mac = page["next"].split(".")
    name, ino, offset = json.loads(urllib.parse.unquote(_b64d(payload)))
    forged = _b64e(json.dumps(["../../etc/passwd", ino, 0]))
    for bad in (f"{forged}.{mac}", f"{payload}.{mac[:-2]}AA", f"{payload}x.{mac}", page["entries"][0]["id"]):
        status, body = get_json(server, "/api/entries", [("cursor", bad)])
        assert status == 400 and "cursor" in body["error"], bad
    status, body = get_json(server, "/api/entry", [("id", page["next"])])  # a cursor is not an id
    assert status == 400 and "entry id" in body["error"]


def _b64d(text):
    import base64
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def _b64e(text):
    import base64
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_a_missing_log_dir_is_a_clear_error(tmp_path):
    s = WebServer(tmp_path, log_dir=tmp_path / "nowhere", env=ENV)
    try:
        status, body = get_json(s, "/api/entries")
        assert status == 503 and "does not exist" in body["error"]
    finally:
        s.stop()


def test_a_fifo_in_place_of_cells_out_does_not_hang_the_page(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    (d / "cells.out.2026-11-26").write_text("2026-11-26T10:00:00.000Z\tINFO\tpydio.x\thello\n")
    os.mkfifo(d / "cells.out")  # opening it to read would block until a writer comes
    s = WebServer(tmp_path, env=ENV)
    try:
        status, page = get_json(s, "/api/entries")
        assert status == 200 and [r["msg"] for r in page["entries"]] == ["hello"]
        assert page["warnings"] == [f"skipped {d / 'cells.out'}: not a regular file (a FIFO)"]  # the reader's words
        status, stats = get_json(s, "/api/stats")
        assert status == 200 and stats["total"] == 1
        status, _, body = s.get("/api/export.ndjson")
        assert status == 200 and json.loads(body)["msg"] == "hello"
        events = EventReader(s, [])
        wait_for(lambda: events.problems, 10, "the live view to say it stopped")
        assert "not a regular file" in events.problems[0]["error"]
        events.close()
    finally:
        s.stop()


def test_csv_export_is_safe_against_formula_injection(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    hostile = ["=HYPERLINK(\"http://x/\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "plain"]
    (d / "cells.out").write_text("".join(
        f'{{"level":"info","ts":"2026-11-27T10:00:0{i}Z","logger":"pydio.x","msg":{json.dumps(m)},'
        f'"UserName":{json.dumps(m)}}}\n' for i, m in enumerate(hostile)))
    s = WebServer(tmp_path, env=ENV)
    try:
        status, _, body = s.get("/api/export.csv")
        rows = list(csv.reader(io.StringIO(body.decode())))[1:]
        assert [r[5] for r in rows] == ["'" + m for m in hostile[:4]] + ["plain"]
        assert [r[3] for r in rows] == ["'" + m for m in hostile[:4]] + ["plain"]
    finally:
        s.stop()


# -- live ------------------------------------------------------------------------------------

class EventReader:
    """Reads /api/events in a thread; ``entries`` collects what arrived."""

    def __init__(self, server, params):
        self.entries, self.problems = [], []
        req = urllib.request.Request(f"{server.base}/api/events?{urllib.parse.urlencode(params)}",
                                     headers={"Cookie": f"cellsrun_session={server.token}"})
        self.resp = urllib.request.urlopen(req, timeout=60)
        assert self.resp.headers["content-type"].startswith("text/event-stream")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        event = None
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    (self.entries if event == "entries" else self.problems).extend(
                        json.loads(line[6:]) if event == "entries" else [json.loads(line[6:])])
        except (OSError, ValueError, AttributeError):  # AttributeError: closed under the read
            pass

    def close(self):
        self.resp.close()


@pytest.mark.slow
def test_live_events_across_a_real_midnight_nothing_missed_or_repeated(tmp_path):
    from test_midnight import tz_with_midnight_in
    tz, midnight = tz_with_midnight_in(6)
    env = child_env(TZ=tz)
    logs_dir, fifo = tmp_path / "logs", tmp_path / "cells.fifo"
    rot = Rotate(tmp_path, "--input", str(fifo), "--dir", str(logs_dir), env=env)
    wait_for(fifo.exists, 10, "the FIFO", rot.stderr)
    writer = subprocess.Popen(writer_cmd("--fifo", str(fifo), "--rate", "300", "--size", "80",
                                         "--state", str(tmp_path / "next")), env=env)
    live = logs_dir / "cells.out"
    wait_for(lambda: live.exists() and live.stat().st_size > 2000, 10, "lines in cells.out")
    s = WebServer(tmp_path, env=env)
    events = None
    try:
        status, page = get_json(s, "/api/entries", [("q", "seq="), ("limit", "1")])
        assert status == 200 and page["head"]
        last_shown = int(page["entries"][0]["msg"].split()[0][4:])
        events = EventReader(s, [("q", "seq="), ("from", page["head"])])
        wait_for(lambda: time.time() > midnight + 2, 15, "2 s past midnight")
        writer.send_signal(signal.SIGTERM)
        writer.wait(10)
        sent = int((tmp_path / "next").read_text())
        got = lambda: [int(e["msg"].split()[0][4:]) for e in events.entries]  # noqa: E731
        wait_for(lambda: got() and got()[-1] == sent - 1, 15, f"seq {sent - 1} by the event stream",
                 lambda: f"{got()[-3:]} problems={events.problems}")
        assert got() == list(range(last_shown + 1, sent)), "missed or repeated lines"
        assert any(p.name.startswith("cells.out.") for p in logs_dir.iterdir()), "no rotation happened"
        # each row opens its detail by its id (the renamed file's rows too, until it is compressed)
        opened = [get_json(s, "/api/entry", [("id", e["id"])]) for e in events.entries]
        assert all(body["msg"] == e["msg"] for e, (status, body) in zip(events.entries, opened) if status == 200)
        assert all(status in (200, 409) for status, _ in opened) and opened[-1][0] == 200
    finally:
        if writer.poll() is None:
            writer.kill()
        if events:
            events.close()
        s.stop()
        rot.stop()


def test_bad_listen_and_busy_port_are_one_error_line(tmp_path):
    import socket
    r = run("web", "--home", str(tmp_path), "--listen", "8035")
    assert r.returncode == 2 and r.stderr.decode().startswith("Error: ") and b"invalid listen address" in r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = run("web", "--home", str(tmp_path), "--listen", f"127.0.0.1:{port}", env=ENV)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith(f"Error: cannot listen on 127.0.0.1:{port}") and "Traceback" not in err
