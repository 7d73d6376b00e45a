"""Prepare a working dir for supervisord: the directories, supervisord's own log files, modes, owner.

supervisord checks, when it reads its configuration, that the directory of each log file
it is given exists (Debian's refuses to start, and `reread` fails, when one is missing), and
it creates those files with its own umask (0644 under Debian's) before any ``umask=`` of a
program applies. So whoever hands supervisord a configuration prepares these first:

    <home>/ <home>/run/ <log dir>/     0750 (makedirs; an existing one keeps its mode)
    <log dir>/<each log file named>    0640, created empty if missing (never truncated)
    <home>/cellsrun.toml               0640 if it had more

With ``owner`` (uid, gid), what the programs write (the working dir itself, run/, the log
dir, and the files of ours in them) is given to that user, so that a service run with
supervisord's ``user=`` can use them. Only our own names are touched; symlinks never.
"""

from __future__ import annotations

import os
import stat

from cellsrun.defaults import FIFO_NAME, LIVE_NAME, SETTINGS_FILE
from cellsrun.errors import RuntimeFailure

DIR_MODE = 0o750
FILE_MODE = 0o640
# What a working dir holds of ours (a working dir with anything else is Cells' or another
# program's: it is not handed to another user without the operator's own chown).
OURS_IN_HOME = {SETTINGS_FILE, "run", "logs", "supervisord.conf", SETTINGS_FILE + ".tmp"}
OURS_IN_LOGS = (LIVE_NAME, "cellsrun-", "supervisord.log")   # name prefixes


def topmost_missing(path: str) -> str | None:
    """The highest directory of ``path`` that does not exist yet (what makedirs creates first)."""
    top = None
    while path and not os.path.lexists(path):
        top = path
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return top


def prepare(s, log_files: list[str], owner: tuple[int, int] | None = None) -> list[str]:
    """Create the working dir's directories and ``log_files`` (names in the log dir) for
    settings ``s``; returns the paths that did not exist before, topmost first (what a
    failed start removes again). RuntimeFailure names what cannot be made."""
    logs = [os.path.join(s.log_dir, name) for name in log_files]
    created = [p for p in (s.home, s.run_dir, s.log_dir, *logs) if not os.path.lexists(p)]
    if owner is not None:
        _check_handover(s.home, owner[0])
    made = []
    for path in (s.home, s.run_dir, s.log_dir):
        top = topmost_missing(path)
        made += _makedirs(path)
        if top and top not in created:
            created.insert(0, top)
        if owner is None and not os.access(path, os.W_OK | os.X_OK):
            raise RuntimeFailure(f"working dir {path} is not writable")
    for path in logs:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, FILE_MODE)
        except OSError as e:
            raise RuntimeFailure(f"cannot create {path}: {e.strerror}") from e
        os.close(fd)
    _tighten(s.settings_file)
    if owner is not None:  # with the directories made above the working dir: the user must reach it
        hand_over(s, owner, also=made)
    return created


def _makedirs(path: str) -> list[str]:
    """os.makedirs, but every directory it makes is DIR_MODE (makedirs gives the ones above
    the last the default 0777 & ~umask); returns them, topmost first."""
    missing = []
    while path and not os.path.lexists(path):
        missing.insert(0, path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in missing:
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise RuntimeFailure(f"cannot create {directory}: it exists and is not a directory") from None
        except OSError as e:
            raise RuntimeFailure(f"cannot create {directory}: {e.strerror}") from e
    return missing


def remove(created: list[str], keep: str | None = None) -> None:
    """Remove what :func:`prepare` (and a start) created, newest first; ``keep``: a
    directory that stays with what lies below it and the directories above it."""
    import shutil
    for path in reversed(created):
        if keep and (_holds(path, keep) or _holds(keep, path)):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _holds(path: str, inner: str) -> bool:
    """``inner`` is ``path`` or lies below it."""
    return os.path.commonpath([path, inner]) == path


def _tighten(path: str) -> None:
    """A file of ours that is readable by others (written by hand): 0640 at most."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode) and st.st_mode & 0o137:
        os.chmod(path, stat.S_IMODE(st.st_mode) & FILE_MODE)


def _check_handover(home: str, uid: int) -> None:
    """Refuse to give away an existing working dir that holds more than our files."""
    try:
        st = os.stat(home)
        names = set(os.listdir(home))
    except FileNotFoundError:
        return
    except OSError as e:
        raise RuntimeFailure(f"cannot read the working dir {home}: {e.strerror}") from e
    foreign = sorted(names - OURS_IN_HOME)
    if st.st_uid != uid and foreign:
        raise RuntimeFailure(
            f"the working dir {home} already holds files that are not cellsrun's ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}): not handing it to another user; if that is what "
            f"you want, `chown -R` it yourself first, or choose another --home")


def hand_over(s, owner: tuple[int, int], also=()) -> None:
    """Give the working dir, run/, the log dir and our files in them to ``owner`` (uid,
    gid); ``also``: directories this call's :func:`prepare` made."""
    uid, gid = owner
    paths = [*also, s.home, s.run_dir, s.log_dir, s.settings_file, os.path.join(s.run_dir, FIFO_NAME)]
    try:
        paths += [os.path.join(s.log_dir, n) for n in os.listdir(s.log_dir) if n.startswith(OURS_IN_LOGS)]
    except OSError:
        pass
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode) or (st.st_uid, st.st_gid) == (uid, gid):
            continue
        try:
            os.chown(path, uid, gid, follow_symlinks=False)
        except OSError as e:
            raise RuntimeFailure(f"cannot give {path} to uid {uid}: {e.strerror}") from e
