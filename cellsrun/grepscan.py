"""GNU grep as the full-text prefilter for archives, where it is installed.

Python cannot case-fold and search bytes faster than ~0.6 GB/s; grep does ~1.6 GB/s. So
for an archive, `grep -F -i` (and `gzip -cd | grep` for .gz, as zgrep does, on the
second core) finds the candidate lines and cellsrun parses only those. A few lines of
context before each match (``-B``) give a non-log line the time of the entry before it.
grep runs with ``LC_ALL=C`` (ASCII case folding, as the Python path does), from an
argv list — no shell. Set CELLSRUN_GREP=0 to use the pure-Python path.
"""

from __future__ import annotations

import os
import shutil
import subprocess

CONTEXT = 8


def available() -> tuple[str, str | None] | None:
    """(grep, gzip) paths, or None when grep is missing or disabled."""
    if os.environ.get("CELLSRUN_GREP", "1") == "0":
        return None
    grep = shutil.which("grep")
    return (grep, shutil.which("gzip")) if grep else None


def candidate_lines(tools: tuple[str, str | None], path: str, compressed: bool, needle: str,
                    ignore_case: bool):
    """Yield (is_match, line) for the lines of ``path`` containing ``needle`` (is_match True)
    and up to CONTEXT lines before each (False), in file order. ``line`` has no newline."""
    grep, gzip = tools
    argv = [grep, "-F", "-a", "-b", f"-B{CONTEXT}", "--no-group-separator", "-e", needle]
    if ignore_case:
        argv.insert(2, "-i")
    env = dict(os.environ, LC_ALL="C")
    feeder = None
    if compressed:
        if gzip is None:
            raise FileNotFoundError("gzip")
        feeder = subprocess.Popen([gzip, "-cd", "--", path], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        proc = subprocess.Popen(argv, stdin=feeder.stdout, stdout=subprocess.PIPE, env=env)
        feeder.stdout.close()
    else:
        proc = subprocess.Popen(argv + ["--", path], stdout=subprocess.PIPE, env=env)
    try:
        for raw in proc.stdout:
            # "<offset>:<line>" for a match, "<offset>-<line>" for context
            i = 0
            while raw[i:i + 1].isdigit():
                i += 1
            yield raw[i:i + 1] == b":", raw[i + 1:].rstrip(b"\n")
    finally:
        for p in (proc, feeder):
            if p is not None and p.poll() is None:
                p.kill()
        proc.stdout.close()
        proc.wait()
        if feeder is not None:
            feeder.wait()
