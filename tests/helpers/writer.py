"""Test writer: prints numbered lines ``seq=N t=<epoch> <padding>END`` to stdout or a FIFO.

--count N     lines to write (default: until TERM)
--rate R      lines per second (0: as fast as possible)
--size B      approximate bytes per line (default 160)
--fifo PATH   open PATH for writing instead of using stdout
--start N     first sequence number
--state FILE  write the next sequence number here on exit (to resume in a new process)
--style S     plain (default): the line above; json: a Cells JSON line whose msg is that line;
              console: a Cells console line (TAB-separated, ANSI colours, a leading space
              every 7th line) ending in that line
--big-every N every Nth line is --big-size bytes long, newline included (default: never)
Each line is written with one write(2) call, as Go's zap does.
"""

import argparse
import os
import signal
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--count", type=int, default=0)
p.add_argument("--rate", type=float, default=0)
p.add_argument("--size", type=int, default=160)
p.add_argument("--fifo")
p.add_argument("--start", type=int, default=0)
p.add_argument("--state")
p.add_argument("--style", choices=("plain", "json", "console"), default="plain")
p.add_argument("--big-every", type=int, default=0)
p.add_argument("--big-size", type=int, default=1 << 20)
a = p.parse_args()


def make_line(seq: int, pad: bytes) -> bytes:
    body = b"seq=%d t=%.6f %sEND" % (seq, time.time(), pad)  # t: when the line was made
    if a.style == "json":
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)).encode() + b".%03dZ" % (now % 1 * 1000)
        return b'{"level":"info","ts":"%s","logger":"pydio.test","msg":"%s"}\n' % (stamp, body)
    if a.style == "console":
        lead = b" " if seq % 7 == 0 else b""
        return b"%s2026-11-27T10:00:00.000Z\t\x1b[34mINFO\x1b[0m\tpydio.test\t%s\n" % (lead, body)
    return body + b"\n"


stop = False


def on_term(signum, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
fd = os.open(a.fifo, os.O_WRONLY) if a.fifo else sys.stdout.fileno()
seq = a.start
began = time.monotonic()
pad = b"x" * max(0, a.size - 40)
try:
    while not stop and (a.count == 0 or seq < a.start + a.count):
        line = make_line(seq, pad)
        if a.big_every and seq % a.big_every == a.big_every - 1:
            line = make_line(seq, pad + b"y" * max(0, a.big_size - len(line)))
        view = memoryview(line)
        while view:  # a signal can interrupt a write to a full pipe after part of it
            view = view[os.write(fd, view):]
        seq += 1
        if a.rate:
            due = began + (seq - a.start) / a.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
finally:
    if a.state:
        with open(a.state, "w") as f:
            f.write(str(seq))
