"""``cellsrun exec``: what supervisord runs for the service.

It opens the FIFO read-write (so the service never sees a reader go away while
the rotator restarts), raises its buffer to 1 MiB, points stdout and stderr at
it, sets PYDIO_LOGS_LEVEL, and replaces itself with the service: no Python is left
between supervisord and the service, so stop signals reach it directly and no
per-line cost remains.

Before the exec it asks the kernel for SIGTERM when supervisord dies
(:mod:`cellsrun.parentdeath`), so the service does not outlive a killed supervisord.
"""

from __future__ import annotations

import os
import shutil
import sys

from cellsrun.errors import UsageError

NOT_FOUND = 127


def check_command(argv: list[str], cwd: str) -> None:
    """Refuse, before anything runs or stops, a command that `cellsrun exec` could not start:
    a program that is not found (on PATH, or at its path, relative to ``cwd``: supervisord
    runs the service in the working dir), not a regular file, or not executable."""
    program = argv[0] if argv else ""
    if "/" not in program:
        if not shutil.which(program):
            raise UsageError(f"command not found: {program} (not on PATH: "
                             f"{os.environ.get('PATH', os.defpath)}); give its full path")
        return
    path = os.path.join(cwd, program)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"command not found: {program}") from None
    except OSError as e:
        raise UsageError(f"cannot run {program}: {e.strerror}") from None
    import stat
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"cannot run {program}: {program} is a directory")
    if not stat.S_ISREG(st.st_mode) or not os.access(path, os.X_OK):
        raise UsageError(f"cannot run {program}: {program} is not executable (chmod +x, or give "
                         "its interpreter first)")


def exec_service(fifo: str, argv: list[str], log: str | None, err=sys.stderr) -> int:
    """Exec ``argv`` with stdout/stderr on ``fifo``. Returns only on failure (127: not found)."""
    if not argv:
        raise UsageError("exec needs a command after --")
    program = shutil.which(argv[0])
    if program is None:
        # Said on our own stderr (supervisord keeps it in cellsrun-exec.log), before the
        # redirection, so that an operator finds it where the service's failures go.
        print(f"cellsrun exec: command not found: {argv[0]}", file=err, flush=True)
        return NOT_FOUND
    from cellsrun.fifo import open_fifo, raise_pipe_size
    from cellsrun.parentdeath import privileged_exec, set_parent_death_signal
    why = privileged_exec(program)
    if why:
        print(f"cellsrun exec: warning: {program} is {why}: the kernel drops its parent-death "
              "signal, so it will not end with supervisord; `cellsrun start` ends it as an orphan",
              file=err, flush=True)
    fd = open_fifo(fifo, for_service=True)
    raise_pipe_size(fd)
    env = dict(os.environ)
    if log:
        env["PYDIO_LOGS_LEVEL"] = log
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    set_parent_death_signal()  # if supervisord is already gone, this ends us here
    try:
        os.execve(program, argv, env)
    except OSError as e:
        os.write(2, f"cellsrun exec: cannot run {program}: {e.strerror}\n".encode())
        return 126
    return 126  # not reached
