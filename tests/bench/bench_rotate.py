"""Benchmark `cellsrun rotate` against cat and the daemontools family (not a test).

    python tests/bench/bench_rotate.py [--size 320MB] [--runs 5] [--out tests/bench/results]
                                       [--only PART] [--tools cat,raw,stamp]

Each round pipes the same file (``cat SRC | TOOL``) into every tool in turn: `cat > file`
(the baseline), cellsrun rotate raw, raw with --stamp, and json, and s6-log, svlogd, multilog and
rotatelogs where installed. Wall time covers the whole pipeline, start-up included.
Reported: the median MB/s, the median of each round's ratio to cat's MB/s, lines/s
and peak RSS; then throughput while an archive is being compressed, and how late
after a real midnight (TZ trick) a silent and a busy rotator rotate.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))
from gen_lines import make_file  # noqa: E402

from cellsrun.datatypes import byte_size  # noqa: E402

CELLSRUN = [sys.executable, "-m", "cellsrun"]


def child_env() -> dict:
    """The environment of the commands timed: bytecode cached, as in an installed cellsrun
    (pip compiles it). A PYTHONDONTWRITEBYTECODE=1 left in the shell would have every start
    compile its modules again, ~10 ms that no user pays."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parent.parent),
               PYTHONPYCACHEPREFIX=os.path.join(tempfile.gettempdir(), "cellsrun-bench-pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def tools(out: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (consumer argv, which source format)."""
    t = {
        "cat > file": (["sh", "-c", f"exec cat > {out}/cat.out"], "console"),
        "cellsrun rotate (raw)": (CELLSRUN + ["rotate", "--dir", str(out / "r")], "console"),
        "cellsrun rotate (raw --stamp)": (CELLSRUN + ["rotate", "--dir", str(out / "st"), "--stamp"], "console"),
        "cellsrun rotate (json)": (CELLSRUN + ["rotate", "--dir", str(out / "j"), "--format", "json"], "json"),
        "cellsrun rotate (json, 2% stray lines)": (CELLSRUN + ["rotate", "--dir", str(out / "k"), "--format",
                                                               "json"], "json-strays"),
    }
    if shutil.which("s6-log"):
        t["s6-log"] = (["s6-log", "-b", "n20", "s16777215", str(out / "s6")], "console")
    if shutil.which("svlogd"):
        t["svlogd"] = (["svlogd", str(out / "sv")], "console")
    if shutil.which("multilog"):
        t["multilog"] = (["multilog", "s16777215", "n20", str(out / "ml")], "console")
    if shutil.which("rotatelogs"):
        t["rotatelogs"] = (["rotatelogs", "-l", "-f", str(out / "rl.%Y-%m-%d"), "86400"], "console")
    return t


def run_pipe(src: str, argv: list[str], env=None) -> tuple[float, int]:
    """(seconds, consumer peak RSS in KiB) for `cat src | argv`.

    The RSS comes from GNU time around the consumer: a child forked from this Python
    process would report this process's own memory from before its exec.
    """
    rss_file = Path(tempfile.gettempdir()) / "cellsrun-bench-rss"
    timed = (["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] + argv) if os.path.exists("/usr/bin/time") else argv
    t0 = time.perf_counter()
    prod = subprocess.Popen(["cat", src], stdout=subprocess.PIPE)
    cons = subprocess.Popen(timed, stdin=prod.stdout, env=env or child_env())
    prod.stdout.close()
    cons.wait()
    prod.wait()
    dt = time.perf_counter() - t0
    if cons.returncode != 0:
        raise SystemExit(f"{argv[0]} failed with {cons.returncode}")
    try:
        return dt, int(rss_file.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return dt, 0


def reset(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for d in ("sv", "s6", "ml"):
        (out / d).mkdir()
    (out / "sv" / "config").write_text("s16777215\nn20\n")


def throughput(srcs: dict, runs: int, out: Path, nlines: dict, only=None) -> list[dict]:
    """Each round runs every tool (``only``: the names holding one of these words; cat is
    always run, first: it is the baseline of the round's ratios)."""
    table = tools(out)
    reset(out)
    subprocess.run(CELLSRUN + ["rotate", "--dir", str(out / "warm")], input=b"x\n", env=child_env(),
                   check=True)  # writes the bytecode cache once, before anything is timed
    if only:
        table = {k: v for k, v in table.items() if k.startswith("cat") or any(w in k for w in only)}
    seconds = {name: [] for name in table}
    ratios = {name: [] for name in table}
    rss = {name: 0 for name in table}
    for _ in range(runs):
        base = None
        for name, (argv, fmt) in table.items():
            reset(out)
            os.sync()  # each tool starts with no writeback pending from the one before
            dt, kib = run_pipe(srcs[fmt], argv)
            mbps = os.path.getsize(srcs[fmt]) / dt / 1e6
            if base is None:
                base = mbps
            seconds[name].append(dt)
            ratios[name].append(mbps / base)
            rss[name] = max(rss[name], kib)
    rows = []
    for name, (argv, fmt) in table.items():
        dt = statistics.median(seconds[name])
        rows.append({"tool": name, "input": fmt, "MB/s": os.path.getsize(srcs[fmt]) / dt / 1e6,
                     "x cat": statistics.median(ratios[name]), "Mlines/s": nlines[fmt] / dt / 1e6,
                     "peak RSS MiB": rss[name] / 1024})
    return rows


def with_compression(src: str, runs: int, out: Path) -> dict:
    """Raw throughput from a FIFO with and without a large archive being gzipped meanwhile.

    Timed until cells.out holds every byte (not until exit: at end of stdin the rotator
    waits for its compression to finish, like `cmd | gzip`)."""
    plain, busy = [], []
    size = os.path.getsize(src)
    for _ in range(runs):
        for case in ("plain", "busy"):
            reset(out)
            logs = out / "r"
            logs.mkdir()
            if case == "busy":
                shutil.copyfile(src, logs / "cells.out.2026-11-20")  # gzipped from the start
            os.sync()  # the set-up's dirty pages are not this measurement's to write back
            fifo = out / "in.fifo"
            rot = subprocess.Popen(CELLSRUN + ["rotate", "--input", str(fifo), "--dir", str(logs),
                                               "--keep-days", "0"], env=child_env())
            while not (logs / "cells.out").exists() or not fifo.exists():
                time.sleep(0.005)
            if case == "busy":
                while not (logs / "cells.out.2026-11-20.gz.tmp").exists():
                    time.sleep(0.005)
            t0 = time.perf_counter()
            subprocess.run(f"cat {src} > {fifo}", shell=True, check=True)
            while (logs / "cells.out").stat().st_size < size:
                time.sleep(0.001)
            (plain if case == "plain" else busy).append(time.perf_counter() - t0)
            rot.terminate()
            rot.wait()
    p, b = statistics.median(plain), statistics.median(busy)
    mb = os.path.getsize(src) / 1e6
    ratio = statistics.median(pt / bt for pt, bt in zip(plain, busy))  # per round, then the median
    return {"MB/s alone": mb / p, "MB/s while gzipping": mb / b, "ratio": ratio}


def midnight_latency(tmp: Path, runs: int, rate: int) -> list[float]:
    """Seconds between a real local midnight and the rotation, as the rotator logs it
    (file ctimes are only as fine as a kernel tick, ~4 ms)."""
    sys.path.insert(0, str(HERE.parent))
    from test_midnight import local_day, tz_with_midnight_in
    late = []
    env = dict(os.environ, PYTHONPATH=str(HERE.parent.parent))
    for i in range(runs):
        d = tmp / f"mid{rate}-{i}"
        shutil.rmtree(d, ignore_errors=True)
        tz, midnight = tz_with_midnight_in(2)
        env["TZ"] = tz
        fifo = d / "in.fifo"
        d.mkdir(parents=True)
        rot = subprocess.Popen(CELLSRUN + ["rotate", "--input", str(fifo), "--dir", str(d / "logs"),
                                           "--compress", "none"], env=env, stderr=subprocess.PIPE)
        while not fifo.exists():
            time.sleep(0.01)
        writer = subprocess.Popen([sys.executable, str(HERE.parent / "helpers" / "writer.py"), "--fifo",
                                   str(fifo), "--rate", str(rate or 1), "--count", str(rate * 4 or 1)])
        archive = d / "logs" / f"cells.out.{local_day(midnight - 1, tz)}"
        deadline = time.time() + 10
        while not archive.exists() and time.time() < deadline:
            time.sleep(0.01)
        writer.wait()
        rot.terminate()
        err = rot.communicate()[1].decode()
        stamp = next(line.split()[2] for line in err.splitlines() if " rotated " in line)
        late.append(datetime.datetime.fromisoformat(stamp).timestamp() - midnight)
        shutil.rmtree(d, ignore_errors=True)
    return late


def machine() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="320MB")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cellsrun-bench"))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--only", choices=("throughput", "compression", "midnight"),
                    help="run one part (the others are reported empty)")
    ap.add_argument("--tools", type=lambda t: [w for w in t.split(",") if w],
                    help="throughput of the tools whose name holds one of these comma-separated "
                    "words only, beside cat (e.g. raw,stamp)")
    a = ap.parse_args()
    data = Path(a.data)
    data.mkdir(parents=True, exist_ok=True)
    size = byte_size(a.size)
    srcs = {fmt: make_file(str(data / f"{fmt}-{size}.src"), fmt, size)
            for fmt in ("console", "json", "json-strays")}
    nlines = {}
    for fmt, path in srcs.items():
        with open(path, "rb") as f:
            nlines[fmt] = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 22), b""))
    out = data / "out"
    part = lambda name: a.only in (None, name)  # noqa: E731
    result = {"machine": machine(), "size": a.size, "runs": a.runs,
              "throughput": throughput(srcs, a.runs, out, nlines, a.tools) if part("throughput") else [],
              "compression": with_compression(srcs["console"], a.runs, out) if part("compression") else None,
              "midnight_silent_s": midnight_latency(data, a.runs, 0) if part("midnight") else [],
              "midnight_busy_s": midnight_latency(data, a.runs, 5000) if part("midnight") else []}
    shutil.rmtree(out, ignore_errors=True)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "rotate.json").write_text(json.dumps(result, indent=2))
    print(f"machine: {result['machine']}; input {a.size} per format; median of {a.runs} runs\n")
    print("| tool | input | MB/s | x cat | M lines/s | peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|")
    for r in result["throughput"]:
        print(f"| {r['tool']} | {r['input']} | {r['MB/s']:.0f} | {r['x cat']:.2f} | "
              f"{r['Mlines/s']:.2f} | {r['peak RSS MiB']:.1f} |")
    c = result["compression"]
    if c:
        print(f"\nraw while gzipping an archive of the same size: {c['MB/s while gzipping']:.0f} MB/s "
              f"vs {c['MB/s alone']:.0f} MB/s alone ({c['ratio']:.2f}x, median of per-round ratios)")
    for key in ("midnight_silent_s", "midnight_busy_s"):
        v = result[key]
        if not v:
            continue
        print(f"{key}: median {statistics.median(v) * 1000:.1f} ms, max {max(v) * 1000:.1f} ms after midnight")


if __name__ == "__main__":
    main()
