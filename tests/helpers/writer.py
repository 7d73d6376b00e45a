"""Test writer: prints numbered lines ``seq=N t=<epoch> <padding>END`` to stdout or a FIFO.

--count N     lines to write (default: until TERM)
--rate R      lines per second (0: as fast as possible)
--size B      approximate bytes per line (default 160)
--fifo PATH   open PATH for writing instead of using stdout
--start N     first sequence number
--state FILE  write the next sequence number here on exit (to resume in a new process)
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
a = p.parse_args()

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
        line = b"seq=%d t=%.6f %sEND\n" % (seq, time.time(), pad)
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
