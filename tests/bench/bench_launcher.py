"""How long `cellsrun start` and `cellsrun status` take (not a test).

    python tests/bench/bench_launcher.py [--runs 5]

start: a fresh working dir, supervisord not running, the demo with startsecs=2; the
figure reported is the time beyond those 2 s. status: with everything running.
Medians of the runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CELLSRUN = [sys.executable, "-m", "cellsrun"]


def timed(*args: str) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(CELLSRUN + list(args), capture_output=True)
    if r.returncode != 0:
        raise SystemExit(f"cellsrun {' '.join(args)} failed: {r.stderr.decode()}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    start, status, help_ = [], [], []
    for _ in range(a.runs):
        home = tempfile.mkdtemp(prefix="crb", dir="/tmp")
        try:
            start.append(timed("start", "--home", home, "--demo", "--startsecs", "2") - 2)
            for _ in range(3):
                status.append(timed("status", "--home", home))
            help_.append(timed("rotate", "--help"))
        finally:
            subprocess.run(CELLSRUN + ["stop", "--home", home, "--all"], capture_output=True)
            shutil.rmtree(home, ignore_errors=True)
    print(f"start beyond startsecs: median {statistics.median(start):.2f} s (max {max(start):.2f})")
    print(f"status:                 median {statistics.median(status):.3f} s (max {max(status):.3f})")
    print(f"rotate --help:          median {statistics.median(help_) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
