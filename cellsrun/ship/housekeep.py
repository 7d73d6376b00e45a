"""`cellsrun housekeep`: the rotator's own compression and retention, for a directory that
nobody rotates — a collector's per-host directory, where rsyslog writes
``cells.out.YYYY-MM-DD`` for each day and there is no live ``cells.out``.

The work is done by the rotator's :class:`~cellsrun.rotate.housekeeper.Housekeeper` (crash-safe
gzip in a low-priority child, recovery of an interrupted one, retention by the date in the name
and by total size), handed a view of the directory in which only *finished* days exist: a
file of today (or a later day) is never compressed, never removed and does not count
towards ``--max-total``. A plain file written to within the last few seconds is left for the
next run too (a writer may still be flushing the day's last lines just after midnight).
Everything else is as for the rotator: regular files with our names only, never a symlink.
"""

from __future__ import annotations

import datetime as _dt
import os

from cellsrun import defaults
from cellsrun.archive import ArchiveNames, plain_name


class FinishedDays(ArchiveNames):
    """The archive names of ``name``, seeing only days before ``today`` whose plain files
    have not changed since ``settled_before`` (an epoch second)."""

    def __init__(self, name: str, today: _dt.date, settled_before: float):
        super().__init__(name)
        self.today = today
        self.settled_before = settled_before

    def scan(self, directory: str):
        archives, temps = super().scan(directory)
        finished = [a for a in archives if a.day < self.today
                    and (a.compressed or self._settled(a.path(directory)))]
        temps = [t for t in temps if (p := self.parse(plain_name(t))) and p.day < self.today]
        return finished, temps

    def _settled(self, path: str) -> bool:
        try:
            return os.lstat(path).st_mtime < self.settled_before
        except FileNotFoundError:
            return False


class Result:
    """What one run did in one directory: ``compressed`` and ``removed`` file names, and
    ``warnings`` (texts)."""

    def __init__(self):
        self.compressed: list[str] = []
        self.removed: list[str] = []
        self.warnings: list[str] = []


def housekeep(directory: str, *, clock, compress: str = defaults.COMPRESS,
              keep_days: int = defaults.KEEP_DAYS, max_total: int = 0,
              name: str = defaults.LIVE_NAME) -> Result:
    """Compress the finished days of ``directory`` and apply retention; wait until done."""
    from cellsrun.rotate.housekeeper import Housekeeper

    result = Result()
    today = clock.today()
    names = FinishedDays(name, today, clock.now() - defaults.HOUSEKEEP_QUIET_SECS)
    before = _files(directory, name)
    keeper = Housekeeper(directory, names, compress=compress, keep_days=keep_days,
                         max_total=max_total, today=lambda: today, warn=result.warnings.append)
    pending = keeper.recover()
    keeper.start(pending)
    try:
        keeper.wait_idle()
    finally:
        keeper.close()
    after = _files(directory, name)
    for filename in sorted(before - after):
        archive = names.parse(filename)
        if not archive.compressed and names.make(archive.day, archive.seq, True) in after:
            result.compressed.append(filename)
        else:
            result.removed.append(filename)
    return result


def _files(directory: str, name: str) -> set[str]:
    archives, _ = ArchiveNames(name).scan(directory)
    return {a.filename for a in archives}
