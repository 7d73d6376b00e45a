"""Benchmark shipping (not a test): rsyslog shipper -> collector, and `cellsrun logs` over hosts.

    python tests/bench/bench_ship.py [--runs 3] [--lines 300000] [--host-mb 105] [--only ...]

- throughput: --lines Cells-like JSON lines (~190 B) appended at once to a cells.out that a
  private rsyslogd (the `cellsrun config --rsyslog-ship` snippet) tails and forwards to a
  private collector (`--rsyslog-collect`) on loopback, TCP and RELP: lines per second from
  the append to the last line written by the collector.
- lag: lines written at 2,000 and 20,000 lines/s for 10 s, each holding the time it was
  written; the collector's file is read as it grows and each line's arrival time noted:
  median and p99 of arrival - written.
- browse: three hosts' collector directories (3 days each, --host-mb per host) searched with
  `cellsrun logs --dir 'root/*' -q NEEDLE` against `grep -F -i -r NEEDLE root`, and the .gz
  archives against `zgrep -F -i`; both sides write to a file.
Private rsyslogd instances only (own config, pid file, work dir, loopback ports); run under
the machine's test lock. Medians of --runs rounds.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from gen_lines import write_day  # noqa: E402

CELLSRUN = [sys.executable, "-m", "cellsrun"]
ENV = dict(os.environ, TZ="UTC", PYTHONPATH=str(REPO))
RSYSLOGD = "/usr/sbin/rsyslogd"
OUT = Path(tempfile.gettempdir()) / "cellsrun-bench-ship.out"


# -- private rsyslogd instances --------------------------------------------------------------

class Instance:
    def __init__(self, root: Path, name: str, *config: str, hostname: str = ""):
        self.dir = root / name
        (self.dir / "rsyslog.d").mkdir(parents=True)
        (self.dir / "work").mkdir()
        self.conf = self.dir / "rsyslog.conf"
        self.pid = self.dir / "pid"
        host = f' localHostname="{hostname}"' if hostname else ""
        self.conf.write_text(f'global(workDirectory="{self.dir / "work"}" processInternalMessages="on"{host})\n'
                             f'$IncludeConfig {self.dir / "rsyslog.d"}/*.conf\n')
        r = subprocess.run(CELLSRUN + ["config", *config, "--rsyslog-conf", str(self.conf)],
                           capture_output=True, env=ENV, check=True)
        (self.dir / "rsyslog.d" / "cells.conf").write_bytes(r.stdout)

    def start(self) -> None:
        subprocess.run([RSYSLOGD, "-f", str(self.conf), "-i", str(self.pid)], check=True, env=ENV)
        _until(self.pid.exists, 10, f"{self.dir.name} to start")

    def stop(self) -> None:
        if self.pid.exists():
            pid = int(self.pid.read_text())
            os.kill(pid, signal.SIGTERM)
            _until(lambda: not self.pid.exists(), 30, f"{self.dir.name} to stop")


def _until(pred, timeout: float, what: str, step: float = 0.005):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(step)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pair:
    """A shipper tailing ``logs/cells.out`` and a collector, for one transport."""

    def __init__(self, root: Path, transport: str):
        self.port = port = _port()
        relp = ["--relp"] if transport == "relp" else []
        self.logs = root / "logs"
        self.logs.mkdir(parents=True)
        self.live = self.logs / "cells.out"
        self.live.write_bytes(b"")
        self.collected = root / "collected"
        self.collector = Instance(root, "collector", "--rsyslog-collect", "--listen", f"127.0.0.1:{port}",
                                  *relp, "--dir", str(self.collected))
        self.shipper = Instance(root, "shipper", "--rsyslog-ship", "--to", f"127.0.0.1:{port}", *relp,
                                "--dir", str(self.logs), hostname="bench")

    def __enter__(self):
        """Both running, connected, and a first line through: what is measured after is the
        steady state (not the start, nor a first connect that came before the collector
        listened: rsyslog retries it only after action.resumeInterval)."""
        self.collector.start()
        self.shipper.start()
        with open(self.live, "ab") as f:
            f.write(_json_line(-1, 0.0))
        _until(lambda: self.arrived().exists() and _count(self.arrived()) >= 1, 30, "the first line through")
        return self

    def __exit__(self, *exc):
        self.shipper.stop()
        self.collector.stop()

    def arrived(self) -> Path:
        files = sorted((self.collected / "bench").glob("cells.out.*")) if (self.collected / "bench").exists() else []
        return files[-1] if files else self.collected / "bench" / "none"


def throughput(root: Path, transport: str, n: int) -> float:
    block = b"".join(_json_line(i, 0.0) for i in range(n))
    with Pair(root, transport) as p:
        t0 = time.perf_counter()
        with open(p.live, "ab") as f:
            f.write(block)
        _until(lambda: _count(p.arrived()) >= n + 1, 600, "all lines at the collector", 0.02)
        return n / (time.perf_counter() - t0)


def lag(root: Path, transport: str, rate: int, secs: float) -> tuple[float, float, int]:
    """(median, p99) lag in ms, and the lines measured."""
    with Pair(root, transport) as p:
        arrivals: dict[int, float] = {}
        sent: dict[int, float] = {}
        stop = threading.Event()
        reader = threading.Thread(target=_watch, args=(p, arrivals, stop), daemon=True)
        reader.start()
        with open(p.live, "ab", buffering=0) as f:
            t0 = time.time()
            i = 0
            while time.time() < t0 + secs:
                due = int((time.time() - t0) * rate)
                lines = []
                while i < due:
                    now = time.time()
                    sent[i] = now
                    lines.append(_json_line(i, now))
                    i += 1
                if lines:
                    f.write(b"".join(lines))  # a millisecond's lines at once, as a busy logger does
                time.sleep(0.0005)
        _until(lambda: len(arrivals) >= i, 120, "all lines at the collector", 0.02)
        stop.set()
        reader.join()
    lags = sorted((arrivals[k] - sent[k]) * 1000 for k in sent)
    return statistics.median(lags), lags[int(len(lags) * 0.99) - 1], len(lags)


def _watch(p: Pair, arrivals: dict, stop: threading.Event) -> None:
    """Read the collector's file as it grows; note when each line (by its number) arrived."""
    f, rest = None, b""
    while not stop.is_set():
        if f is None:
            if not p.arrived().exists():
                time.sleep(0.0005)
                continue
            f = open(p.arrived(), "rb")
        data = f.read()
        if not data:
            time.sleep(0.0005)
            continue
        now = time.time()
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        for line in lines:
            k = line.find(b'"n":')
            n = int(line[k + 4:line.index(b",", k)])
            if n >= 0:  # not the first line, sent before the measure
                arrivals[n] = now
    if f:
        f.close()


def _json_line(i: int, t: float) -> bytes:
    return (b'{"level":"info","ts":"2026-11-28T10:00:00.000Z","logger":"pydio.rest.frontend",'
            b'"msg":"Request served","n":%d,"t":%.6f,"RemoteAddress":"10.0.3.17","UserName":"jenny"}\n' % (i, t))


def _count(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


# -- cellsrun logs over three hosts ------------------------------------------------------------

def hosts_data(root: Path, host_mb: int) -> tuple[Path, Path]:
    """root/plain/<host>/cells.out.<day> and root/gz/<host>/cells.out.<day>.gz (cached)."""
    lines_per_mb = 1e6 / 150
    plain, gz = root / "plain", root / "gz"
    for h, host in enumerate(("node-a", "node-b", "node-c")):
        for d in (plain / host, gz / host):
            d.mkdir(parents=True, exist_ok=True)
        for i, day in enumerate(("2026-11-24", "2026-11-25", "2026-11-26")):
            path = write_day(str(plain / host / f"cells.out.{day}"), "console" if h != 1 else "json",
                             int(host_mb / 3 * lines_per_mb), day, seed=10 * h + i)
            target = gz / host / f"cells.out.{day}.gz"
            if not target.exists():
                subprocess.run(f"gzip -c {path} > {target}", shell=True, check=True)
    return plain, gz


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    with open(OUT, "wb") as out:
        r = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, env=ENV)
    if r.returncode not in (0, 1):
        raise SystemExit(f"{argv[:4]} failed: {r.stderr.decode()}")
    return time.perf_counter() - t0


def browse(root: Path, host_mb: int, runs: int) -> list[tuple[str, float, float, float, str]]:
    plain, gz = hosts_data(root, host_mb)
    gz_files = sorted(str(p) for p in gz.rglob("*.gz"))
    cases = {
        "-q selective (an IP), plain": (["logs", "--dir", f"{plain}/*", "-q", "10.0.3.17"],
                                        ["grep", "-F", "-i", "-r", "10.0.3.17", str(plain)],
                                        "grep -F -i -r"),
        "-q selective (an IP), .gz": (["logs", "--dir", f"{gz}/*", "-q", "10.0.3.17"],
                                      ["zgrep", "-F", "-i", "10.0.3.17", *gz_files], "zgrep -F -i"),
    }
    out = []
    for name, (ours, theirs, label) in cases.items():
        mine, base, ratios = [], [], []
        for _ in range(runs):
            g = timed(theirs)
            c = timed(CELLSRUN + ours)
            mine.append(c)
            base.append(g)
            ratios.append(c / g)
        out.append((name, statistics.median(mine), statistics.median(base), statistics.median(ratios), label))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--host-mb", type=int, default=105)
    ap.add_argument("--lag-secs", type=float, default=10.0, help="seconds of writing per lag run")
    ap.add_argument("--only", choices=("throughput", "lag", "browse"))
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cellsrun-bench", "ship"))
    a = ap.parse_args()
    if not os.access(RSYSLOGD, os.X_OK) and a.only != "browse":
        raise SystemExit(f"{RSYSLOGD} is not installed (apt-get install rsyslog rsyslog-relp)")
    work = Path(tempfile.mkdtemp(prefix="cellsrun-bench-ship-"))
    run_no = iter(range(1_000_000))
    try:
        if a.only in (None, "throughput"):
            print(f"throughput, {a.lines} lines appended at once (medians of {a.runs} runs):")
            for transport in ("tcp", "relp"):
                rates = [throughput(work / f"t{next(run_no)}", transport, a.lines) for _ in range(a.runs)]
                print(f"  {transport.upper():4}  {statistics.median(rates):,.0f} lines/s  "
                      f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})")
        if a.only in (None, "lag"):
            print("lag from the write to cells.out to the line in the collector's file, ms:")
            for transport in ("tcp", "relp"):
                for rate in (2000, 20000):
                    got = [lag(work / f"l{next(run_no)}", transport, rate, a.lag_secs) for _ in range(a.runs)]
                    med = statistics.median(g[0] for g in got)
                    p99 = statistics.median(g[1] for g in got)
                    print(f"  {transport.upper():4} at {rate:>6,} lines/s: median {med:.1f}, p99 {p99:.1f} "
                          f"({got[0][2]} lines a run)")
        if a.only in (None, "browse"):
            rows = browse(Path(a.data), a.host_mb, a.runs)
            plain_mb = sum(p.stat().st_size for p in (Path(a.data) / "plain").rglob("cells.out.*")) / 1e6
            print(f"cellsrun logs over three hosts' directories ({plain_mb:.0f} MB plain, 3 days each):")
            print("| case | cellsrun logs s | baseline s | x baseline | baseline |")
            print("|---|---:|---:|---:|---|")
            for name, c, g, r, label in rows:
                print(f"| {name} | {c:.2f} | {g:.2f} | {r:.2f} | {label} |")
    finally:
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
