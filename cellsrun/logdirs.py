"""Which log directories the ``--dir`` values name, and the host each one stands for.

A collector keeps one directory per sending host (``/var/log/cells/<host>/``), so
``--dir '/var/log/cells/*'`` names all of them. A value with glob characters is expanded
here (not by a shell: cron and the page pass it quoted); its matches that are symlinks or
not directories are skipped, since nothing here follows a link it did not make. A plain
value is taken as given. The host of a directory is its name.
"""

from __future__ import annotations

import glob
import os
import stat

from cellsrun.errors import RuntimeFailure


def expand(values: list[str]) -> list[str]:
    """The directories named by ``values``, in order, each once (glob matches sorted).

    Raises RuntimeFailure for a glob that matches no directory; a plain value that does not
    exist is returned as it is (the caller says what that means for it).
    """
    found, seen = [], set()
    for value in values:
        if glob.has_magic(value):
            matches = [m for m in sorted(glob.glob(value)) if _real_dir(m)]
            if not matches:
                raise RuntimeFailure(f"--dir {value!r} matches no directory")
        else:
            matches = [value]
        for path in matches:
            key = os.path.normpath(os.path.abspath(path))
            if key not in seen:
                seen.add(key)
                found.append(path)
    return found


def host_of(directory: str) -> str:
    """``/var/log/cells/node-a/`` -> ``node-a``: what the Host column shows."""
    return os.path.basename(os.path.normpath(os.path.abspath(directory)))


def _real_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False
