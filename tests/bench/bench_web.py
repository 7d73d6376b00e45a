"""Benchmark `cellsrun web` on a 1 GB cells.out (not a test; run it under the test lock).

    python tests/bench/bench_web.py [--runs 5] [--big 1GB] [--format console|json]

- first page (100 newest entries) of a 1 GB live file: as the server measures it
  (``Server-Timing``), as a client on loopback sees it, and as Chromium sees it (from the
  navigation to "/" to the first rows in the table: the page's ``cellsrun:first-rows`` mark);
- a filtered first page (a rare IP, newest first, across the whole file);
- an older page deep in the file (cursor), a first page of a 1 GB ``.gz`` archive (cold: it is
  indexed once) and its next page (warm);
- the volume picture (cold: counted once; warm: only new lines are counted);
- a full CSV export of the 1 GB file (streamed), MB/s;
- the server's RSS (VmHWM: its peak) after all of that; the budget is 80 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from gen_lines import write_day  # noqa: E402
from helpers.webserver import WebServer, launch_chromium  # noqa: E402


def rss(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            vals[k] = int(v.split()[0]) / 1024
    return vals["VmRSS"], vals["VmHWM"]


def timed_get(server, path: str) -> tuple[float, float, dict]:
    """(client seconds, server ms from Server-Timing or nan, JSON body)."""
    t0 = time.perf_counter()
    status, headers, body = server.get(path)
    elapsed = time.perf_counter() - t0
    if status != 200:
        raise SystemExit(f"{path}: {status} {body[:300]!r}")
    timing = headers.get("server-timing", "")
    server_ms = float(timing.split("dur=")[1]) if "dur=" in timing else float("nan")
    return elapsed, server_ms, json.loads(body) if headers.get("content-type", "").startswith("application/json") else {}


def page_loads(server, runs: int) -> list[float]:
    """ms from the navigation to "/" to the first rows in the table, in Chromium."""
    from playwright.sync_api import sync_playwright
    out = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        pg = ctx.new_page()
        pg.goto(server.login)
        pg.wait_for_selector("#rows tr")
        out.append(pg.evaluate("performance.getEntriesByName('cellsrun:first-rows')[0].startTime"))
        for _ in range(runs - 1):
            pg.reload()
            pg.wait_for_selector("#rows tr")
            out.append(pg.evaluate("performance.getEntriesByName('cellsrun:first-rows')[0].startTime"))
        ctx.close()
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--big", default="1GB")
    ap.add_argument("--format", default="console", choices=("console", "json"))
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cellsrun-bench", "web"))
    a = ap.parse_args()
    sys.path.insert(0, str(HERE.parent.parent))
    from cellsrun.datatypes import byte_size
    size = byte_size(a.big)
    root = Path(a.data) / a.format
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    day = time.strftime("%Y-%m-%d")
    live = logs / "cells.out"
    src = root / f"day-{size}.log"
    write_day(str(src), a.format, int(size / (150 if a.format == "console" else 175)), day)
    if not live.exists():
        os.link(src, live)
    gz_dir = root / "gz"
    gz_dir.mkdir(exist_ok=True)
    gz = gz_dir / "cells.out.2026-11-27.gz"
    if not gz.exists():
        subprocess.run(f"gzip -1 -c {src} > {gz}.tmp && mv {gz}.tmp {gz}", shell=True, check=True)
    mb = live.stat().st_size / 1e6
    env = dict(os.environ, TZ="UTC")
    server = WebServer(root, log_dir=logs, env=env)
    res: dict[str, list] = {}

    def add(name, value):
        res.setdefault(name, []).append(value)
    try:
        print(f"{mb:.0f} MB cells.out ({a.format}); {gz.stat().st_size / 1e6:.0f} MB .gz archive; "
              f"server pid {server.pid}, RSS at start {rss(server.pid)[0]:.1f} MiB", flush=True)
        cold = page_loads(server, 1)[0]  # a fresh server: the volume picture is counted meanwhile
        add("page load to first rows in Chromium, fresh server (1 GB counted for the chart meanwhile), ms", cold)
        wait_t0 = time.perf_counter()
        c, _, stats = timed_get(server, "/api/stats?tz=0")
        add("volume picture, cold, s (what remained after the page load)", c)
        add("volume picture, cold, from the page load on, s (upper bound)", time.perf_counter() - wait_t0 + cold / 1000)
        for _ in range(a.runs):
            c, s, page = timed_get(server, "/api/entries")
            assert len(page["entries"]) == 100
            add("first page, server ms", s)
            add("first page, client ms", c * 1000)
            c, s, page = timed_get(server, "/api/entries?ip=10.0.3.17")
            add("first page ip=10.0.3.17 (rare), client ms", c * 1000)
            # 40 pages back by cursor
            cursor = None
            t0 = time.perf_counter()
            for _ in range(40):
                _, _, page = timed_get(server, "/api/entries" + (f"?cursor={urllib.parse.quote(cursor)}" if cursor else ""))
                cursor = page["next"]
            add("40 pages back by cursor, ms per page", (time.perf_counter() - t0) * 1000 / 40)
        # .gz archive: first page cold, then warm, then a page by cursor
        gz_home = root / "gzhome"
        gz_home.mkdir(exist_ok=True)
        gz_server = WebServer(gz_home, log_dir=gz_dir, env=env)
        try:
            c, s, page = timed_get(gz_server, "/api/entries")
            add(".gz archive first page, cold (indexes it), ms", c * 1000)
            c, s, page = timed_get(gz_server, "/api/entries")
            add(".gz archive first page, warm, ms", c * 1000)
            c, s, page2 = timed_get(gz_server, f"/api/entries?cursor={urllib.parse.quote(page['next'])}")
            add(".gz archive next page, ms", c * 1000)
            gz_rss = rss(gz_server.pid)
        finally:
            gz_server.stop()
        for ms in page_loads(server, a.runs):
            add("page load to first rows in Chromium, warm, ms", ms)
        for _ in range(a.runs):
            c, _, stats = timed_get(server, "/api/stats?tz=0")
            add("volume picture, warm, ms", c * 1000)
        t0 = time.perf_counter()
        status, _, body = server.get("/api/export.csv?level=error")
        add("CSV export level=error over 1 GB, s", time.perf_counter() - t0)
        t0 = time.perf_counter()
        n = 0
        req = urllib.request.Request(server.base + "/api/export.ndjson",
                                     headers={"Cookie": f"cellsrun_session={server.token}"})
        with urllib.request.urlopen(req) as r:
            while True:
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                n += len(chunk)
        dt_ = time.perf_counter() - t0
        add("NDJSON export of everything, MB/s", n / 1e6 / dt_)
        now, peak = rss(server.pid)
    finally:
        server.stop()
    print(f"\nmedians of {a.runs} runs (single runs for the cold cases and exports)\n")
    print("| case | figure |\n|---|---:|")
    for name, values in res.items():
        print(f"| {name} | {statistics.median(values):.1f} |")
    print(f"| server RSS after all of it, MiB (now / peak) | {now:.1f} / {peak:.1f} |")
    print(f"| .gz server RSS, MiB (now / peak) | {gz_rss[0]:.1f} / {gz_rss[1]:.1f} |")


if __name__ == "__main__":
    main()
