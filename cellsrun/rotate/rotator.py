"""The live log file and its rotation at local midnight (the write path's file side).

:class:`Rotator` owns ``<dir>/<name>`` (``cells.out``): it appends bytes, knows which
day the file holds, renames it to an archive when the day is over, and never
overwrites a name. It does not read input, frame lines or compress: the pump
hands it bytes that end where it is safe to rotate, and the housekeeper is told
about each new archive.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import stat

from cellsrun.archive import ArchiveNames
from cellsrun.errors import RuntimeFailure

# Failures that a later retry can get past: a full disk or quota, a flaky device.
RETRYABLE = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR}

FILE_MODE = 0o640
DIR_MODE = 0o750


class Stall:
    """What to do while the disk refuses a write. The default just retries each second.

    ``wait(error, pending)`` is called after each failed attempt, with the bytes
    still held; it returns when it is time to try again, or raises to give up.
    ``resumed()`` is called once the write goes through after a stall.
    """

    def wait(self, error: OSError, pending: int) -> None:
        import time
        time.sleep(1)

    def resumed(self) -> None:
        pass


class Rotator:
    """Appends to ``<directory>/<name>`` and rotates it at the start of each local day.

    ``clock``: a :class:`cellsrun.clock.Clock` (the day of a byte is the day it is written).
    ``on_archive(filename)``: called with each archive's file name, just after the rename.
    ``stall``: a :class:`Stall`, consulted while writes fail with ENOSPC/EIO;
    writes never raise for those, they hold the data and retry (backpressure).
    """

    def __init__(self, directory: str, name: str, clock, *,
                 on_archive: Callable[[str], None] = lambda filename: None,
                 stall: Stall | None = None):
        self.directory = directory
        self.name = name
        self.path = os.path.join(directory, name)
        self.names = ArchiveNames(name)
        self.clock = clock
        self.on_archive = on_archive
        self.stall = stall or Stall()
        self.day: _dt.date | None = None   # the day the live file holds
        self.next_rotation = float("inf")  # epoch second at which that day ends
        self._fd = -1
        self._size = 0
        self._stalled = False

    # -- opening ---------------------------------------------------------------------------

    def open(self) -> None:
        """Create the directory if needed, archive a leftover from an earlier day, open the file."""
        try:
            os.makedirs(self.directory, DIR_MODE, exist_ok=True)
        except OSError as e:
            raise RuntimeFailure(f"cannot create log directory {self.directory}: {e.strerror}") from e
        now = self.clock.now()
        today = self.clock.day_of(now)
        st = self._lstat()
        if st is not None and st.st_size > 0:
            written = self.clock.day_of(st.st_mtime)
            if written < today:
                self._archive(written)  # the rotator was down over midnight
            else:
                today = written  # a clock that went back never puts a later day before an earlier one
        self._open_live(today, now)

    def _lstat(self) -> os.stat_result | None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise RuntimeFailure(f"cannot use {self.path}: {e.strerror}") from e
        if not stat.S_ISREG(st.st_mode):
            raise RuntimeFailure(f"{self.path} is not a regular file (a symlink or other); "
                                 "refusing to write through it")
        return st

    def _open_live(self, day: _dt.date, now: float) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        except OSError as e:
            raise RuntimeFailure(f"cannot open {self.path}: {e.strerror}") from e
        # O_RDWR: ends_with_newline() reads the last byte back. No O_APPEND: splice(2)
        # refuses append-mode files; we are the only writer.
        self._size = os.lseek(fd, 0, os.SEEK_END)
        self._fd = fd
        self.day = day
        self.next_rotation = self.clock.next_day_start(day, now)

    # -- writing ---------------------------------------------------------------------------

    def write(self, data) -> None:
        """Append all of ``data``; on ENOSPC/EIO hold it and retry until it is written."""
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._fd, view)
            except OSError as e:
                if e.errno not in RETRYABLE:
                    raise
                self._stalled = True
                self.stall.wait(e, len(view))
                continue
            self._size += n
            view = view[n:]
        self._unstall()

    def _unstall(self) -> None:
        if self._stalled:
            self._stalled = False
            self.stall.resumed()

    def splice_from(self, fd: int, count: int) -> int | None:
        """Move up to ``count`` bytes from the pipe ``fd`` into the file without copying them
        through Python. Returns the bytes moved, 0 at end of input, None if the pipe is
        empty for now or the disk refused (the bytes then stay in the pipe)."""
        try:
            n = os.splice(fd, self._fd, count, flags=os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK)
        except BlockingIOError:
            return None
        except OSError as e:
            if e.errno not in RETRYABLE:
                raise
            self._stalled = True
            self.stall.wait(e, 0)
            return None
        self._size += n
        if n:
            self._unstall()
        return n

    def ends_with_newline(self) -> bool:
        """True if the file is empty or its last byte is a newline (a safe place to rotate)."""
        if self._size == 0:
            return True
        return os.pread(self._fd, 1, self._size - 1) == b"\n"

    # -- rotating --------------------------------------------------------------------------

    def due(self, now: float) -> bool:
        return now >= self.next_rotation

    def rotate(self, now: float | None = None) -> str | None:
        """Archive the live file under the day it holds and start a new one.

        The caller makes sure the file ends on a line boundary. An empty file is not
        archived (a silent day leaves no empty archive), but the day still turns.
        Returns the archive's file name, or None.
        """
        now = self.clock.now() if now is None else now
        archived = None
        old_day = self.day
        os.close(self._fd)
        self._fd = -1
        if self._size > 0:
            archived = self._archive(old_day)
        # max(): after a clock jump back the day never goes backwards.
        self._open_live(max(self.clock.day_of(now), old_day + _dt.timedelta(days=1)), now)
        return archived

    def _archive(self, day: _dt.date) -> str:
        target = self.names.free(self.directory, day)
        os.rename(self.path, os.path.join(self.directory, target))
        self.on_archive(target)
        return target

    def reopen(self) -> None:
        """SIGHUP: close and reopen the live file (someone may have moved it away)."""
        os.close(self._fd)
        self._fd = -1
        st = self._lstat()
        now = self.clock.now()
        self._open_live(self.day if st else max(self.day, self.clock.day_of(now)), now)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
