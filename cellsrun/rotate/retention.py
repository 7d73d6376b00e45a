"""Which archives to remove: by the date in their name, and by their total size.

Retention trusts the date in an archive's name (not its mtime) and only ever sees
names that :mod:`cellsrun.archive` recognises among regular files, so symlinks,
foreign files and temp files are never candidates.
"""

from __future__ import annotations

import datetime as _dt
import os

from cellsrun.archive import Archive, ArchiveNames


def select_expired(archives: list[tuple[Archive, int]], today: _dt.date,
                   keep_days: int, max_total: int) -> list[Archive]:
    """The archives to remove, oldest first.

    ``archives``: (archive, size in bytes) pairs. ``keep_days``: archives whose day is
    more than this many days before ``today`` go (0: no age limit). ``max_total``:
    then the oldest go while the remaining ones add up to more than this many bytes
    (0: no size limit).
    """
    ordered = sorted(archives)
    doomed = []
    if keep_days:
        oldest_kept = today - _dt.timedelta(days=keep_days)
        doomed = [a for a, _ in ordered if a.day < oldest_kept]
    if max_total:
        total = sum(size for a, size in ordered if a not in doomed)
        for archive, size in ordered:
            if total <= max_total:
                break
            if archive not in doomed:
                doomed.append(archive)
                total -= size
    return sorted(doomed)


def apply_retention(directory: str, names: ArchiveNames, today: _dt.date,
                    keep_days: int, max_total: int) -> list[str]:
    """Remove the expired archives of ``directory``; returns the names removed."""
    if not keep_days and not max_total:
        return []
    archives, _ = names.scan(directory)
    sized = []
    for archive in archives:
        try:
            sized.append((archive, os.lstat(archive.path(directory)).st_size))
        except FileNotFoundError:
            pass
    removed = []
    for archive in select_expired(sized, today, keep_days, max_total):
        try:
            os.unlink(archive.path(directory))
            removed.append(archive.filename)
        except FileNotFoundError:
            pass
    return removed
