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
import re
import shutil
import subprocess

CONTEXT = 8


def available() -> tuple[str, str | None] | None:
    """(grep, gzip) paths, or None when grep is missing or disabled."""
    if os.environ.get("CELLSRUN_GREP", "1") == "0":
        return None
    grep = shutil.which("grep")
    return (grep, shutil.which("gzip")) if grep else None


_MATCH = re.compile(rb"^\d+:(.*)$", re.M)  # grep -b: "<offset>:" a match, "<offset>-" context


class GrepJob:
    """grep over one file, started at once (so it can run ahead on another core while the
    file before it is being parsed) and read with :meth:`lines`."""

    def __init__(self, tools: tuple[str, str | None], path: str, compressed: bool, needle: str,
                 ignore_case: bool):
        grep, gzip = tools
        self.path = path
        self.compressed = compressed
        argv = [grep, "-F", "-a", "-b", "-e", needle]
        if ignore_case:
            argv.insert(2, "-i")
        env = dict(os.environ, LC_ALL="C")
        self.feeder = None
        if compressed:
            if gzip is None:
                raise FileNotFoundError("gzip")
            argv[1:1] = [f"-B{CONTEXT}", "--no-group-separator"]
            self.feeder = subprocess.Popen([gzip, "-cd", "--", path], stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL)
            self.proc = subprocess.Popen(argv, stdin=self.feeder.stdout, stdout=subprocess.PIPE, env=env)
            self.feeder.stdout.close()
        else:
            self.proc = subprocess.Popen(argv + ["--", path], stdout=subprocess.PIPE, env=env)

    def lines(self):
        """Yield (line, before) for each line of the file that contains the needle, in order.
        ``line`` has no newline; ``before()`` returns up to CONTEXT lines preceding it, nearest
        first (only needed for a line without a time of its own, so only computed then: read
        back from a plain file at the match's offset, or taken from grep's -B context for .gz)."""
        try:
            if self.compressed:
                yield from _with_context(self.proc.stdout)
            else:
                for raw in self.proc.stdout:
                    offset, _, line = raw.rstrip(b"\n").partition(b":")
                    yield line, _read_back(self.path, int(offset))
        finally:
            self.close()

    def close(self) -> None:
        for p in (self.proc, self.feeder):
            if p is not None and p.poll() is None:
                p.kill()
        self.proc.stdout.close()
        self.proc.wait()
        if self.feeder is not None:
            self.feeder.wait()


def _read_back(path: str, offset: int):
    def lines():
        with open(path, "rb") as f:
            start = max(0, offset - (1 << 16))
            f.seek(start)
            data = f.read(offset - start)
        return data.split(b"\n")[-CONTEXT - 1:-1][::-1] if data else []
    return lines


def _with_context(stream):
    carry = b""
    while True:
        data = stream.read1(1 << 20)
        if not data:
            break
        data = carry + data if carry else data
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        for m in _MATCH.finditer(data, 0, cut):
            yield m.group(1), _before(data, m.start())
def _before(chunk: bytes, start: int):
    def lines():
        out, end = [], start - 1
        while end > 0 and len(out) < CONTEXT:
            begin = chunk.rfind(b"\n", 0, end) + 1
            out.append(chunk[begin:end].lstrip(b"0123456789")[1:])
            end = begin - 1
        return out
    return lines
