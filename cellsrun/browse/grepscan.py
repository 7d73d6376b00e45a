"""GNU grep as the full-text prefilter for archives, where it is installed.

Python cannot case-fold and search bytes faster than ~0.6 GB/s; grep does ~1.6 GB/s. So for
an archive, `grep -F -i` finds the candidate lines (on the other core) and cellsrun parses only
those. grep runs with ``LC_ALL=C`` (ASCII case folding, as the Python path does), from an argv
list — no shell. Set CELLSRUN_GREP=0 to use the pure-Python path.

grep never sees a line longer than :data:`lines.MAX_LINE`, so its memory stays bounded and it
sees exactly the lines the Python path sees (over-long lines cut into pieces):

- a plain archive is given to grep only when its lines all fit (the caller checks with
  :func:`lines.fits`, a few small reads per MiB; a file with an over-long line is read by the
  Python path, which is then faster than grep). grep reads the file itself, through the
  descriptor cellsrun opened (no path is opened twice), with ``-b``; the lines before a match,
  needed only for a line without a time of its own, are read back at the match's offset;
- a ``.gz`` archive: a thread of cellsrun (the feeder) decompresses it (zlib releases the GIL;
  about twice gzip(1)'s speed, and no gzip needed), cuts the stream (:func:`lines.cut_stream`)
  and writes it into a pipe to grep, which adds ``-B`` lines of context. (A forked feeder, free
  of the GIL, measured the same.) A damaged ``.gz`` ends the stream; :meth:`GrepJob.lines` then
  raises :class:`Unreadable` after the matches before the damage.
  (Over pieces of 1 MiB, ``-B`` makes grep ~3x slower than on short lines — it moves its kept
  context at every read from the pipe — but time stays linear and memory bounded.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections import deque

from cellsrun.browse.files import Unreadable, gunzip
from cellsrun.browse.lines import MAX_LINE, cut_stream

CONTEXT = 8
_OUT_LINE = MAX_LINE + 32  # a line of grep's output: the line and its "<offset>:" prefix


def available() -> str | None:
    """The grep to use, or None when it is missing or disabled (CELLSRUN_GREP=0)."""
    if os.environ.get("CELLSRUN_GREP", "1") == "0":
        return None
    return shutil.which("grep")


_MATCH = re.compile(rb"^\d+:(.*)$", re.M)  # grep -b: "<offset>:" a match, "<offset>-" context
_DIRECT = re.compile(r"^([0-9]+):(.*)", re.M)  # a plain archive's grep -b output, decoded
_DIRECT_LINE = re.compile(r"^[0-9]+:(.*)", re.M)


class GrepJob:
    """grep over one open archive ``f`` (which the job then owns), started at once (so it can
    run ahead on another core while the file before it is being parsed) and read with
    :meth:`lines`. A plain ``f`` must hold no line over MAX_LINE (see :func:`lines.fits`)."""

    def __init__(self, grep: str, f, compressed: bool, needle: str, ignore_case: bool):
        self.f = f
        self.feeder = None  # the thread feeding a .gz archive to grep
        self.error = None  # why the feeder stopped early, if it did
        self.closed = False
        argv = [grep, "-F", "-a", "-b", "-e", needle]
        if ignore_case:
            argv.insert(2, "-i")
        env = dict(os.environ, LC_ALL="C")
        self.direct = not compressed
        from cellsrun.fifo import raise_pipe_size
        if self.direct:
            self.proc = subprocess.Popen(argv, stdin=f.fileno(), stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env)
            raise_pipe_size(self.proc.stdout.fileno())
            return
        argv[1:1] = [f"-B{CONTEXT}", "--no-group-separator"]
        r, w = os.pipe()
        try:
            raise_pipe_size(w)
            self.proc = subprocess.Popen(argv, stdin=r, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=env)
        except BaseException:
            os.close(w)
            raise
        finally:
            os.close(r)
        self.feeder = threading.Thread(target=self._feed, args=(w,), daemon=True)
        self.feeder.start()

    def _feed(self, w: int) -> None:
        """(the feeder thread) The cut, decompressed archive into grep's stdin ``w``; closing
        it ends grep's input."""
        def write(data) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
        try:
            cut_stream(gunzip(self.f), write)
        except BrokenPipeError:
            pass  # grep is gone: the reader stopped early
        except (OSError, Unreadable) as e:
            self.error = e
        finally:
            os.close(w)

    def blocks(self):
        """Yield grep's output a block at a time, as ``(data, context)``: ``data`` whole lines
        (bytes), ``context`` what :meth:`before` needs for the lines of that block (kept by the
        caller for as long as it may ask). Pass a block to :func:`block_lines` for its lines.
        At the end, raises :class:`Unreadable` if the file could not be read to its end. The
        caller closes the job when it no longer needs :meth:`before` (after the last block)."""
        # Earlier output, newest last, for context that began in an earlier block (a .gz, read
        # with -B): the last CONTEXT lines of a block that has more, else whole blocks.
        earlier = deque()
        for data, end in _output(self.proc.stdout):
            data = data[:end]
            yield data, (None if self.direct else tuple(earlier))
            if not self.direct:
                last = _last_lines(data, end, CONTEXT)
                if len(last) < end:
                    earlier.clear()
                earlier.append(last)
                if len(earlier) > CONTEXT:
                    earlier.popleft()
        self._finish()

    def lines(self):
        """Yield (line, where) for each line of the file that contains the needle, in order.
        ``line`` (a str, decoded with errors replaced) has no newline; ``self.before(where)``
        gives up to CONTEXT lines preceding it, nearest first (only needed for a line without a
        time of its own, so only computed then). At the end, raises :class:`Unreadable` if the
        file could not be read to its end. The job is closed when the lines end."""
        try:
            for data, context in self.blocks():
                yield from block_lines(data, self.direct, context)
        finally:
            self.close()

    def before(self, where):
        """The lines before the one :meth:`lines` gave with ``where``, nearest first."""
        if self.direct:
            return _read_back(self.f.fileno(), int(where))()
        data, start, earlier = where
        return _before(data, start, earlier)()

    def _finish(self) -> None:
        """After grep's output ended: raise what went wrong, if anything did."""
        err = self.proc.stderr.read()
        if self.feeder is not None:
            self.feeder.join()  # done: grep read its input to the end
        if self.error is not None:
            raise self.error
        if self.proc.wait() not in (0, 1):  # 1: no match
            text = err.decode("utf-8", "replace").strip().splitlines()
            raise Unreadable(f"grep failed ({text[-1] if text else f'exit {self.proc.returncode}'})")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc.wait()
        if self.feeder is not None:
            self.feeder.join()  # its next write fails now that grep is gone
        self.f.close()


def block_lines(data: bytes, direct: bool, context=None, where: bool = True) -> list:
    """The matching lines of one block of grep's output (see :meth:`GrepJob.blocks`), in
    order: ``(line, where)`` pairs for :meth:`GrepJob.before`, or with ``where=False`` the
    lines alone. A plain archive's block is decoded at once: the same text as line by line
    (a newline never belongs to a multi-byte character, so errors are replaced alike)."""
    if direct:  # "<offset>:line"; a line without that prefix is a piece of a line that grew
        text = data.decode("utf-8", "replace")
        if not where:
            return _DIRECT_LINE.findall(text)
        return [(line, offset) for offset, line in _DIRECT.findall(text)]
    if not where:
        return [m.group(1).decode("utf-8", "replace") for m in _MATCH.finditer(data)]
    return [(m.group(1).decode("utf-8", "replace"), (data, m.start(), context)) for m in _MATCH.finditer(data)]


def _read_back(fd: int, offset: int):
    """The lines before ``offset`` (a line start) in the file, nearest first, read backwards
    64 KiB at a time as they are asked for (usually only the first is)."""
    def lines():
        pos = offset - 1  # the newline that ends the line before: not part of it
        rest = b""  # the end of a line whose start lies before ``pos``
        found = 0
        while pos > 0:
            lo = max(0, pos - (1 << 16))
            data = os.pread(fd, pos - lo, lo)
            if len(data) < pos - lo:
                return  # the file shrank: no context
            parts = data.split(b"\n")
            parts[-1] += rest
            for line in reversed(parts[1:]):  # each starts after a newline: whole
                yield line
                found += 1
                if found == CONTEXT:
                    return
            rest, pos = parts[0], lo
            if len(rest) > MAX_LINE:
                return  # longer than the check allows: the file changed
        if pos == 0:
            yield rest  # the file's first line
    return lines


def _output(stream):
    """grep's output as (data, end): ``data[:end]`` whole lines. The line under way is carried
    to the next read; one longer than _OUT_LINE (only a file changed under grep can make one)
    is cut, so memory stays bounded."""
    carry = b""
    while True:
        data = stream.read1(1 << 18)
        if not data:
            return
        if carry:
            data = carry + data
        end = data.rfind(b"\n") + 1
        if not end and len(data) > _OUT_LINE:
            data, end = data + b"\n", len(data) + 1
        carry = data[end:]
        if end:
            yield data, end


def _last_lines(data: bytes, stop: int, n: int) -> bytes:
    """The last ``n`` lines of ``data[:stop]`` (which ends with a newline), or all of it."""
    end = stop - 1
    for _ in range(n):
        end = data.rfind(b"\n", 0, end) if end > 0 else -1
        if end < 0:
            return data[:stop]
    return data[end + 1:stop]


def _before(chunk: bytes, start: int, earlier):
    """Up to CONTEXT lines of grep's output before the one at ``start`` in ``chunk``, nearest
    first, without their "<offset>-" prefix; ``earlier``: output before ``chunk``, newest last."""
    def lines():
        out = []
        for text, end in ((chunk, start - 1), *((t, len(t) - 1) for t in reversed(earlier))):
            while end > 0 and len(out) < CONTEXT:
                begin = text.rfind(b"\n", 0, end) + 1
                out.append(text[begin:end].lstrip(b"0123456789")[1:])
                end = begin - 1
            if len(out) == CONTEXT:
                break
        return out
    return lines
