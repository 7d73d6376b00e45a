"""The user a system supervisord runs the programs as (`cellsrun config --supervisor --user NAME`).

Everything that could make supervisord fail to spawn the programs is checked before a
block is printed: the user exists, and (when we are root and can ask) that user can run
this cellsrun — the interpreter, its packages and the directories on the way — and the
service's program, tried as that user in a child process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from cellsrun.errors import RuntimeFailure, UsageError

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?")   # what useradd accepts (and supervisord can hold)
PROBE_TIMEOUT_SECS = 30


def lookup(name: str):
    """The :mod:`pwd` entry of ``name``; UsageError when there is no such user."""
    import pwd
    if not _NAME.fullmatch(name):
        raise UsageError(f"--user {name!r} is not a user name")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise UsageError(f"no user {name!r} on this machine (create it first, e.g. "
                         f"useradd --system --home-dir /var/lib/cells {name})") from None


def is_other(user) -> bool:
    """True when the programs would run as another user than the one running cellsrun."""
    return user.pw_uid != os.geteuid()


def check_can_run(user, program: str | None, cwd: str) -> None:
    """As ``user`` (root only; others cannot switch), run ``python -m cellsrun --version``
    with this interpreter, and check that ``program`` (a path, relative to ``cwd``) is
    executable: RuntimeFailure says what that user cannot reach."""
    if os.geteuid() != 0:
        raise RuntimeFailure(f"--user {user.pw_name}: only root can hand the working dir to another "
                             "user and run a supervisord that switches to it")
    as_user = dict(user=user.pw_uid, group=user.pw_gid,
                   extra_groups=os.getgrouplist(user.pw_name, user.pw_gid), cwd="/")
    try:
        probe = subprocess.run([sys.executable, "-m", "cellsrun", "--version"], capture_output=True,
                               text=True, stdin=subprocess.DEVNULL, timeout=PROBE_TIMEOUT_SECS, **as_user)
        said = (probe.stderr or probe.stdout).strip().splitlines()
        why = None if probe.returncode == 0 else (said[-1] if said else f"exit status {probe.returncode}")
    except OSError as e:  # the interpreter itself is out of reach
        why = e.strerror
    if why:
        raise RuntimeFailure(
            f"the user {user.pw_name} cannot run cellsrun ({sys.executable}: {why}); install cellsrun where "
            f"{user.pw_name} can read it, e.g. `PYTHON=/usr/bin/python3 ./install.sh --prefix /opt/cellsrun`, "
            "and print the blocks with that installation's cellsrun")
    if program and "/" in program:
        path = os.path.join(cwd, program)
        code = "import os, sys; sys.exit(not os.access(sys.argv[1], os.X_OK))"
        check = subprocess.run([sys.executable, "-c", code, path], capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=PROBE_TIMEOUT_SECS, **as_user)
        if check.returncode != 0:
            raise RuntimeFailure(f"the user {user.pw_name} cannot run {program} (a directory on the way "
                                 "or the file itself is not open to that user)")
