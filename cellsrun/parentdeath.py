"""Ending with supervisord: the parent-death signal, and how the rotator drains after it.

When supervisord dies without stopping its programs (``kill -9``, the OOM killer), its
children would run on as orphans. Linux can signal a child when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), so no watcher process is needed:

- ``cellsrun exec`` asks for SIGTERM before it execs the service (the setting survives
  ``execve``): the service ends as it does at a normal stop, its last lines still go into
  the FIFO.
- the rotator (``cellsrun rotate --exit-with-parent``, as supervisord runs it) asks for
  SIGTERM too, but a TERM that comes *after its parent has gone* does not stop it at once:
  the service got the same TERM at the same instant and may still be writing its last
  lines. It goes on reading until every process that held the FIFO when the parent died
  (the service and its children) has closed it and the pipe is empty, then stops as on a
  plain TERM. A second TERM stops it at once.

Limits of the kernel's mechanism, which callers must keep in mind:

- the signal is cleared when the exec'd program is set-uid/set-gid or has file
  capabilities (:func:`privileged_exec` tells); such a service outlives supervisord and
  only ``cellsrun start``'s orphan clean-up ends it;
- it fires when the *thread* that forked the child ends, not the process: fine under
  supervisord (one thread), surprising under a multi-threaded parent.

No psutil here: the rotator imports this module, and it must start fast. Processes are
read from /proc.
"""

from __future__ import annotations

import ctypes
import os
import signal
import stat
import sys
import threading
import time

PR_SET_PDEATHSIG = 1   # linux/prctl.h
PR_GET_PDEATHSIG = 2
POLL_SECS = 0.05       # how often the drain looks at the FIFO's writers


def _prctl(option: int, arg: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(option, arg, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return 0


def set_parent_death_signal(sig: int = signal.SIGTERM) -> int:
    """Ask for ``sig`` when the parent dies; returns the parent's pid as seen just before.

    If the parent died before the request took effect (a race no kernel call closes), the
    signal is sent to ourselves at once, as if it had come from the kernel.
    """
    parent = os.getppid()
    _prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)
    return parent


def parent_death_signal() -> int:
    """The signal this process gets when its parent dies (0: none)."""
    value = ctypes.c_int(0)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(value), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return value.value


def privileged_exec(path: str) -> str | None:
    """Why exec'ing ``path`` would clear the parent-death signal ("set-uid", "set-gid",
    "file capabilities"), or None when it would not."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_mode & stat.S_ISUID and st.st_uid != os.geteuid():
        return "set-uid"
    if st.st_mode & stat.S_ISGID and st.st_gid != os.getegid():
        return "set-gid"
    if os.geteuid() != 0:  # root already holds every capability: nothing is gained
        try:
            if os.getxattr(path, "security.capability"):
                return "file capabilities"
        except OSError:
            pass
    return None


# -- the FIFO's other holders, from /proc -------------------------------------------------

def fifo_holders(fifo: str, exclude=()) -> set[int]:
    """Pids (other than ours and ``exclude``) with a descriptor on the FIFO ``fifo``.
    Processes we may not look into (another user's) are not seen."""
    try:
        st = os.stat(fifo)
    except OSError:
        return set()
    key = (st.st_dev, st.st_ino)
    skip = {os.getpid(), *exclude}
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in skip and _holds(int(name), key):
            found.add(int(name))
    return found


def _holds(pid: int, key: tuple) -> bool:
    try:
        fds = os.scandir(f"/proc/{pid}/fd")
    except OSError:
        return False  # gone, a zombie, or not ours to see
    with fds:
        for entry in fds:
            try:
                st = os.stat(entry.path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == key:
                return True
    return False


def _is_rotator(pid: int) -> bool:
    """Another `cellsrun rotate` on the FIFO (an older orphan): never waited for."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return b"rotate" in argv and b"--input" in argv


def _bytes_waiting(fifo: str) -> int:
    from cellsrun.fifo import fifo_bytes
    return fifo_bytes(fifo) or 0


# -- the rotator ---------------------------------------------------------------------------

class FollowParent:
    """The rotator's side (see the module's docstring). Install after the stop signals
    and the input are set up: until then a TERM would kill the process outright.

    ``stop``: the handler that makes the rotator write what it read and exit (the one
    installed for SIGTERM); ``fifo``: its input; ``warn``: one line to its log.
    """

    def __init__(self, fifo: str, warn=lambda text: print(text, file=sys.stderr, flush=True)):
        self.fifo = fifo
        self.warn = warn
        self.parent = os.getppid()
        self.draining = False
        self._stop = signal.getsignal(signal.SIGTERM)

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_term)
        self.parent = set_parent_death_signal(signal.SIGTERM)

    def _on_term(self, signum, frame) -> None:
        if self.draining or os.getppid() == self.parent:
            self._stop(signum, frame)  # a plain stop (supervisord's), or a second TERM
            return
        self.draining = True
        _detach_output()
        threading.Thread(target=self._drain, name="drain-after-parent", daemon=True).start()

    def _drain(self) -> None:
        try:
            writers = {p for p in fifo_holders(self.fifo) if not _is_rotator(p)}
            self._say(f"supervisord (pid {self.parent}) is gone: reading on until the service's "
                      f"processes {sorted(writers)} have closed the FIFO, then exiting")
            began = time.monotonic()
            key = _key(self.fifo)
            while True:
                writers = {p for p in writers if key and _holds(p, key)}
                if not writers and not _bytes_waiting(self.fifo):
                    break
                time.sleep(POLL_SECS)
            self._say(f"the FIFO is drained ({time.monotonic() - began:.1f}s after supervisord's "
                      "end); exiting")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # now a plain stop (draining is set)

    def _say(self, text: str) -> None:
        try:
            self.warn(f"cellsrun rotate: {text}")
        except (OSError, ValueError):
            pass


def _detach_output() -> None:
    """supervisord read our stdout and stderr through pipes; now nobody does, and a write
    there would fail with EPIPE (a rotation's log line, a warning). Point them at
    /dev/null; a regular file (a manual run's log) is kept."""
    devnull = None
    for fd in (1, 2):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) or stat.S_ISCHR(mode):
            continue
        if devnull is None:
            devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        os.dup2(devnull, fd)
    if devnull is not None:
        os.close(devnull)


def _key(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
