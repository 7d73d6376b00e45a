"""The page end to end in a real headless Chromium (Debian's), driven by Playwright, against a
real `cellsrun web`: log in through the URL, the table, each filter type from the menu, the
detail, Live, older pages, the volume picture, errors, a narrow screen — and log lines that
carry HTML and script show as text and run nothing."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import time
import urllib.parse

import pytest

from conftest import child_env, wait_for
from helpers.webserver import CHROMIUM, WebServer, launch_chromium

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's chromium ({CHROMIUM})")
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python (the test extra)")

UTC = dt.timezone.utc
LEVELS = ["info", "info", "info", "debug", "warn", "error"]
USERS = ["admin", "jenny", "marc"]
LOGGERS = ["pydio.grpc.auth", "pydio.rest.frontend", "pydio.grpc.data.sync"]
XSS = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>"]
N = 260  # entries: more than two pages of 100


def midday_zone() -> str:
    """A whole-hour zone where it is now about midday, so that a day's entries never spill
    over midnight whenever the test runs (server and browser both use it)."""
    hours = round(12 - time.gmtime().tm_hour - time.gmtime().tm_min / 60)
    hours = (hours + 12) % 24 - 12
    return "Etc/GMT" + (f"{-hours:+d}" if hours else "")


ZONE = midday_zone()


def today() -> dt.date:
    from zoneinfo import ZoneInfo
    return dt.datetime.now(ZoneInfo(ZONE)).date()


def line(n: int, t: float, level=None, user=None, msg=None) -> str:
    ts = dt.datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields = {"RemoteAddress": f"10.0.{n % 3}.{n % 50 + 1}", "UserName": user or USERS[n % 3], "MsgId": str(n)}
    return (f"{ts}\t{(level or LEVELS[n % 6]).upper()}\t{LOGGERS[n % 3]}\t{msg or f'Request served #{n}'}\t"
            f"{json.dumps(fields)}\n")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Yesterday in a .gz archive; today in cells.out, one entry a minute up to now, the two
    hostile entries newest."""
    h = tmp_path_factory.mktemp("home")
    d = h / "logs"
    d.mkdir()
    now = time.time()
    start = now - N * 60
    from zoneinfo import ZoneInfo
    yesterday = today() - dt.timedelta(days=1)
    y0 = dt.datetime.combine(yesterday, dt.time(12), ZoneInfo(ZONE)).timestamp()
    (d / f"cells.out.{yesterday}.gz").write_bytes(gzip.compress(
        "".join(line(10_000 + i, y0 + i * 30) for i in range(50)).encode()))
    text = "".join(line(i, start + i * 60) for i in range(N))
    text += line(N, now - 2, level="warn", user=XSS[0], msg=f"upload of {XSS[0]} refused")
    text += line(N + 1, now - 1, level="error", user="eve", msg=f"bad path {XSS[1]}")
    (d / "cells.out").write_text(text)
    return h


@pytest.fixture(scope="module")
def server(home):
    s = WebServer(home, env=child_env(TZ=ZONE))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A logged-in page (through the login URL); any dialog (alert) is recorded and fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=ZONE)
    pg = context.new_page()
    pg.dialogs = []
    pg.errors = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(server.login)
    pg.wait_for_selector("#rows tr")
    yield pg
    assert pg.dialogs == [], f"a dialog fired: {pg.dialogs}"
    assert pg.errors == [], f"script errors: {pg.errors}"
    context.close()


def rows(pg) -> list[list[str]]:
    return pg.eval_on_selector_all("#rows tr", "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))")


def msg_ids(pg) -> list[int]:
    out = []
    for r in rows(pg):
        m = re.search(r"#(\d+)$", r[5])
        if m:
            out.append(int(m.group(1)))
    return out


def wait_rows(pg, what, pred, timeout=10):
    wait_for(lambda: pred(rows(pg)), timeout, what, lambda: str(rows(pg)[:3]) + pg.inner_text("#banner"))


def chips(pg) -> str:
    return " ".join(pg.inner_text("#chips").split())


def url_params(pg) -> dict:
    return urllib.parse.parse_qs(urllib.parse.urlparse(pg.url).query)


def test_login_then_the_table_newest_first(page, server):
    assert [h.strip() for h in page.eval_on_selector_all("#grid th", "e => e.map(x => x.textContent)")] == \
        ["Date", "Level", "IP", "User", "Service", "Message"]
    r = rows(page)
    assert len(r) == 100
    assert r[0][1] == "ERROR" and r[1][1] == "WARN"
    assert msg_ids(page)[:3] == [N - 1, N - 2, N - 3]
    assert r[2][0].startswith(today().isoformat())  # local time of the browser (its zone: ZONE)
    assert page.locator("#rows .badge-error").count() >= 1
    assert "100 entries shown" in page.inner_text("#count")


def test_hostile_log_text_shows_as_text_and_runs_nothing(page):
    r = rows(page)
    assert r[0][5] == f"bad path {XSS[1]}"
    assert r[1][5] == f"upload of {XSS[0]} refused" and r[1][3] == XSS[0]
    assert page.locator("#rows img").count() == 0
    assert page.evaluate("document.scripts.length") == 1  # our module, nothing injected
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    page.locator("#rows tr").nth(1).click()
    page.wait_for_selector("#overlay:not([hidden])")
    assert XSS[0] in page.inner_text("#detail-raw")
    assert page.locator("#overlay img").count() == 0
    page.click("#detail-close")
    page.locator("#rows tr").nth(0).click()
    page.wait_for_selector("#overlay:not([hidden])")
    assert XSS[1] in page.inner_text("#detail-raw")
    assert page.evaluate("document.scripts.length") == 1
    page.wait_for_timeout(300)  # an onerror handler would have fired by now


def pick(pg, label):
    pg.click("#filter-btn")
    pg.click(f"#filter-menu button:text-is('{label}')")
    pg.wait_for_selector("#editor:not([hidden])")


def apply(pg):
    pg.click("#editor button[type=submit]")


def test_each_filter_type_from_the_menu(page, server):
    assert [b for b in page.eval_on_selector_all("#filter-menu button", "e => e.map(x => x.textContent)")] == \
        ["Full text", "Pick one day", "Time period", "Level", "Service", "User login", "IP"]
    # Full text
    pick(page, "Full text")
    page.fill("#editor input[name=q]", "served #25")
    apply(page)
    wait_rows(page, "full-text rows", lambda r: r and all("served #25" in x[5] for x in r))
    assert msg_ids(page) == [259, 258, 257, 256, 255, 254, 253, 252, 251, 250, 25]
    assert url_params(page)["q"] == ["served #25"]
    assert "Text: served #25" in chips(page)
    # remove the chip: everything again
    page.click("#chips .chip-x")
    wait_rows(page, "all rows", lambda r: len(r) == 100)
    # Level, at least warn
    pick(page, "Level")
    page.select_option("#editor select[name=op]", ">=")
    page.select_option("#editor select[name=level]", "warn")
    apply(page)
    wait_rows(page, "warn+ rows", lambda r: r and all(x[1] in ("WARN", "ERROR") for x in r))
    assert url_params(page)["level"] == [">=warn"]
    # Service (AND with the level)
    pick(page, "Service")
    page.fill("#editor input[name=service]", "grpc.auth")
    apply(page)
    wait_rows(page, "service rows", lambda r: r and all(x[4] == "grpc.auth" and x[1] in ("WARN", "ERROR") for x in r))
    assert page.locator("#chips .chip").count() == 2
    # Back: the level alone again
    page.go_back()
    wait_rows(page, "back to level only", lambda r: any(x[4] != "grpc.auth" for x in r))
    assert "service" not in url_params(page)
    # User login, IP
    page.goto(server.base + "/")
    page.wait_for_selector("#rows tr")
    pick(page, "User login")
    page.fill("#editor input[name=user]", "jenny")
    apply(page)
    wait_rows(page, "jenny's rows", lambda r: r and all(x[3] == "jenny" for x in r))
    pick(page, "IP")
    page.fill("#editor input[name=ip]", "10.0.1.2")
    apply(page)
    wait_rows(page, "one IP", lambda r: r and all(x[2] == "10.0.1.2" and x[3] == "jenny" for x in r))
    # Pick one day: yesterday's archive (.gz)
    page.goto(server.base + "/")
    page.wait_for_selector("#rows tr")
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    pick(page, "Pick one day")
    page.fill("#editor input[name=day]", yesterday)
    apply(page)
    wait_rows(page, "yesterday's rows", lambda r: r and all(x[0].startswith(yesterday) for x in r))
    assert msg_ids(page)[0] == 10_049 and len(rows(page)) == 50
    # Time period: the ten minutes of entries 100..109
    page.goto(server.base + "/")
    page.wait_for_selector("#rows tr")
    first = rows(page)[-1]  # entry 162 (100 newest of 0..259 plus the two hostile ones)
    start = dt.datetime.strptime(first[0], "%Y-%m-%d %H:%M:%S") - dt.timedelta(minutes=62)
    pick(page, "Time period")
    page.fill("#editor input[name=from]", start.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#editor input[name=to]", (start + dt.timedelta(minutes=9, seconds=30)).strftime("%Y-%m-%dT%H:%M:%S"))
    apply(page)
    wait_rows(page, "ten minutes", lambda r: len(r) == 10)
    assert msg_ids(page) == list(range(109, 99, -1))
    assert "Period:" in chips(page)


def test_detail_and_five_minutes_around(page):
    page.locator("#rows tr").nth(5).click()
    page.wait_for_selector("#overlay:not([hidden])")
    fields = dict(page.eval_on_selector_all("#detail-fields tr",
                                            "trs => trs.map(tr => [tr.cells[0].textContent, tr.cells[1].textContent])"))
    assert fields["MsgId"] == str(N - 4) and fields["logger"].startswith("pydio.")
    assert fields["msg"] == f"Request served #{N - 4}" and "RemoteAddress" in fields
    assert page.inner_text("#detail-raw").startswith(rows(page)[5][0][:4])
    page.click("#detail-around")
    # one a minute: 5 before, 5 after (up to #259), and the two hostile ones of the last minute
    wait_rows(page, "entries around it", lambda r: len(r) == 11)
    assert msg_ids(page) == list(range(N - 1, N - 4 - 6, -1))
    assert "Around:" in chips(page) and "minutes" in url_params(page)


def test_older_pages_by_cursor(page):
    for count in (200, 300, N + 2 + 50):
        page.click("#older")
        wait_rows(page, f"{count} rows", lambda r: len(r) == count)
    ids = msg_ids(page)
    assert ids == list(range(N - 1, -1, -1)) + list(range(10_049, 9_999, -1))
    assert page.locator("#older").is_hidden()
    assert "Beginning of the logs reached" in page.inner_text("#status")


def test_live_appends_new_lines(page, home):
    page.check("#live", force=True)
    wait_for(lambda: page.evaluate("document.body.classList.contains('is-live')"), 5, "live on")
    page.wait_for_timeout(500)
    with open(home / "logs" / "cells.out", "a") as f:
        f.write(line(9_000, time.time(), level="error", msg="fresh line #9000"))
    wait_rows(page, "the new line on top", lambda r: r[0][5] == "fresh line #9000", timeout=10)
    assert rows(page)[1][5] == f"bad path {XSS[1]}"  # nothing repeated
    page.uncheck("#live", force=True)


def test_volume_picture_and_a_click_on_a_bar(page):
    page.wait_for_selector("#bars .bar")
    assert page.locator("#bars .bar").count() >= 2
    assert "entries" in page.inner_text("#chart-title")
    page.locator("#bars .bar").last.click()
    wait_for(lambda: "from" in url_params(page), 5, "a period from the bar", lambda: page.url)
    assert "Period:" in chips(page)


def test_bad_filter_in_the_url_shows_the_error(page, server):
    page.goto(server.base + "/?level=loud")
    page.wait_for_selector("#banner:not([hidden])")
    assert "invalid level 'loud'" in page.inner_text("#banner")


def test_empty_state(page, server):
    page.goto(server.base + "/?q=nothing+matches+this")
    page.wait_for_selector("#empty:not([hidden])")
    assert "No entries match these filters." in page.inner_text("#empty")


def test_without_login_the_page_is_a_login_form(browser, server):
    context = browser.new_context(timezone_id=ZONE)
    pg = context.new_page()
    response = pg.goto(server.base + "/")
    assert response.status == 401 and pg.locator("form.login-box input[name=token]").count() == 1
    pg.fill("input[name=token]", server.token)
    pg.click("form.login-box button")
    pg.wait_for_selector("#rows tr")
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_usable_at_desktop_and_phone_width(browser, server, width):
    context = browser.new_context(viewport={"width": width, "height": 800}, timezone_id=ZONE)
    pg = context.new_page()
    pg.goto(server.login)
    pg.wait_for_selector("#rows tr")
    assert pg.evaluate("document.documentElement.scrollWidth") <= width
    msg_box = pg.locator("#rows tr").first.locator("td.c-msg").bounding_box()
    assert msg_box["width"] > width * 0.3, msg_box
    pg.click("#filter-btn")
    assert pg.locator("#filter-menu").is_visible()
    context.close()


def _own_page(browser, s):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=ZONE)
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(s.login)
    return context, pg


def test_files_skipped_are_shown_above_the_table(browser, tmp_path):
    """A damaged archive and a cells.out that is a symlink: the page says which files it
    skipped and why, and shows the entries of the others."""
    d = tmp_path / "logs"
    d.mkdir()
    yesterday = today() - dt.timedelta(days=1)
    before = today() - dt.timedelta(days=2)
    y0 = dt.datetime.combine(yesterday, dt.time(12), UTC).timestamp()
    (d / f"cells.out.{before}.gz").write_bytes(b"not gzip at all\n")
    (d / f"cells.out.{yesterday}").write_text("".join(line(i, y0 + i) for i in range(5)))
    (tmp_path / "elsewhere.log").write_text(line(99, time.time(), msg="a line of another log"))
    (d / "cells.out").symlink_to(tmp_path / "elsewhere.log")
    s = WebServer(tmp_path, env=child_env(TZ=ZONE))
    context, pg = _own_page(browser, s)
    try:
        pg.wait_for_selector("#rows tr")
        assert msg_ids(pg) == [4, 3, 2, 1, 0]
        for text in (f"skipped {d / f'cells.out.{before}.gz'}: not a gzip file",
                     f"skipped {d / 'cells.out'}: not a regular file (a symbolic link)"):
            wait_for(lambda: pg.get_by_text(text).is_visible(), 10, f"{text!r} shown",
                     lambda: pg.inner_text("main")[:500])
        assert "another log" not in pg.inner_text("main") and pg.errors == []
    finally:
        context.close()
        s.stop()


def test_live_keeps_the_newest_2000_rows_and_older_entries_go_on_from_there(browser, tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    now = time.time()
    (d / "cells.out").write_text("".join(line(i, now - 100 + i / 100) for i in range(150)))
    s = WebServer(tmp_path, env=child_env(TZ=ZONE))
    context, pg = _own_page(browser, s)
    try:
        pg.wait_for_selector("#rows tr")
        wait_rows(pg, "the first page", lambda r: len(r) == 100)
        pg.check("#live", force=True)
        wait_for(lambda: pg.evaluate("document.body.classList.contains('is-live')"), 5, "live on")
        pg.wait_for_timeout(500)
        with open(d / "cells.out", "a") as f:
            for k in range(5):  # 2,500 new lines, in five writes
                f.write("".join(line(i, now - 50 + i / 100) for i in range(150 + k * 500, 150 + (k + 1) * 500)))
                f.flush()
                pg.wait_for_timeout(300)
        wait_rows(pg, "the newest line on top", lambda r: r[0][5].endswith("#2649"), timeout=20)
        ids = msg_ids(pg)
        assert ids == list(range(2649, 649, -1))  # the newest 2,000, in order, nothing repeated
        pg.uncheck("#live", force=True)
        pg.click("#older")
        wait_rows(pg, "100 older rows", lambda r: len(r) == 2100)
        assert msg_ids(pg) == list(range(2649, 549, -1))  # on from the oldest kept: none skipped
        assert pg.errors == []
    finally:
        context.close()
        s.stop()
