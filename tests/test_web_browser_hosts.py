"""The page over several log directories (`cellsrun web --dir 'logs/*'`) in a real headless
Chromium: a Host column, rows of every host newest first, a Host filter from the menu (a chip,
the URL), the host in the detail. Over one directory neither the column nor the filter shows
(tests/test_web_browser.py checks the single-directory page's columns and menu)."""

from __future__ import annotations

import os
import re
import time

import pytest

from conftest import child_env
from helpers.webserver import CHROMIUM, WebServer, launch_chromium
from test_web_browser import ZONE, apply, chips, line, pick, rows, today, url_params, wait_rows

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's chromium ({CHROMIUM})")
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python (the test extra)")

HOSTS = ["node-a", "node-b", "node-c"]
N = 150  # entries, one a minute, entry n on host n % 3


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """node-a as a rotator leaves its logs (cells.out), node-b and node-c as a collector does
    (today's day file)."""
    h = tmp_path_factory.mktemp("home")
    start = time.time() - N * 60
    texts = {host: "" for host in HOSTS}
    for n in range(N):
        texts[HOSTS[n % 3]] += line(n, start + n * 60)
    for host, text in texts.items():
        d = h / "collector" / host
        d.mkdir(parents=True)
        (d / ("cells.out" if host == "node-a" else f"cells.out.{today()}")).write_text(text)
    return h


@pytest.fixture(scope="module")
def page(home):
    server = WebServer(home, env=child_env(TZ=ZONE), extra=("--dir", str(home / "collector" / "*")))
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=ZONE)
        pg = context.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server.login)
        pg.wait_for_selector("#rows tr")
        yield pg
        assert errors == [], f"script errors: {errors}"
        browser.close()
    server.stop()


def ids_and_hosts(pg) -> list[tuple[int, str]]:
    return [(int(re.search(r"#(\d+)$", r[6]).group(1)), r[1]) for r in rows(pg)]


def test_host_column_and_every_hosts_rows_newest_first(page):
    assert [h.strip() for h in page.eval_on_selector_all("#grid th", "e => e.map(x => x.textContent)")] == \
        ["Date", "Host", "Level", "IP", "User", "Service", "Message"]
    wait_rows(page, "the first 100 rows", lambda r: len(r) == 100)
    assert ids_and_hosts(page) == [(n, HOSTS[n % 3]) for n in range(N - 1, N - 101, -1)]
    assert "3 hosts: node-a, node-b, node-c" in page.inner_text("#where")


def test_host_filter_from_the_menu_and_the_detail(page):
    assert "Host" in page.eval_on_selector_all("#filter-menu button", "e => e.map(x => x.textContent)")
    pick(page, "Host")
    page.select_option("#editor select[name=host]", "node-b")
    apply(page)
    wait_rows(page, "node-b's rows only", lambda r: len(r) == N // 3 and {x[1] for x in r} == {"node-b"})
    assert [n for n, _ in ids_and_hosts(page)] == [n for n in range(N - 1, -1, -1) if n % 3 == 1]
    assert "Host: node-b" in chips(page) and url_params(page)["host"] == ["node-b"]
    page.locator("#rows tr").nth(0).click()
    page.wait_for_selector("#overlay:not([hidden])")
    fields = dict(page.eval_on_selector_all("#detail-fields tr",
                                            "trs => trs.map(tr => [tr.cells[0].textContent, tr.cells[1].textContent])"))
    assert fields["Host"] == "node-b" and fields["MsgId"] == str(N - 2 if (N - 2) % 3 == 1 else N - 3)
    page.click("#detail-done")
    page.click("#chips .chip-x")  # the host chip removed: every host again
    wait_rows(page, "every host again", lambda r: len(r) == 100 and len({x[1] for x in r}) == 3)
