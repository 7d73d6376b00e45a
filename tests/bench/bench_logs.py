"""Benchmark `cellsrun logs` against GNU grep/zgrep on the same files (not a test).

    python tests/bench/bench_logs.py [--runs 5] [--day-mb 110] [--big 1GB]

- full text over 3 days of plain archives (>= 300 MB) vs `grep -F -i`, and over 10 days of
  .gz archives (300 MB unpacked) vs `zgrep -F -i`: a selective query (an IP, ~0.4 % of
  lines) and a broad one (a word on ~14 % of lines, where printing dominates), as a table
  and as --json. Both sides write to a file: GNU grep stops at the first match when its
  output is /dev/null.
- --since/--until: a 1-minute and a 10-minute window inside a 1 GB single-day file, and a
  30-second window of ~20,000 entries inside a 1.1 GB file of 2.5 hours.
- --day on a year of archives vs on a directory with that one day only.
- `cellsrun logs --help` start-up.
Medians of --runs rounds; ratios are per round to grep's time, then the median.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen_lines import write_day  # noqa: E402

CELLSRUN = [sys.executable, "-m", "cellsrun"]
# Bytecode cached, as in an installed cellsrun (see bench_rotate.child_env).
ENV = dict(os.environ, TZ="UTC", PYTHONPATH=str(HERE.parent.parent),
           PYTHONPYCACHEPREFIX=os.path.join(tempfile.gettempdir(), "cellsrun-bench-pyc"))
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
OUT = Path(tempfile.gettempdir()) / "cellsrun-bench-logs.out"


def timed(argv: list[str], env=ENV) -> float:
    os.sync()  # no writeback from the run before competes with this one
    t0 = time.perf_counter()
    with open(OUT, "wb") as out:
        r = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, env=env)
    if r.returncode not in (0, 1):
        raise SystemExit(f"{argv[:3]} failed: {r.stderr.decode()}")
    return time.perf_counter() - t0


def count(needle: str, files: list[str]) -> int:
    r = subprocess.run(["grep", "-c", "-h", "-F", "-i", needle, *files], capture_output=True, text=True)
    return sum(int(x) for x in r.stdout.split())


def prepare(root: Path, day_mb: int, big_bytes: int) -> dict:
    lines_per_mb = 1e6 / 150
    plain, gz, big, year, one, gz10, dense = (root / n for n in ("plain", "gz", "big", "year", "one",
                                                                 "gz10", "dense"))
    for d in (plain, gz, big, year, one, gz10, dense):
        d.mkdir(parents=True, exist_ok=True)
    for i, day in enumerate(("2026-11-24", "2026-11-25", "2026-11-26")):
        p = write_day(str(plain / f"cells.out.{day}"), "console", int(day_mb * lines_per_mb), day, seed=i)
        target = gz / f"cells.out.{day}.gz"
        if not target.exists():
            subprocess.run(f"gzip -c {p} > {target}", shell=True, check=True)
    for i in range(10):
        day = f"2026-11-{10 + i}"
        target = gz10 / f"cells.out.{day}.gz"
        if not target.exists():
            p = write_day(str(gz10 / f"cells.out.{day}"), "console", int(day_mb * 3 / 10 * lines_per_mb), day,
                          seed=i)
            subprocess.run(f"gzip -c {p} > {target}.part && mv {target}.part {target} && rm {p}",
                           shell=True, check=True)
    write_day(str(big / "cells.out.2026-11-27"), "json", int(big_bytes / 1e6 * lines_per_mb * 0.85), "2026-11-27")
    n = 6_300_000  # ~1.1 GB of json lines over 9,450 s: ~20,000 in 30 s
    write_day(str(dense / "cells.out.2026-11-27"), "json", n, "2026-11-27", span=n * 30 // 20000)
    first = dt.date(2025, 11, 28)
    for k in range(365):
        day = str(first + dt.timedelta(days=k))
        target = year / f"cells.out.{day}.gz"
        if not target.exists():
            target.write_bytes(gzip.compress(b"".join(_small_day(day)), 1))
    shutil.copyfile(year / "cells.out.2026-06-15.gz", one / "cells.out.2026-06-15.gz")
    return {"plain": plain, "gz": gz, "big": big, "year": year, "one": one, "gz10": gz10, "dense": dense}


def _small_day(day: str):
    from gen_lines import iter_lines
    return iter_lines("json", 20000, day)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--day-mb", type=int, default=110)
    ap.add_argument("--big", default="1GB")
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cellsrun-bench", "logs"))
    a = ap.parse_args()
    sys.path.insert(0, str(HERE.parent.parent))
    from cellsrun.datatypes import byte_size
    d = prepare(Path(a.data), a.day_mb, byte_size(a.big))
    plain_files = sorted(str(p) for p in d["plain"].iterdir())
    gz_files = sorted(str(p) for p in d["gz10"].iterdir())
    mb = sum(os.path.getsize(p) for p in plain_files) / 1e6
    cases = {
        "-q selective, plain": (["logs", "--dir", str(d["plain"]), "-q", "10.0.3.17"],
                                ["grep", "-F", "-i", "10.0.3.17", *plain_files]),
        "-q selective, 10 .gz": (["logs", "--dir", str(d["gz10"]), "-q", "10.0.3.17"],
                                 ["zgrep", "-F", "-i", "10.0.3.17", *gz_files]),
        "-q broad, plain, table": (["logs", "--dir", str(d["plain"]), "-q", "Upload"],
                                   ["grep", "-F", "-i", "Upload", *plain_files]),
        "-q broad, plain, --json": (["logs", "--dir", str(d["plain"]), "-q", "Upload", "--json"],
                                    ["grep", "-F", "-i", "Upload", *plain_files]),
    }
    timed(CELLSRUN + ["logs", "--help"])  # writes the bytecode cache once, before anything is timed
    results = {}
    for name, (ours, theirs) in cases.items():
        ratios, mine, base = [], [], []
        for _ in range(a.runs):
            g = timed(theirs)
            c = timed(CELLSRUN + ours)
            base.append(g)
            mine.append(c)
            ratios.append(c / g)
        results[name] = (statistics.median(mine), statistics.median(base), statistics.median(ratios))
    windows = {1: [], 10: []}
    dense_t = []
    for _ in range(a.runs):
        dense_t.append(timed(CELLSRUN + ["logs", "--dir", str(d["dense"]), "--since", "2026-11-27T01:00:00",
                                         "--until", "2026-11-27T01:00:30"]))
        dense_n = sum(1 for _ in open(OUT, "rb")) - 1  # without the header
        for minutes in windows:
            windows[minutes].append(timed(CELLSRUN + ["logs", "--dir", str(d["big"]), "--since",
                                                      "2026-11-27T13:00", "--until",
                                                      f"2026-11-27T13:{minutes:02d}"]))
    year_t, one_t = [], []
    for _ in range(a.runs):
        year_t.append(timed(CELLSRUN + ["logs", "--dir", str(d["year"]), "--day", "2026-06-15"]))
        one_t.append(timed(CELLSRUN + ["logs", "--dir", str(d["one"]), "--day", "2026-06-15"]))
    help_t = [timed(CELLSRUN + ["logs", "--help"]) for _ in range(a.runs)]
    big_mb = os.path.getsize(next(d["big"].iterdir())) / 1e6
    print(f"{mb:.0f} MB of plain archives (3 days); medians of {a.runs} runs\n")
    print(f"selective query: {count('10.0.3.17', plain_files)} matching lines; "
          f"broad: {count('Upload', plain_files)}\n")
    print("| case | cellsrun logs s | grep s | x grep |")
    print("|---|---:|---:|---:|")
    for name, (c, g, r) in results.items():
        print(f"| {name} | {c:.2f} | {g:.2f} | {r:.2f} |")
    dense_mb = os.path.getsize(next(d["dense"].iterdir())) / 1e6
    print(f"--since/--until 30 s inside a {dense_mb:.0f} MB file, {dense_n} entries printed: "
          f"{statistics.median(dense_t) * 1000:.0f} ms")
    for minutes, times in windows.items():
        print(f"--since/--until {minutes} min inside a {big_mb:.0f} MB file: {statistics.median(times):.3f} s")
    print(f"--day on 365 days of archives: {statistics.median(year_t):.3f} s; "
          f"on that day alone: {statistics.median(one_t):.3f} s")
    print(f"logs --help: {statistics.median(help_t) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
