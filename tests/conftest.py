"""Shared helpers: run the real command, wait by polling, read what the rotator wrote."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HELPERS = Path(__file__).resolve().parent / "helpers"


def cellsrun_cmd(*args: str) -> list[str]:
    """The command line that runs this checkout's cellsrun."""
    return [sys.executable, "-m", "cellsrun", *args]


def child_env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run(*args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 60,
        cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(cellsrun_cmd(*args), input=input, capture_output=True,
                          env=env or child_env(), timeout=timeout, cwd=cwd)


def wait_for(predicate, timeout: float, what: str, show=lambda: ""):
    """Poll ``predicate`` until it returns a true value; fail with what was seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; seen: {show()}")
        time.sleep(0.02)


def read_file(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def log_files(directory: Path, name: str = "cells.out") -> list[Path]:
    """Archives oldest first, then the live file (what an operator would concatenate)."""
    from cellsrun.archive import ArchiveNames
    archives, _ = ArchiveNames(name).scan(str(directory))
    files = [directory / a.filename for a in archives]
    live = directory / name
    if live.exists():
        files.append(live)
    return files


def all_output(directory: Path, name: str = "cells.out") -> bytes:
    return b"".join(read_file(p) for p in log_files(directory, name))


def listing(directory: Path) -> str:
    try:
        return ", ".join(f"{p.name}:{p.lstat().st_size}" for p in sorted(Path(directory).iterdir()))
    except FileNotFoundError:
        return "(no directory)"


def check_sequence(data: bytes, expected: int | None = None) -> list[int]:
    """Every line is a whole writer line 'seq=<n> ...'; numbers run 0,1,2... once each, in order."""
    seqs = []
    for line in data.split(b"\n")[:-1]:
        assert line.startswith(b"seq="), f"broken line: {line[:80]!r}"
        num, _, rest = line[4:].partition(b" ")
        assert rest.endswith(b"END"), f"split line: {line[:80]!r}...{line[-40:]!r}"
        seqs.append(int(num))
    assert data.endswith(b"\n") or not data
    assert seqs == list(range(len(seqs))), _first_gap(seqs)
    if expected is not None:
        assert len(seqs) == expected, f"{len(seqs)} lines, expected {expected}"
    return seqs


def _first_gap(seqs):
    for i, s in enumerate(seqs):
        if s != i:
            return f"line {i} has seq {s} (lost, duplicated or reordered); around: {seqs[max(0, i-3):i+3]}"
    return "?"


def writer_cmd(*args: str) -> list[str]:
    """A test writer: numbered lines 'seq=N t=EPOCH ...END' (see helpers/writer.py)."""
    return [sys.executable, str(HELPERS / "writer.py"), *args]


class Rotate:
    """A running `cellsrun rotate`, its stderr kept in a file (killed at the end of the test
    if a failure left it running)."""

    running: list = []

    def __init__(self, tmp_path: Path, *args: str, env=None, stdin=subprocess.DEVNULL):
        self.err_path = tmp_path / f"rotate-{time.monotonic_ns()}.err"
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(cellsrun_cmd("rotate", *args), stdin=stdin,
                                     stderr=self.err, env=env or child_env())
        Rotate.running.append(self.proc)

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=20) -> int:
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        finally:
            self.err.close()
        return rc


@pytest.fixture(autouse=True)
def _no_rotator_left_behind():
    yield
    while Rotate.running:
        proc = Rotate.running.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
