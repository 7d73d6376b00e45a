"""The live log file and its rotation at local midnight (the write path's file side).

:class:`Rotator` owns ``<dir>/<name>`` (``cells.out``): it appends bytes, knows which
day the file holds, renames it to an archive when the day is over, and never
overwrites a name. It does not read input, frame lines or compress: the pump
hands it bytes that end where it is safe to rotate, and the housekeeper is told
about each new archive.

It also notices when the operator pulls the file away (:meth:`Rotator.check_live_path`):
a deleted ``cells.out`` or a renamed log directory is recreated, and what was
written into a deleted file since the last look is carried into the new one.
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
CARRY_LOOKBACK = 1 << 20  # bytes searched back for the start of a line when carrying data over


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
    ``on_archive(filename, how)``: called with each archive's file name just after the
    rename; ``how`` is "rotated" (the day ended) or "archived leftover" (a file left from
    an earlier day, found at :meth:`open`), as :func:`cellsrun.rotationlog.format_rotated`
    takes it. ``stall``: a :class:`Stall`, consulted while writes fail with ENOSPC/EIO;
    writes never raise for those, they hold the data and retry (backpressure).
    ``warn(text)``: told when the live file had to be recreated (never fatal).
    """

    def __init__(self, directory: str, name: str, clock, *,
                 on_archive: Callable[[str, str], None] = lambda filename, how: None,
                 stall: Stall | None = None, warn: Callable[[str], None] = lambda text: None):
        self.directory = directory
        self.name = name
        self.path = os.path.join(directory, name)
        self.names = ArchiveNames(name)
        self.clock = clock
        self.on_archive = on_archive
        self.stall = stall or Stall()
        self.warn = warn
        self.day: _dt.date | None = None   # the day the live file holds
        self.next_rotation = float("inf")  # epoch second at which that day ends
        self._fd = -1
        self._id = (0, 0)       # (st_dev, st_ino) of the open live file
        self._size = 0
        self._seen = 0          # size at the last check that found the file in place
        self._dir_mode = DIR_MODE
        self._told = ""         # the last failure to reopen, not repeated at every check
        self._stalled = False

    # -- opening ---------------------------------------------------------------------------

    def make_directory(self) -> None:
        """Create the log directory (mode 0750) if it is missing; remember its mode, so
        that a directory renamed away while running is recreated as it was."""
        try:
            os.makedirs(self.directory, DIR_MODE, exist_ok=True)
            self._dir_mode = stat.S_IMODE(os.stat(self.directory).st_mode)
        except OSError as e:
            raise RuntimeFailure(f"cannot create log directory {self.directory}: {e.strerror}") from e

    def open(self) -> None:
        """Create the directory if needed, archive a leftover from an earlier day, open the file.

        The day of a leftover is the day of its last write. A day after tomorrow (a clock
        far ahead when it was written, a touched file) cannot be right: the file is taken
        as today's. Tomorrow is believed: it is what a clock set back over midnight leaves,
        and keeping it never puts a later day's lines before an earlier day's.
        """
        self.make_directory()
        now = self.clock.now()
        today = self.clock.day_of(now)
        st = self._lstat()
        if st is not None and st.st_size > 0:
            try:
                written = self.clock.day_of(st.st_mtime)
            except (ValueError, OverflowError, OSError):
                written = None  # beyond what a date can hold: the far future
            if written is None or written > today + _dt.timedelta(days=1):
                pass  # today's
            elif written < today:
                self._archive(written, "archived leftover")  # the rotator was down over midnight
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
        if st.st_nlink > 1:
            raise RuntimeFailure(f"{self.path} is a hard link (one of {st.st_nlink} names of a file); "
                                 "refusing to write through it")
        return st

    def _open_live(self, day: _dt.date, now: float) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        except OSError as e:
            raise RuntimeFailure(f"cannot open {self.path}: {e.strerror}") from e
        # O_RDWR: ends_with_newline() reads the last byte back. No O_APPEND: splice(2)
        # refuses append-mode files; we are the only writer.
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:  # swapped in since the lstat
            os.close(fd)
            raise RuntimeFailure(f"{self.path} changed while being opened; refusing to write through it")
        self._size = self._seen = os.lseek(fd, 0, os.SEEK_END)
        self._fd = fd
        self._id = (st.st_dev, st.st_ino)
        self.day = day
        try:
            self.next_rotation = self.clock.next_day_start(day, now)
        except (ValueError, OverflowError, OSError):
            self.next_rotation = float("inf")  # a clock beyond the calendar: no day ends

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
        self.check_live_path()  # deleted or moved away: there is nothing to rename at the path
        if not self._at_path():  # and it could not be reopened there: rename nothing, retry soon
            self.next_rotation = now + 60
            return None
        archived = None
        old_day = self.day
        os.close(self._fd)
        self._fd = -1
        if self._size > 0:
            archived = self._archive(old_day, "rotated")
        # max(): after a clock jump back the day never goes backwards.
        self._open_live(max(self.clock.day_of(now), old_day + _dt.timedelta(days=1)), now)
        return archived

    def _archive(self, day: _dt.date, how: str) -> str | None:
        target = self.names.free(self.directory, day)
        try:
            os.rename(self.path, os.path.join(self.directory, target))
        except FileNotFoundError:  # pulled away between the check and now: nothing to archive
            self.warn(f"{self.path} vanished at its rotation; nothing archived")
            return None
        self.on_archive(target, how)
        return target

    def reopen(self) -> None:
        """SIGHUP: close and reopen the live file (someone may have moved it away)."""
        self._replace_live(quiet=True)

    # -- the operator pulled the file away -------------------------------------------------

    def check_live_path(self) -> bool:
        """Is the live file still at its path? If it was deleted or replaced, or its
        directory renamed, open a fresh one (recreating the directory with its mode) and
        warn; returns True then. Cheap (an ``lstat``): the pump calls it after writes
        (at most ten times a second), at a stop, and before each rotation.
        """
        if self._at_path():
            self._seen = self._size
            return False
        return self._replace_live(quiet=False)

    def _at_path(self) -> bool:
        try:
            st = os.lstat(self.path)
        except OSError:
            return False  # gone (ENOENT, ENOTDIR)
        return (st.st_dev, st.st_ino) == self._id

    def _replace_live(self, quiet: bool) -> bool:
        """Open the path anew; bytes written into a deleted old file since the last check
        (from the start of their line) are copied into the new one, so none is lost."""
        old_fd, old_size, seen = self._fd, self._size, self._seen
        if old_fd < 0:
            return False
        deleted = os.fstat(old_fd).st_nlink == 0
        now = self.clock.now()
        try:
            if not os.path.isdir(self.directory):  # renamed or removed: recreate it as it was
                os.makedirs(self.directory, DIR_MODE, exist_ok=True)
                os.chmod(self.directory, self._dir_mode)
            self._lstat()  # refuses a symlink or hard link put in its place
            self._open_live(self.day, now)  # the day it holds: what is carried over is that day's
        except (OSError, RuntimeFailure) as e:
            told = f"cannot reopen {self.path} ({e}); still writing to the file it was"
            if told != self._told:  # said once, not at every check
                self.warn(told)
                self._told = told
            self._fd, self._size, self._seen = old_fd, old_size, seen
            return False
        self._told = ""
        if deleted and old_size > seen:
            self._carry(old_fd, self._line_start(old_fd, seen), old_size)
        os.close(old_fd)
        if not quiet:
            what = "deleted" if deleted else "moved away"
            self.warn(f"{self.path} was {what} while in use; reopened a new one")
        return True

    def _line_start(self, fd: int, offset: int) -> int:
        """The offset of the start of the line that holds byte ``offset`` (looked for up
        to CARRY_LOOKBACK bytes back; past that, ``offset`` itself)."""
        pos = offset
        while pos > 0 and offset - pos < CARRY_LOOKBACK:
            step = min(65536, pos)
            block = os.pread(fd, step, pos - step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                return pos - step + nl + 1
            pos -= step
        return 0 if pos == 0 else offset

    def _carry(self, fd: int, start: int, end: int) -> None:
        while start < end:
            block = os.pread(fd, min(1 << 20, end - start), start)
            if not block:
                break
            self.write(block)
            start += len(block)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
