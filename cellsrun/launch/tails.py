"""Reading the ends of the logs that status and a failed start show.

The log dir may belong to the service's user (``--user``): whatever sits there under a log's
name is read only if it is a regular file, opened without following a symlink and without
blocking (a FIFO put there must not hang ``cellsrun status``).
"""

from __future__ import annotations

import os
import stat


def read_tail(path: str, nbytes: int, since: int = 0) -> str | None:
    """The last ``nbytes`` of ``path`` past offset ``since`` (from the start if the file is now
    shorter than ``since``: it was rotated), as text; None if it is missing, unreadable or not
    a regular file."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            start = since if st.st_size >= since else 0
            f.seek(max(start, st.st_size - nbytes))
            return f.read(nbytes).decode("utf-8", "replace")
        except OSError:
            return None
