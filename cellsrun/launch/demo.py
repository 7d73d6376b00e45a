"""``cellsrun demo``: a stand-in for Pydio Cells that writes realistic log lines.

Console lines (``TIME<TAB>LEVEL<TAB>LOGGER<TAB>MESSAGE<TAB>{fields}``) by default, JSON
lines when the mode is ``production`` (``--log`` or ``PYDIO_LOGS_LEVEL``), as Cells
does. Every entry carries an increasing ``MsgId`` so that a lost line can be found
end to end; now and then an error, and once in a while a multi-line Go-style panic
written straight to stderr (as the Go runtime does, bypassing the logger). Like
Cells it forks a couple of child processes. TERM, INT and QUIT end it cleanly.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import random
import signal
import sys
import time

from cellsrun.defaults import PRODUCTION

LOGGERS = ["pydio.grpc.auth", "pydio.rest.frontend", "pydio.grpc.data.sync", "pydio.rest.jobs",
           "pydio.gateway.proxy", "pydio.grpc.tasks", "pydio.grpc.mailer", "pydio.web.statics"]
USERS = ["admin", "jenny", "marc", "alice", "li"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", "cells-client/4.2", "Cells Sync/0.9.4"]
MESSAGES = ["Login", "Listing nodes", "Upload finished", "Request served", "Updating node meta",
            "Run Job flush-mailer-queue on timer event", "Set task status"]
STOPPING = "Stopping: signal received, last entry"
PANIC = ["panic: runtime error: invalid memory address or nil pointer dereference",
         "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1b2c3d4]", "",
         "goroutine 1337 [running]:",
         "github.com/pydio/cells/v4/common/nodes.(*Handler).ReadNode(0x0, {0x3a1f2c0, 0xc0004})",
         "\t/go/src/github.com/pydio/cells/common/nodes/handler.go:212 +0x3c"]


class Demo:
    """Writes entries to ``fd`` at ``rate`` per second; ``json_mode`` for production.

    ``now``: the clock (seconds since the epoch); ``rnd``: a random.Random.
    """

    def __init__(self, fd: int, json_mode: bool, rate: float, now=time.time, rnd=None,
                 id_key: str = "MsgId"):
        self.fd = fd
        self.json_mode = json_mode
        self.rate = rate
        self.now = now
        self.rnd = rnd or random.Random()
        self.msg_id = 0
        self.id_key = id_key  # helpers number their lines apart, so MsgId runs 1, 2, 3... alone
        self.stop = False

    def entry(self, t: float, message: str | None = None) -> bytes:
        """The next entry as one line (``message``: an info entry with that text)."""
        r = self.rnd
        self.msg_id += 1
        level = r.choices(["info", "debug", "warn", "error"], [70, 20, 7, 3])[0] if message is None else "info"
        logger = r.choice(LOGGERS)
        fields = {"RemoteAddress": f"10.0.{r.randrange(4)}.{r.randrange(1, 60)}",
                  "UserName": r.choice(USERS), "UserAgent": r.choice(AGENTS),
                  "SpanUuid": "%08x-%04x" % (r.getrandbits(32), r.getrandbits(16)),
                  self.id_key: str(self.msg_id)}
        msg = r.choice(MESSAGES) if level != "error" else "cannot reach peer: context deadline exceeded"
        msg = message or msg
        stamp = _dt.datetime.fromtimestamp(t).astimezone()
        if self.json_mode:
            obj = {"level": level, "ts": stamp.isoformat(timespec="seconds"), "logger": logger, "msg": msg}
            obj.update(fields)
            return (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        ts = stamp.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return f"{ts}\t{level.upper()}\t{logger}\t{msg}\t{json.dumps(fields)}\n".encode()

    def panic(self) -> bytes:
        return ("\n".join(PANIC) + "\n").encode()

    def run(self, count: int = 0, panic_every: int = 5000) -> None:
        """Write until stopped (or ``count`` entries); each line is one write(2). Stopped by a
        signal, it writes one last entry, as Cells logs its shutdown: the proof, end to end,
        that what a service writes after its TERM still reaches the log."""
        began = time.monotonic()
        written = 0
        while not self.stop and (count == 0 or written < count):
            self._write(self.entry(self.now()))
            written += 1
            if panic_every and written % panic_every == 0:
                self._write(self.panic())
            if self.rate:
                delay = began + written / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        if self.stop:
            self._write(self.entry(self.now(), STOPPING))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]


def _child(name: str, fd: int, json_mode: bool, parent: int) -> None:
    """A forked helper process (Cells runs several): a line now and then until told to stop,
    or until its parent is gone (killed with SIGKILL, it could not tell us)."""
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, lambda *a: stop.append(1))
    demo = Demo(fd, json_mode, 0.5, id_key=f"{name}Seq")
    ticks = 0
    while not stop and os.getppid() == parent:
        if ticks % 8 == 0:
            demo._write(demo.entry(time.time()))
        ticks += 1
        time.sleep(0.25)
    os._exit(0)


def run_demo(log: str | None, rate: float, count: int = 0, children: int = 2) -> int:
    mode = log or os.environ.get("PYDIO_LOGS_LEVEL", "info")
    json_mode = mode == PRODUCTION
    pids = []
    me = os.getpid()
    for i in range(children):
        pid = os.fork()
        if pid == 0:
            _child(f"child{i}", 1, json_mode, me)
        pids.append(pid)
    demo = Demo(1, json_mode, rate)

    def on_signal(signum, frame):
        demo.stop = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, on_signal)
    try:
        demo.run(count)
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass
    return 0
