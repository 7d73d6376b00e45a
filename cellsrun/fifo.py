"""The FIFO between the service and the rotator: create and open it, size its buffer, measure it.

The exec shim (the service's side), the rotator (the reading side) and ``status`` (the
bytes waiting) all go through this module, so they agree on modes and flags.
"""

from __future__ import annotations

import fcntl
import os
import stat

from cellsrun.errors import RuntimeFailure, UsageError

PIPE_SIZE = 1 << 20   # bytes of kernel buffer asked for (the default is 64 KiB)
F_SETPIPE_SZ = 1031   # fcntl command (linux/fcntl.h), not exported by the fcntl module
FIFO_MODE = 0o600


def check_fifo_path(path: str | None) -> None:
    """Refuse a path that exists and is not a FIFO (before anything is touched)."""
    if path is None:
        return
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISFIFO(st.st_mode):
        raise UsageError(f"--input {path} exists and is not a FIFO")


def open_fifo(path: str, *, for_service: bool = False) -> int:
    """Open the FIFO ``path`` read-write, creating it (mode 0600) if missing.

    Read-write: the open never blocks, the rotator's side never sees end of input,
    and the service's side never gets EPIPE while the rotator restarts; whatever is
    buffered waits in the kernel. The rotator's fd is non-blocking and close-on-exec;
    the service's (``for_service``) is neither: it becomes the service's stdout.
    """
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), 0o750, exist_ok=True)
        os.mkfifo(path, FIFO_MODE)
    except FileExistsError:
        pass
    except OSError as e:
        raise RuntimeFailure(f"cannot create FIFO {path}: {e.strerror}") from e
    if not stat.S_ISFIFO(os.lstat(path).st_mode):
        raise UsageError(f"{path} exists and is not a FIFO")
    flags = os.O_RDWR | os.O_NOFOLLOW
    if not for_service:
        flags |= os.O_NONBLOCK | os.O_CLOEXEC
    return os.open(path, flags)


def raise_pipe_size(fd: int, size: int = PIPE_SIZE) -> int:
    """Ask for a ``size`` byte pipe buffer (1 MiB); returns what the kernel granted (0: refused)."""
    try:
        return fcntl.fcntl(fd, F_SETPIPE_SZ, size)
    except OSError:
        return 0


def bytes_waiting(fd: int) -> int:
    """Bytes in the pipe ``fd`` that nobody has read yet (FIONREAD)."""
    import array  # here: only `status` asks, and the rotator starts often
    import termios
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return buf[0]


def fifo_bytes(path: str) -> int | None:
    """Bytes waiting in the FIFO at ``path``, or None if there is no FIFO there."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return None
        return bytes_waiting(fd)
    finally:
        os.close(fd)
