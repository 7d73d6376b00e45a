"""Background work after a rotation: gzip the archive, then apply retention.

A thread schedules the jobs; each gzip runs as a child process at a lower CPU
priority (see :mod:`cellsrun.rotate.compress` for why and for its crash-safe steps), so
the write path never waits for it. :meth:`Housekeeper.recover` (at start) removes
a ``.gz.tmp`` left by a crash and redoes its archive, or removes a plain archive
whose ``.gz`` was already renamed into place; an archive is always present
exactly once.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time

from cellsrun import defaults
from cellsrun.archive import ArchiveNames, compressed_name, plain_name
from cellsrun.rotate.compress import is_busy
from cellsrun.rotate.retention import apply_retention


class Housekeeper:
    """Compresses archives and enforces retention in a background thread.

    ``compress``: "gzip" or "none". ``keep_days``/``max_total``: see
    :func:`cellsrun.rotate.retention.select_expired`. ``today``: returns the current local date.
    ``warn(text)``: reports a failure. Whatever a job raises, the thread reports it and goes
    on with the next job: a dead housekeeper would compress and expire nothing again, and
    :meth:`wait_idle` at end of input would wait for it forever.
    """

    def __init__(self, directory: str, names: ArchiveNames, *, compress: str = defaults.COMPRESS,
                 keep_days: int = defaults.KEEP_DAYS, max_total: int = 0, level: int = 6,
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
        self._child = None  # the gzip process under way, if any

    def recover(self) -> list[str]:
        """Finish what a crash interrupted; returns the plain archives still to compress."""
        archives, temps = self.names.scan(self.directory)
        present = {a.filename for a in archives}
        for temp in temps:
            plain = plain_name(temp)
            if is_busy(os.path.join(self.directory, plain)):
                continue  # an orphaned compression of a previous run is still at work
            os.unlink(os.path.join(self.directory, temp))
        todo = []
        for archive in archives:
            if archive.compressed:
                continue
            if compressed_name(archive.filename) in present:  # renamed into place, not yet unlinked
                if not is_busy(archive.path(self.directory)):
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

    def new_archive(self, filename: str) -> None:
        """A new archive exists: compress it (if enabled), then apply retention."""
        if self.compress == "gzip":
            self._queue.put(filename)
        self._queue.put(None)

    def close(self, timeout: float = 1.0) -> None:
        """Stop; a compression under way is ended and redone at the next start."""
        self._stop.set()
        self._queue.put(None)
        child = self._child
        if child is not None and child.poll() is None:
            child.terminate()
        if self._thread:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float | None = None, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Block until every queued job is done (for tests and end of input); returns True
        then. Returns False early after ``timeout`` seconds, when ``should_stop()`` becomes
        true (a TERM: the work is finished or redone at the next start) or if the thread is
        not running: never a wait without end."""
        done = threading.Event()
        self._queue.put(done)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done.wait(0.1):
            if should_stop() or not (self._thread and self._thread.is_alive()):
                return False
            if deadline is not None and time.monotonic() > deadline:
                return False
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._queue.get()
            try:
                if isinstance(job, threading.Event):
                    job.set()
                elif job is None:
                    apply_retention(self.directory, self.names, self.today(),
                                    self.keep_days, self.max_total, warn=self.warn)
                else:
                    self._gzip_in_child(job)
            except Exception as e:  # noqa: BLE001 - see the class docstring
                self.warn(f"housekeeping {job or 'retention'} failed: {type(e).__name__}: {e}")

    def _gzip_in_child(self, filename: str) -> None:
        import subprocess  # here: a rotator that never rotates does not pay for the import
        self._child = subprocess.Popen(
            [sys.executable, "-m", "cellsrun.rotate.compress", self.directory, filename, str(self.level)],
            stdin=subprocess.DEVNULL, close_fds=True)
        if self._child.wait() != 0 and not self._stop.is_set():
            self.warn(f"compressing {filename} failed; it stays uncompressed until the next start")
        self._child = None
