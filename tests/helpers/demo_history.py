"""Print the demo service's lines as if it had run for the last HOURS hours (for the page's
screenshot and manual tries): the same Demo class, its clock set back, a busier spell and a
few errors in the middle, plus one hostile line to show that log text stays text.

    python tests/helpers/demo_history.py --hours 6 --count 20000 [--json] | cellsrun rotate --dir DIR
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from cellsrun.launch.demo import Demo  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=6)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    now = time.time()
    start = now - a.hours * 3600
    rnd = random.Random(a.seed)
    # a daily-looking curve: quiet, then busier in the middle of the span
    weights = [1 + 1.5 * math.sin(math.pi * i / 100) ** 2 for i in range(100)]
    times = sorted(start + (rnd.choices(range(100), weights)[0] + rnd.random()) / 100 * a.hours * 3600
                   for _ in range(a.count))
    clock = iter(times)
    out = sys.stdout.buffer
    demo = Demo(out.fileno(), a.json, 0, now=lambda: next(clock), rnd=rnd)
    for i, t in enumerate(times):
        out.write(demo.entry(t))
        if i == a.count // 2:
            out.write(demo.panic())
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
