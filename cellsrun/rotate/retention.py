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
    then archives go while the remaining ones add up to more than this many bytes
    (0: no size limit): first those dated after ``today`` (a name from the future
    cannot be a real day's archive: a touched or copied file, a clock that was wrong),
    then the oldest.
    """
    ordered = sorted(archives)
    doomed = []
    if keep_days:
        oldest_kept = today - _dt.timedelta(days=keep_days)
        doomed = [a for a, _ in ordered if a.day < oldest_kept]
    if max_total:
        gone = set(doomed)
        total = sum(size for a, size in ordered if a not in gone)
        future = [pair for pair in ordered if pair[0].day > today]
        by_size = future + [pair for pair in ordered if pair[0].day <= today]
        for archive, size in by_size:
            if total <= max_total:
                break
            if archive not in gone:
                doomed.append(archive)
                gone.add(archive)
                total -= size
    return sorted(doomed)


def apply_retention(directory: str, names: ArchiveNames, today: _dt.date,
                    keep_days: int, max_total: int,
                    warn: Callable[[str], None] = lambda text: None) -> list[str]:
    """Remove the expired archives of ``directory``; returns the names removed.

    ``warn(text)`` is told when ``max_total`` is smaller than the newest day's archive
    alone: that archive is then removed as soon as it is made, which is rarely meant.
    """
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
    doomed = select_expired(sized, today, keep_days, max_total)
    for archive in doomed:
        try:
            os.unlink(archive.path(directory))
            removed.append(archive.filename)
        except FileNotFoundError:
            pass
    real = [pair for pair in sized if pair[0].day <= today]
    newest, size = real[-1] if real else (None, 0)
    too_old = keep_days and newest is not None and newest.day < today - _dt.timedelta(days=keep_days)
    if max_total and size > max_total and newest in doomed and not too_old:
        warn(f"--max-total ({max_total} bytes) is smaller than the newest archive {newest.filename} "
             f"({size} bytes): it was removed right after it was made; raise --max-total")
    return removed
