"""Time and peak memory of `cellsrun logs` on hostile files (not a test).

    python tests/bench/bench_logs_hostile.py [--data DIR]

Files without a single newline: a 1 GiB plain archive, a 2 GiB live file, and a gzip bomb
(~16 MB expanding to 5 GiB); "needle" once near the end of each. Each case runs once with its
output to /dev/null; peak RSS comes from wait4 (the largest of cellsrun and the children it
waited for: grep included), and is also shown over a run on an empty directory (the bare
process). The files are kept in --data for the next run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CELLSRUN = [sys.executable, "-m", "cellsrun", "logs"]
ENV = dict(os.environ, TZ="UTC", PYTHONPATH=str(HERE.parent.parent))


def make(path: Path, size: int, gz: bool) -> None:
    if path.exists():
        return
    unit = b"abcdefghijklmnopqrstuvwxyz0123456789 " * 28000
    z = zlib.compressobj(9, zlib.DEFLATED, 31) if gz else None
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        left = size
        while left > 0:
            chunk = unit[:left]
            left -= len(chunk)
            if left <= 0:
                chunk = chunk[:-10] + b"needle" + chunk[-4:]
            f.write(z.compress(chunk) if z else chunk)
        if z:
            f.write(z.flush())
    tmp.rename(path)


def measure(args: list[str], grep: bool) -> tuple[float, int, int]:
    env = dict(ENV) if grep else dict(ENV, CELLSRUN_GREP="0")
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen(CELLSRUN + args, stdout=null, stderr=subprocess.PIPE, env=env)
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
    if err:
        raise SystemExit(f"{args}: {err.decode()}")
    return time.perf_counter() - t0, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cellsrun-bench", "hostile"))
    root = Path(ap.parse_args().data)
    dirs = {name: root / name for name in ("empty", "archive", "live", "bomb")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    make(dirs["archive"] / "cells.out.2026-11-24", 1 << 30, False)
    make(dirs["live"] / "cells.out", 2 << 30, False)
    make(dirs["bomb"] / "cells.out.2026-11-24.gz", 5 << 30, True)
    bomb_mb = (dirs["bomb"] / "cells.out.2026-11-24.gz").stat().st_size / 1e6
    _, bare, _ = measure(["--dir", str(dirs["empty"])], False)
    print(f"bare process (empty directory): peak RSS {bare >> 20} MiB\n")
    print("| case | path | exit | s | peak RSS MiB | over bare MiB |")
    print("|---|---|---:|---:|---:|---:|")
    for label, name, args, grep, path in (
            ("1 GiB archive, no newline", "archive", [], False, "python"),
            ("same, -q needle", "archive", ["-q", "needle"], True, "python (a line over 1 MiB)"),
            ("2 GiB live file, no newline", "live", [], False, "python"),
            ("same, -q needle", "live", ["-q", "needle"], True, "python (live file)"),
            (f"gzip bomb ({bomb_mb:.0f} MB -> 5 GiB)", "bomb", [], False, "python"),
            ("same, -q needle", "bomb", ["-q", "needle"], True, "grep"),
            ("same, -q needle, CELLSRUN_GREP=0", "bomb", ["-q", "needle"], False, "python")):
        secs, rss, rc = measure(["--dir", str(dirs[name]), *args], grep)
        print(f"| {label} | {path} | {rc} | {secs:.2f} | {rss >> 20} | {(rss - bare) >> 20} |")

if __name__ == "__main__":
    main()
