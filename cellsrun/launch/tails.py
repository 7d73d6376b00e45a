"""Reading the ends of the files that status and a failed start show (logs, the page's token).

The log dir and the runtime dir may belong to the service's user (``--user``), while status
runs as root: whatever sits there under a known name is hostile. A file is read only if it is
a regular file with one link, reached without following a symlink — neither the file's nor its
directory's — and opened without blocking (a FIFO put there must not hang ``cellsrun status``).
"""

from __future__ import annotations

import os
import stat

_NOFOLLOW = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def read_tail(path: str, nbytes: int, since: int = 0) -> str | None:
    """The last ``nbytes`` of ``path`` past offset ``since`` (from the start if the file is now
    shorter than ``since``: it was rotated), as text; None if it is missing, unreadable or not
    a regular file of its own (see the module's docstring)."""
    try:
        dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
    except OSError:
        return None
    try:
        name = os.path.basename(path)
        if not stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            return None
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                return None
            start = since if st.st_size >= since else 0
            f.seek(max(start, st.st_size - nbytes))
            return f.read(nbytes).decode("utf-8", "replace")
        except OSError:
            return None
