"""Background work after a rotation: gzip the archive, then apply retention.

It runs in one thread at a lower CPU priority, so the write path never waits for
it. Compression is crash-safe::

    cells.out.D  ->  cells.out.D.gz.tmp (written, fsynced)  ->  rename to cells.out.D.gz
                 ->  fsync the directory  ->  unlink cells.out.D

and :meth:`Housekeeper.recover` (at start) deletes a leftover ``.gz.tmp`` and
redoes its archive, or removes a plain archive whose ``.gz`` was already renamed
into place. An archive is therefore always present, exactly once.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import zlib
from typing import Callable

from cellsrun.archive import GZ, TMP, ArchiveNames
from cellsrun.retention import apply_retention

BLOCK = 1 << 20


class Housekeeper:
    """Compresses archives and enforces retention in a background thread.

    ``compress``: "gzip" or "none". ``keep_days``/``max_total``: see
    :func:`cellsrun.retention.select_expired`. ``today``: returns the current local date.
    ``warn(text)``: reports a failure (the thread never dies of one).
    """

    def __init__(self, directory: str, names: ArchiveNames, *, compress: str = "gzip",
                 keep_days: int = 0, max_total: int = 0, level: int = 6,
                 today: Callable, warn: Callable[[str], None] = lambda text: None):
        self.directory = directory
        self.names = names
        self.compress = compress
        self.keep_days = keep_days
        self.max_total = max_total
        self.level = level
        self.today = today
        self.warn = warn
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def recover(self) -> list[str]:
        """Finish what a crash interrupted; returns the plain archives still to compress."""
        archives, temps = self.names.scan(self.directory)
        for temp in temps:  # an unfinished compression: its plain archive is still there
            os.unlink(os.path.join(self.directory, temp))
        present = {a.filename for a in archives}
        todo = []
        for archive in archives:
            if archive.compressed:
                continue
            if archive.filename + GZ in present:  # renamed into place, not yet unlinked
                os.unlink(archive.path(self.directory))
            else:
                todo.append(archive.filename)
        return todo if self.compress == "gzip" else []

    def start(self, pending: list[str] = ()) -> None:
        """Start the thread; ``pending`` archives are compressed first, then retention runs."""
        for filename in pending:
            self._queue.put(filename)
        self._queue.put(None)
        self._thread = threading.Thread(target=self._run, name="housekeeper", daemon=True)
        self._thread.start()

    def archived(self, filename: str) -> None:
        """A new archive exists: compress it (if enabled), then apply retention."""
        if self.compress == "gzip":
            self._queue.put(filename)
        self._queue.put(None)

    def close(self, timeout: float = 1.0) -> None:
        """Stop; an unfinished compression is abandoned and redone at the next start."""
        self._stop.set()
        self._queue.put(None)
        if self._thread:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until every queued job is done (for tests and end of input)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _run(self) -> None:
        try:  # Linux: a thread has its own nice value; let the write path win the CPU.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (OSError, AttributeError):
            pass
        while not self._stop.is_set():
            job = self._queue.get()
            try:
                if isinstance(job, threading.Event):
                    job.set()
                elif job is None:
                    apply_retention(self.directory, self.names, self.today(),
                                    self.keep_days, self.max_total)
                else:
                    self.gzip(job)
            except OSError as e:
                self.warn(f"housekeeping {job or 'retention'} failed: {e}")

    def gzip(self, filename: str) -> str | None:
        """Compress one plain archive crash-safely; returns the .gz name, None if it vanished."""
        src = os.path.join(self.directory, filename)
        tmp = src + GZ + TMP
        try:
            fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None  # retention got there first
        try:
            fout = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
            try:
                z = zlib.compressobj(self.level, zlib.DEFLATED, 31)  # 31: gzip container
                while True:
                    if self._stop.is_set():
                        raise InterruptedError("stopping")
                    block = os.read(fin, BLOCK)
                    if not block:
                        break
                    _write_all(fout, z.compress(block))
                _write_all(fout, z.flush())
                os.fsync(fout)
            finally:
                os.close(fout)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(sys.exc_info()[1], InterruptedError):
                return None
            raise
        finally:
            os.close(fin)
        os.rename(tmp, src + GZ)
        _fsync_dir(self.directory)
        os.unlink(src)
        return filename + GZ


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
