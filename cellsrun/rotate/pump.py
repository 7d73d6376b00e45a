"""The read side of the rotator: input, signals, line framing and the main loop.

Two paths, chosen once:

- **raw from a pipe** (the default under supervisord): bytes go from the pipe to the
  file with ``splice(2)``, never through Python. Only at a rotation (and at the
  end) are bytes looked at: if the file does not end on a newline, the rest of
  the line is read and written to the old file first, so a line is never split.
- **json, --stamp, or input that is not a pipe**: chunks are read, cut after their last
  newline, checked by :class:`cellsrun.rotate.jsonguard.JsonGuard` (json) or stamped by
  :class:`cellsrun.rotate.stamp.Stamper` (--stamp), and written.
  A partial last line waits in memory for its end; the live file always ends on
  a line boundary, so a rotation can happen at once.

Lines longer than ``max_line`` are cut into pieces of that size in the framed path
(memory stays bounded); raw bytes never sit in memory, so there a long line is cut
only where a rotation falls inside it. Signals: TERM/INT finish the current line if its end is already on its
way, write everything read and return 0; HUP reopens the live file.

After a write, at most every CHECK_EVERY seconds (so at the first write after a pause,
and ten times a second while writing), the pump has the rotator check that
``cells.out`` is still where it was (an ``lstat``, nothing on the byte path) and the
lock that it is still held. What went into a deleted file before the check is carried
over by the rotator, so the check's delay costs no line.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import stat
import time

from cellsrun import defaults
from cellsrun.fifo import open_fifo, raise_pipe_size

CHUNK = 1 << 20
MAX_WAIT = 60.0       # re-check the wall clock at least this often (it can jump)
FINISH_GRACE = 1.0    # how long a rotation or stop waits for the rest of a started line
CHECK_EVERY = 0.1     # seconds between checks of the live file's path while writing


def open_input(path: str | None) -> tuple[int, bool]:
    """(fd, is_pipe) for ``--input PATH`` (see :func:`cellsrun.fifo.open_fifo`) or stdin."""
    fd = 0 if path is None else open_fifo(path)
    is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
    if is_pipe:
        raise_pipe_size(fd)
    return fd, is_pipe


class Signals:
    """TERM/INT/HUP as flags, and a file descriptor that becomes readable when one arrives
    (so a poll() wakes up at once)."""

    def __init__(self):
        self.stop = False
        self.hup = False
        self.rfd, self._wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def install(self) -> None:
        signal.set_wakeup_fd(self._wfd, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, signum, frame):
        self.stop = True

    def _on_hup(self, signum, frame):
        self.hup = True

    def drain(self) -> None:
        try:
            while os.read(self.rfd, 512):
                pass
        except BlockingIOError:
            pass


class Pump:
    """Moves input to a :class:`cellsrun.rotate.rotator.Rotator` until end of input or a stop signal.

    ``guard``: a :class:`cellsrun.rotate.jsonguard.JsonGuard` for ``--format json``, a
    :class:`cellsrun.rotate.stamp.Stamper` for ``--stamp``, else None.
    ``max_line``: bytes; longer lines are cut. ``lock``: the
    :class:`cellsrun.rotate.dirlock.DirLock` held, checked with the live file; if another
    rotator has taken it over, the pump stops as on TERM and sets :attr:`lock_lost`.
    """

    def __init__(self, in_fd: int, is_pipe: bool, rotator, clock, signals: Signals, *,
                 guard=None, max_line: int = defaults.MAX_LINE_BYTES, lock=None):
        self.fd = in_fd
        self.lock = lock
        self.lock_lost = False
        self._next_check = 0.0   # when the live path is checked again, after a write
        self.rotator = rotator
        self.clock = clock
        self.signals = signals
        self.max_line = max_line
        self.splice = is_pipe and guard is None
        self.framer = None
        if guard is not None:
            from cellsrun.rotate.framing import LineFramer
            self.framer = LineFramer(guard, rotator.write, clock.now, max_line=max_line, chunk=CHUNK)
        self._poll = select.poll()
        self._poll.register(in_fd, select.POLLIN)
        self._poll.register(signals.rfd, select.POLLIN)
        self._input_ready = False
        # A blocking fd (stdin) is polled before every read, so a read never blocks
        # past midnight or a signal. Our FIFO is non-blocking and read until empty.
        self._nonblocking = bool(fcntl.fcntl(in_fd, fcntl.F_GETFL) & os.O_NONBLOCK)

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> str:
        """Returns "eof" or "stopped"."""
        rot = self.rotator
        while True:
            now = self.clock.now()
            if rot.due(now):
                self.rotate_between_lines()
            if self.signals.stop:
                self.finish(stopping=True)
                return "stopped"
            if self.signals.hup:
                self.signals.hup = False
                rot.reopen()
            if not self._input_ready:
                self._wait()
                continue
            if self.splice:
                n = rot.splice_from(self.fd, CHUNK)
            elif self.framer is not None:
                n = self.framer.read_from(self.fd, now)  # now: before midnight, as checked above
            else:
                n = self._read_raw()
            if n and now >= self._next_check:
                self._check_paths(now)
            if n is None or not self._nonblocking:
                self._input_ready = False
            if n == 0:
                self.finish(stopping=False)
                return "eof"

    def _check_paths(self, now: float) -> None:
        self._next_check = now + CHECK_EVERY
        reopened = self.rotator.check_live_path()
        if self.lock is not None and not self.lock.check(quiet=reopened):
            self.lock_lost = True
            self.signals.stop = True

    def _wait(self) -> None:
        left = max(self.rotator.next_rotation - self.clock.now(), 0.0)
        # The kernel lets a poll() oversleep by 0.1% of its timeout (60 ms on 60 s), so a
        # long wait ends half a second early and the last stretch is slept precisely.
        timeout = min(left - 0.5, MAX_WAIT) if left > 1.0 else left
        events = self._poll.poll(timeout * 1000)  # rounded up to whole ms: never wakes too early
        for fd, _ in events:
            if fd == self.signals.rfd:
                self.signals.drain()
            else:
                self._input_ready = True

    def _read_raw(self) -> int | None:
        try:
            data = os.read(self.fd, CHUNK)
        except BlockingIOError:
            return None
        self.rotator.write(data)
        return len(data)

    # -- line boundaries -------------------------------------------------------------------

    def take(self, data: bytes) -> None:
        """Write bytes read outside the main loop."""
        if self.framer is not None:
            self.framer.feed(data)
        else:
            self.rotator.write(data)  # raw: nothing held back, rotation looks at the tail

    def _at_boundary(self) -> bool:
        if self.framer is not None:
            return not self.framer.pending
        return self.rotator.ends_with_newline()

    def _read_to_boundary(self, grace: float, first_line_only: bool) -> bytes:
        """Read and write input until the output ends on a line boundary, waiting up to
        ``grace`` seconds and ``max_line`` bytes for it. With ``first_line_only``, stop
        at the first newline and return the bytes read after it, unwritten."""
        deadline = time.monotonic() + grace
        budget = self.max_line
        while not self._at_boundary():
            left = deadline - time.monotonic()
            if left <= 0 or budget <= 0 or not self._poll_input(left):
                break
            try:
                data = os.read(self.fd, min(budget, 65536))
            except BlockingIOError:
                continue
            if not data:
                break
            budget -= len(data)
            nl = data.find(b"\n") + 1 if first_line_only else 0
            if nl:
                self.take(data[:nl])
                return data[nl:]
            self.take(data)
        return b""

    def _cut(self) -> None:
        """End the output on a newline now, whatever has or has not arrived."""
        if self.framer is not None:
            self.framer.cut()
        elif not self.rotator.ends_with_newline():
            self.rotator.write(b"\n")

    def _poll_input(self, timeout: float) -> bool:
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        return bool(p.poll(timeout * 1000))

    def rotate_between_lines(self) -> None:
        """Rotate on a line boundary: a line under way is finished in the old file (cut if
        it does not end within FINISH_GRACE or max_line); bytes after it go to the new file."""
        rest = self._read_to_boundary(FINISH_GRACE, first_line_only=True)
        self._cut()
        self.rotator.rotate()
        if rest:
            self.take(rest)

    def finish(self, stopping: bool) -> None:
        """End of input: complete the last line with a newline. A stop: first read the rest
        of a line under way (its end is usually in the pipe already). In raw mode a line
        whose end has not come is left open, so that the next start appends the end to it;
        in json mode what was read must be written, so it becomes a line of its own."""
        if stopping:
            self._read_to_boundary(FINISH_GRACE, first_line_only=False)
            if self.framer is not None:
                self._cut()
        else:
            self._cut()
        self.rotator.check_live_path()  # what went into a file deleted since the last check is carried
