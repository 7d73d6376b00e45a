"""Refuse a working dir that another user controls (the rule OpenSSH applies to key files).

Whoever can write ``cellsrun.toml`` chooses the command that `cellsrun start` runs, and
whoever can write ``logs/`` chooses where our logs go; whoever can write a directory
above them can swap them. So before anything is read or created:

- the working dir, ``cellsrun.toml``, ``run/`` and the log dir, where they exist, must be
  owned by the user running cellsrun or by root, and not writable by group or others;
- every existing directory above the working dir and the log dir must be owned by that
  user or root, and not writable by group or others unless it has the sticky bit (as
  ``/tmp``: there, others cannot rename or remove what is ours).

One more owner is accepted when the caller names it (``trusted``): the user that the
system supervisord's own blocks for this working dir run as (``user=``, see
:mod:`cellsrun.launch.system`), or the one `config --supervisor --user` hands it to. That
user controls the programs anyway; nothing of the working dir then runs as the caller.

A refusal is a :class:`RuntimeFailure` naming the path, its owner or mode, and the fix.
"""

from __future__ import annotations

import os
import stat

from cellsrun.errors import RuntimeFailure


def _user(uid: int) -> str:
    try:
        import pwd
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def _check(path: str, st: os.stat_result, what: str, allow_sticky: bool, trusted=()) -> None:
    me = os.geteuid()
    if st.st_uid not in (me, 0, *trusted):
        raise RuntimeFailure(
            f"{what} {path} is owned by {_user(st.st_uid)}, not by you ({_user(me)}) or root: "
            f"refusing to run what another user controls; use another --home, or take it over "
            f"with `chown -R {_user(me).split(' ')[0]} {path}` once you trust its content")
    writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable and not (allow_sticky and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
        who = "group and others" if writable == (stat.S_IWGRP | stat.S_IWOTH) else \
            ("group" if writable & stat.S_IWGRP else "others")
        raise RuntimeFailure(
            f"{what} {path} is writable by {who} (mode {stat.S_IMODE(st.st_mode):04o}): another "
            f"user could change what runs or where the logs go; fix it with `chmod go-w {path}`")


def _ancestors(path: str):
    """Existing directories above ``path`` (resolved), nearest first."""
    path = os.path.realpath(path)
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent
        yield path


def untrusted(path: str) -> str | None:
    """Why the file ``path`` (a supervisord configuration) cannot be trusted, or None: it
    must be owned by root or by the caller and not writable by group or others."""
    try:
        _check(path, os.stat(path), "the file", allow_sticky=False)
    except RuntimeFailure as e:
        return str(e)
    except OSError as e:
        return f"cannot read {path}: {e.strerror}"
    return None


def check_working_dir(home: str, settings_file: str, run_dir: str, log_dir: str, trusted=()) -> None:
    """Raise RuntimeFailure if any of these, or a directory above them, is unsafe (see above).
    ``trusted``: uids accepted as owners besides the caller and root."""
    for path, what in ((home, "working dir"), (log_dir, "log dir")):
        for parent in _ancestors(path):
            try:
                st = os.stat(parent)
            except FileNotFoundError:
                continue
            except OSError:
                continue  # cannot be seen: creating below it will fail with its own error
            _check(parent, st, f"the directory above the {what}", allow_sticky=True, trusted=trusted)
    for path, what in ((home, "working dir"), (settings_file, "settings file"),
                       (run_dir, "runtime dir"), (log_dir, "log dir")):
        try:
            st = os.stat(path)
        except OSError:
            continue  # not there yet: we create it, with our modes
        _check(path, st, f"the {what}", allow_sticky=False, trusted=trusted)
