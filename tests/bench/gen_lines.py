"""Cells-like log lines for benchmarks: console or JSON, about 160 bytes each, deterministic."""

from __future__ import annotations

import os
import random

LOGGERS = ["pydio.grpc.auth", "pydio.rest.frontend", "pydio.grpc.data.sync", "pydio.rest.jobs",
           "pydio.gateway.proxy", "pydio.grpc.tasks", "pydio.web.statics", "pydio.grpc.mailer"]
USERS = ["jenny", "admin", "bob", "alice", "marc", "li"]
MSGS = ["Request served", "Login", "Listing nodes", "Upload finished", "Cannot reach peer",
        "Run Job flush-mailer-queue", "Setting task in error status"]
LEVELS = ["info"] * 12 + ["debug"] * 4 + ["warn"] * 2 + ["error"]


def lines(fmt: str, n: int, day: str = "2026-11-27", seed: int = 1) -> list[bytes]:
    """``n`` distinct lines of one day in time order (json or console)."""
    return list(iter_lines(fmt, n, day, seed))


def iter_lines(fmt: str, n: int, day: str = "2026-11-27", seed: int = 1, span: int = 86400):
    """``n`` lines spread evenly over the first ``span`` seconds of ``day``."""
    rnd = random.Random(seed)
    for i in range(n):
        secs = i * span // n
        ts_ms = f"{day}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{rnd.randrange(1000):03d}"
        lg, user, msg, lvl = rnd.choice(LOGGERS), rnd.choice(USERS), rnd.choice(MSGS), rnd.choice(LEVELS)
        ip = f"10.0.{rnd.randrange(10)}.{rnd.randrange(1, 250)}"
        if fmt == "json":
            yield ('{"level":"%s","ts":"%s+00:00","logger":"%s","msg":"%s","RemoteAddress":"%s",'
                   '"UserName":"%s","MsgId":"%d"}\n' % (lvl, ts_ms[:19], lg, msg, ip, user, i)).encode()
        else:
            yield ('%sZ\t%s\t%s\t%s\t{"RemoteAddress": "%s", "UserName": "%s", "MsgId": "%d"}\n'
                   % (ts_ms, lvl.upper(), lg, msg, ip, user, i)).encode()


STRAYS = [b"panic: runtime error: invalid memory address or nil pointer dereference",
          b"[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a8f1e]",
          b"goroutine 1 [running]:", b"\tgithub.com/pydio/cells/v4/common/log.go:142 +0x1d",
          b"plain print from a plugin", b""]


def with_strays(block: bytes, every: int = 50) -> bytes:
    """``block``'s lines with one in ``every`` replaced by a stray non-JSON line (a Go panic,
    a stray print, a blank line): 2% by default."""
    out = block.split(b"\n")[:-1]
    for k, i in enumerate(range(every // 2, len(out), every)):
        out[i] = STRAYS[k % len(STRAYS)]
    return b"\n".join(out) + b"\n"


def write_day(path: str, fmt: str, n: int, day: str, seed: int = 1, span: int = 86400) -> str:
    """A day of ``n`` lines in time order at ``path`` (kept as a cache if it exists), over
    the day's first ``span`` seconds."""
    if os.path.exists(path):
        return path
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        batch = []
        for line in iter_lines(fmt, n, day, seed, span):
            batch.append(line)
            if len(batch) >= 10000:
                f.write(b"".join(batch))
                batch.clear()
        f.write(b"".join(batch))
    os.replace(tmp, path)
    return path


def make_file(path: str, fmt: str, size: int) -> str:
    """Write at least ``size`` bytes of lines to ``path`` once (kept as a cache). ``fmt``:
    console, json, or json-strays (json with 2% stray lines)."""
    if os.path.exists(path):
        return path
    block = b"".join(lines(fmt.split("-")[0], 20000))
    if fmt == "json-strays":
        block = with_strays(block)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        written = 0
        while written < size:
            f.write(block)
            written += len(block)
    os.replace(tmp, path)
    return path
