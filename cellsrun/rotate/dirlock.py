"""One rotator per live file: an exclusive ``flock`` on ``<dir>/<name>.lock``, held for life.

Two rotators writing the same ``cells.out`` (a copy-pasted supervisord block, a manual run
beside the launcher's) would each write at their own offset over the other's lines. The
second one is refused before it opens its input, so nothing it was given is read and lost.

- The lock is the ``flock``, not the file: the kernel drops it when its holder dies, so a
  file left by a killed rotator never blocks the next one.
- The file holds the holder's pid (for the error message) and nothing else; a file at that
  path holding anything else is not ours and is refused untouched, as is a symlink.
- At a clean exit the file is removed (the rotator may be a guest in a directory it did
  not create). A rotator that opened the file just before it was removed would lock a
  name no longer in the directory: after locking, the path must still name the file
  locked, else the lock is taken again.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time

from cellsrun.errors import RuntimeFailure

MODE = 0o640
MAX_PID_TEXT = 32  # "4194304\n" and then some; a longer file is not a lock file of ours


class LockHeld(RuntimeFailure):
    """Another live process holds the lock."""


class DirLock:
    """The lock of ``directory``/``filename`` (``ArchiveNames.lock``); ``name`` is the live
    file it guards (for messages); ``warn(text)`` is told what :meth:`check` found."""

    def __init__(self, directory: str, filename: str, name: str,
                 warn: Callable[[str], None] = lambda text: None):
        self.directory = directory
        self.path = os.path.join(directory, filename)
        self.name = name
        self.warn = warn
        self._fd = -1
        self._id = (0, 0)
        self._told = ""  # the last warning of check(), not repeated every second

    def acquire(self) -> None:
        """Take the lock, or raise RuntimeFailure naming the pid that holds it."""
        for _ in range(10):
            if self._try_once():
                return
        raise RuntimeFailure(f"cannot lock {self.path}: it keeps being replaced")

    def _try_once(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                         | os.O_CLOEXEC, MODE)
        except OSError as e:
            why = "a symlink" if e.errno == errno.ELOOP else e.strerror
            raise RuntimeFailure(f"cannot use the lock file {self.path}: {why}") from e
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > MAX_PID_TEXT:
                raise RuntimeFailure(f"{self.path} is not a lock file of cellsrun rotate; "
                                     "refusing to touch it")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockHeld(f"{self.directory} is already written by pid {self._holder(fd)} "
                                     f"(cellsrun rotate of {self.name})") from None
            if not self._still_named(st):
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._id = fd, (st.st_dev, st.st_ino)
        return True

    def _still_named(self, st: os.stat_result) -> bool:
        try:
            now = os.lstat(self.path)
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)

    @staticmethod
    def _holder(fd: int) -> str:
        """The pid written by the holder; it writes it just after locking, so wait a moment."""
        for _ in range(50):
            text = os.pread(fd, MAX_PID_TEXT, 0).strip()
            if text.isdigit():
                return text.decode()
            time.sleep(0.01)
        return "?"

    def check(self, quiet: bool = False) -> bool:
        """Is our lock file still at its path (not deleted, its directory not renamed)? If
        not, lock a new one there and warn (``quiet``: not, the caller has said why).
        Returns False if another rotator holds it by now (it started in the gap): this
        one must then stop. Cheap: one lstat."""
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._id:
                return True
        except OSError:
            if not os.path.isdir(self.directory):
                return True  # renamed away just now: the live file's check recreates it first
        old = self._fd
        try:
            if not self._try_once():
                return True  # replaced while we locked it: looked at again at the next check
        except LockHeld as e:
            self.warn(f"lock file {self.path} was removed while in use, and now {e}")
            return False
        except RuntimeFailure as e:
            if str(e) != self._told:
                self.warn(f"lock file {self.path} was removed while in use: {e}; trying again")
                self._told = str(e)
            return True
        os.close(old)
        self._told = ""
        if not quiet:
            self.warn(f"lock file {self.path} was removed while in use; locked a new one")
        return True

    def release(self) -> None:
        """Remove the lock file (if the path still names ours) and unlock."""
        if self._fd < 0:
            return
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._id:
                os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = -1
