"""A second process that turns blocks of grep's output into printed rows, beside this one.

A broad query (``cellsrun logs -q upload`` over days of archives: hundreds of thousands of
rows) is bound by the ~3 µs of Python each printed row costs; grep finds them in a fraction of
that. So once a query has printed ROWS_BEFORE rows through the printers' fast path, the reader
forks one worker and hands it every other block of grep's output: the worker splits the block,
makes the rows of the lines the fast path takes, and sends them back; meanwhile this process
does the same with the next block. Blocks are printed in their order, so the output is the same
bytes (a test holds it to the one-process path).

- Only the fast path's work crosses: a line the fast path leaves (no time of its own, odd
  shape, a second search term missing) comes back as its index in the block, and is read here
  with its context, as without the worker.
- Memory stays bounded: one block (up to ~1 MiB) out and one back at a time, through pipes.
- The worker is forked (it has the printer's functions as they are: nothing is pickled), keeps
  only its two pipes (so no pipe to grep is held open), ignores Ctrl-C, and exits when this
  process closes its pipe or goes away. If it fails, this process makes the rows itself.
- ``CELLSRUN_WORKERS=0`` turns it off.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import struct

from cellsrun.fifo import raise_pipe_size

ROWS_BEFORE = 20_000  # fast rows printed before a worker pays for itself (a fork is a few ms)
_LEN = struct.Struct("<Q")


def enabled() -> bool:
    """Whether a worker may be used (``CELLSRUN_WORKERS=0``: never)."""
    return os.environ.get("CELLSRUN_WORKERS", "1") != "0"


def make_rows(lines, quick, check):
    """The fast path over ``lines`` (the matching lines of one block): ``(items, tail)``.
    ``items``: in order, a str (the rows of consecutive lines the fast path took, joined) or
    ``(index, last)`` for a line it left (``last``: the latest line it took before that one
    since the previous item, or None); ``tail``: the latest line it took after the last item,
    or None. ``check(line)``: whether the full text matches (the fast path is only for those)."""
    items, run, last = [], [], None
    for i, line in enumerate(lines):
        if check is None or check(line.lower()):
            text = quick(line)
            if text is not None:
                run.append(text)
                last = line
                continue
        if run:
            items.append("".join(run))
            run = []
        items.append((i, last))
        last = None
    if run:
        items.append("".join(run))
    return items, last


class RowWorker:
    """The forked worker (see the module's docstring). ``lines_of(data)``: the lines of a block;
    ``quick`` and ``check``: as :func:`make_rows` takes them."""

    def __init__(self, lines_of, quick, check):
        fds = []
        try:
            child_in, parent_out = os.pipe()  # blocks, to the worker
            fds += [child_in, parent_out]
            parent_in, child_out = os.pipe()  # their rows, back
            fds += [parent_in, child_out]
            for fd in (parent_out, child_out):
                raise_pipe_size(fd)  # a block (up to ~1 MiB) in one write, not 16
            pid = os.fork()
        except OSError:  # no pipe, no fork (a process limit): nothing left open
            for fd in fds:
                os.close(fd)
            raise
        if pid == 0:  # the worker: never returns
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                _keep_only(child_in, child_out)
                _serve(child_in, child_out, lines_of, quick, check)
                code = 0
            finally:
                os._exit(code)
        os.close(child_in)
        os.close(child_out)
        self.pid = pid
        self.out, self.back = parent_out, parent_in

    def send(self, data: bytes) -> None:
        _write_msg(self.out, data)

    def ready(self) -> bool:
        """Whether the rows of the block sent last are there to take (or the worker is gone)."""
        return bool(select.select([self.back], [], [], 0)[0])

    def take(self):
        """The ``(items, tail)`` of the block sent last; raises OSError (EOFError included) when
        the worker is gone."""
        msg = _read_msg(self.back)
        if msg is None:
            raise EOFError("the row worker ended")
        return marshal.loads(msg)

    def close(self) -> None:
        for fd in (self.out, self.back):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _serve(inp: int, out: int, lines_of, quick, check) -> None:
    while True:
        data = _read_msg(inp)
        if data is None:
            return  # the reader is done (or gone)
        _write_msg(out, marshal.dumps(make_rows(lines_of(data), quick, check)))


def _keep_only(*fds: int) -> None:
    """Close every descriptor above stderr but ``fds``: a pipe to grep held open here would
    keep grep from ever seeing the end of its input."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in fds:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory listing's own descriptor, already gone


def _write_msg(fd: int, data: bytes) -> None:
    view = memoryview(_LEN.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_msg(fd: int) -> bytes | None:
    head = _read_exactly(fd, _LEN.size)
    if head is None:
        return None
    body = _read_exactly(fd, _LEN.unpack(head)[0])
    if body is None:
        raise EOFError("a message cut short")
    return body


def _read_exactly(fd: int, n: int) -> bytes | None:
    parts, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            if got:
                raise EOFError("a message cut short")
            return None
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)
