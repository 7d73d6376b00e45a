"""Archive names: the one place that makes them and recognises them.

For a live file ``cells.out`` the rotator makes, and only ever touches:

- ``cells.out.2026-11-27``        the day 2026-11-27, not compressed yet
- ``cells.out.2026-11-27.1``      a second archive of that day (a name is never reused)
- ``cells.out.2026-11-27.gz``     once compressed (``.1.gz`` likewise)
- ``cells.out.2026-11-27.gz.tmp`` a compression in progress (finished or redone at start)
- ``cells.out.lock``              held (flock) by the one rotator writing ``cells.out``; it is
  not an archive, so retention and the browser never see it

The rotator, retention and the log browser all go through this module, so the
three agree on what is "ours". Everything else in the directory is foreign.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import stat
from collections import namedtuple

GZ = ".gz"
TMP = ".tmp"
LOCK = ".lock"


def compressed_name(filename: str) -> str:
    """``cells.out.2026-11-27`` -> ``cells.out.2026-11-27.gz`` (the archive once compressed)."""
    return filename + GZ


def compressing_name(filename: str) -> str:
    """``cells.out.2026-11-27`` -> ``cells.out.2026-11-27.gz.tmp`` (its compression under way)."""
    return filename + GZ + TMP


def plain_name(compressing: str) -> str:
    """The archive that the temp file ``compressing`` (a ``.gz.tmp``) is the compression of."""
    if not compressing.endswith(GZ + TMP):
        raise ValueError(f"not a compression temp file: {compressing!r}")
    return compressing[:-len(GZ + TMP)]


class Archive(namedtuple("Archive", "day seq compressed filename")):
    """One archive file: its day (a date), seq (0, 1, 2... for a day's later archives),
    compressed (bool) and file name. Sorts oldest first, as written.

    (A named tuple, not a dataclass: ``cellsrun rotate`` and ``logs`` start often, and
    dataclasses costs them ~10 ms of imports.)
    """

    __slots__ = ()

    def path(self, directory: str) -> str:
        return os.path.join(directory, self.filename)


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(name) + r"\.(\d{4}-\d{2}-\d{2})(?:\.([1-9]\d{0,5}))?(\.gz)?(\.tmp)?\Z")


class ArchiveNames:
    """Makes and parses the archive names of one live file ``name``."""

    def __init__(self, name: str):
        self.name = name
        self.lock = name + LOCK  # the lock file of the rotator writing ``name`` (never an archive)
        self._re = _pattern(name)

    def make(self, day: _dt.date, seq: int = 0, compressed: bool = False) -> str:
        """``make(2026-11-27, 1, True)`` -> ``cells.out.2026-11-27.1.gz``."""
        text = f"{self.name}.{day.isoformat()}"
        if seq:
            text += f".{seq}"
        return compressed_name(text) if compressed else text

    def make_for(self, day_text: str) -> str:
        """The plain archive name with ``day_text`` where the date goes: for a tool that
        fills in the day itself (rsyslog: ``%$year%-%$month%-%$day%``)."""
        return f"{self.name}.{day_text}"

    def plain_glob(self) -> str:
        """A shell glob (fnmatch) for the plain archives, ``cells.out.2026-11-27`` and
        ``cells.out.2026-11-27.1``, that matches no compressed or temp file (it must end in
        a digit): for a tool that watches the archives (rsyslog's imfile)."""
        d = "[0-9]"
        return f"{self.name}.{d * 4}-{d * 2}-{d}*{d}"

    def _match(self, filename: str):
        m = self._re.match(filename)
        if not m:
            return None
        try:
            day = _dt.date.fromisoformat(m.group(1))
        except ValueError:
            return None
        if m.group(4) and not m.group(3):
            return None  # ".tmp" only ever follows ".gz"
        return m, day

    def parse(self, filename: str) -> Archive | None:
        """The archive that ``filename`` names, or None (temp files and foreign names)."""
        hit = self._match(filename)
        if not hit or hit[0].group(4):
            return None
        m, day = hit
        return Archive(day, int(m.group(2) or 0), bool(m.group(3)), filename)

    def is_temp(self, filename: str) -> bool:
        """True for ``<archive>.gz.tmp``, a compression that has not finished."""
        hit = self._match(filename)
        return bool(hit and hit[0].group(4))

    def scan(self, directory: str) -> tuple[list[Archive], list[str]]:
        """(archives oldest first, temp file names) among the *regular* files of ``directory``.

        Symlinks, directories and foreign names are never returned, so nothing that
        acts on the result can touch them.
        """
        archives, temps = [], []
        with os.scandir(directory) as it:
            for entry in it:
                if not entry.name.startswith(self.name):
                    continue
                try:
                    if not stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                        continue
                except FileNotFoundError:
                    continue
                archive = self.parse(entry.name)
                if archive:
                    archives.append(archive)
                elif self.is_temp(entry.name):
                    temps.append(entry.name)
        archives.sort()
        return archives, temps

    def free(self, directory: str, day: _dt.date) -> str:
        """The first name for ``day`` that exists neither plain, compressed nor in compression."""
        seq = 0
        while True:
            plain = self.make(day, seq)
            if not any(os.path.lexists(os.path.join(directory, n))
                       for n in (plain, compressed_name(plain), compressing_name(plain))):
                return plain
            seq += 1
