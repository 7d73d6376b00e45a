"""Read entries from cells.out and its archives: only the files a query needs, fast.

- Files: archives (``.gz`` read transparently, ``.gz.tmp`` ignored) then the live file, oldest
  first; a file is opened only if its day can hold a match (see Query.day_range).
- Full text (and --user/--ip) are first looked for as bytes in big blocks, so only the lines
  that contain them are decoded and parsed: this is what keeps `-q` near grep's speed.
- Plain files are binary-searched for --since (lines are in time order), and reading stops
  SLACK seconds past --until: a period inside a 1 GB file costs a few reads, not a scan.
- Follow: after the matches, the live file is watched; when it is renamed at midnight the
  old one is read to its end before the new one is opened, so nothing is missed or repeated.
- Hostile files: lines are cut at 1 MiB while reading (see :mod:`lines`: memory bounded, time
  linear); only regular files are read, and a file that cannot be read (refused, damaged) is
  skipped with a warning while the others are shown (see :mod:`files`). Warnings go to the
  ``warn`` callable given to :class:`Reader` (default: a ``warning:`` line on stderr).
- An archive's last line is shown even without its newline (a rotator stopped with half a line
  leaves one); the live file's is not, until it is complete (the rotator is still writing it).
- A line without a time, and none before it in its file, gets its file's day (``Entry.day``):
  an archive's is in its name, the live file's is that of its last write (the rotator keeps
  one day in it), so ``--day`` and a period that holds that whole day find it.
"""

from __future__ import annotations

import bisect
import io
import os
import time

from cellsrun.browse.entries import parse_line
from cellsrun.browse.files import BLOCK, LogFile, Unreadable, gunzip, open_log, plain_chunks, select_files
from cellsrun.browse.lines import cut, fits, whole_lines

__all__ = ["BLOCK", "LogFile", "Reader", "SLACK", "Unreadable", "follow", "open_log", "seek_time", "select_files"]

SLACK = 10.0  # seconds of disorder tolerated around a period's ends (lines are near time order)


def _plain_blocks(f, start: int, complete_last: bool = False, block: int = BLOCK):
    return whole_lines(plain_chunks(f, start, block), start, complete_last)


def _gz_blocks(f):
    return whole_lines(gunzip(f), complete_last=True)


_gunzip = gunzip  # its former name here (see files.gunzip)


def _first_time_after(f, offset: int) -> float | None:
    """The time of the first timestamped line starting after ``offset``."""
    f.seek(offset)
    data = f.read(1 << 16)
    lines = data.split(b"\n")
    for line in lines[1:-1] if offset else lines[:-1]:
        ts = parse_line(line.decode("utf-8", "replace")).ts
        if ts is not None:
            return ts
    return None


def seek_time(f, size: int, since: float) -> int:
    """An offset (a line start) at or before the first line with time >= since - SLACK."""
    lo, hi = 0, size
    target = since - SLACK
    while hi - lo > (1 << 16):
        mid = (lo + hi) // 2
        ts = _first_time_after(f, mid)
        if ts is not None and ts < target:
            lo = mid
        else:
            hi = mid
    if lo == 0:
        return 0
    f.seek(lo)
    return lo + f.read(1 << 16).find(b"\n") + 1


def _to_stderr(text: str) -> None:
    import sys
    print(f"warning: {text}", file=sys.stderr, flush=True)


class Reader:
    """Yields the entries of ``files`` that match ``query``, in order. ``warn(text)`` is told
    of each file skipped and why (``skipped PATH: Permission denied``); by default it is
    printed on stderr as ``warning: ...``. ``block``: bytes read from a plain file at once
    (the terminal's one pass takes 8 MiB; the page, serving several requests within its
    memory budget, less).

    ``quick``: a printer's fast path (``TableWriter.quick()``): ``quick(line)`` gives the text
    to print for a line, or None. When the full text is the query's only filter, every line
    that matches it is offered to ``quick`` first, and what it gives is yielded as is (a str)
    instead of an entry: no entry is built for a line that is only printed."""

    def __init__(self, query, warn=None, block: int = BLOCK, quick=None):
        self.q = query
        self.warn = warn or _to_stderr
        self.block = block
        self.quick = quick if query.terms and query.text_only() else None
        self._quick_line = None  # the block's last line printed by quick (its time is read if needed)
        self._rows = None  # the GrepRows of the archives read through grep with quick
        # The byte string every matching line must contain, if any: the first full-text term
        # (looked for in lowered blocks), else the user or the IP (as written).
        if query.terms:
            self.needle, self.lower = query.terms[0].encode(), True
        elif query.user:
            self.needle, self.lower = query.user.encode(), False
        elif query.ip:
            self.needle, self.lower = query.ip.encode(), False
        else:
            self.needle, self.lower = None, False
        self.live_offset = 0  # where the live file's complete lines ended
        self.past_until = False  # set when a block's lines passed --until (time order)
        # A needle without letters needs no case folding: search the bytes as they are.
        if self.lower and not any(c.isalpha() for c in query.terms[0]):
            self.lower = False
        self.grep = None
        if self.needle is not None:
            from cellsrun.browse import grepscan
            self.grep = grepscan.available()

    AHEAD = 2  # grep jobs running ahead of the file being parsed (the machine has 2+ cores)

    def entries(self, files: list[LogFile]):
        ahead = {}  # grep jobs started for the next files while this one is parsed
        try:
            for i, lf in enumerate(files):
                for nxt in files[i:i + 1 + self.AHEAD]:
                    if nxt.path not in ahead and self._greps(nxt):
                        ahead[nxt.path] = self._grep_job(nxt)
                yield from self.file_entries(lf, job=ahead.pop(lf.path, None))
        finally:
            for job in ahead.values():
                if not isinstance(job, Exception):
                    job.close()  # a GrepJob, or a file left to scan
            if self._rows is not None:
                self._rows.close()  # its worker, if one was started

    def _greps(self, lf: LogFile) -> bool:
        """Whether grep finds the candidate lines of ``lf``: archives, when there is a needle
        and no binary search to do first."""
        return bool(self.grep) and not lf.live and not (self.q.since is not None and not lf.compressed)

    def _grep_job(self, lf: LogFile):
        """grep started over ``lf``; or the open file, when a plain archive has a line over
        1 MiB (it is scanned here: see grepscan); or the exception that kept the file from being
        opened (raised in the file's turn, so its warning comes in order)."""
        from cellsrun.browse import grepscan
        needle = self.q.terms[0] if self.q.terms else self.needle.decode()
        try:
            f = open_log(lf.path)
        except (OSError, Unreadable) as e:
            return e
        try:
            if not lf.compressed and not fits(f.fileno(), os.fstat(f.fileno()).st_size):
                return f
            return grepscan.GrepJob(self.grep, f, lf.compressed, needle, ignore_case=bool(self.q.terms))
        except BaseException:
            f.close()
            raise

    def file_entries(self, lf: LogFile, job=None):
        """The matching entries of one file (``job``: its grep, if already started). A file
        gone since it was listed gives nothing; one that cannot be read is skipped (or the
        rest of it, past damage) with a warning naming it."""
        if job is None and self._greps(lf):
            job = self._grep_job(lf)
        try:
            if isinstance(job, Exception):
                raise job
            if job is None or isinstance(job, io.BufferedReader):  # no grep, or a file to scan
                yield from self._scan_entries(lf, job)
            else:
                yield from self._grep_entries(job, lf.day)
        except FileNotFoundError:  # rotated or removed since it was listed
            return
        except (OSError, Unreadable) as e:
            self.warn(f"skipped {lf.path}: {e.strerror or e if isinstance(e, OSError) else e}")

    def _scan_entries(self, lf: LogFile, f=None):
        """The matching entries of one file (``f``: already open), read here (no grep)."""
        q = self.q
        if f is None:
            f = open_log(lf.path)
        with f:
            if lf.compressed:
                blocks = _gz_blocks(f)
            else:
                start = seek_time(f, os.fstat(f.fileno()).st_size, q.since) if q.since is not None else 0
                blocks = _plain_blocks(f, start, complete_last=not lf.live, block=self.block)
            last_ts = None
            for block, pos in blocks:
                for entry in self._block_entries(block, last_ts, lf.day):
                    if entry.__class__ is str:  # printed by quick: q.matches holds
                        yield entry
                        continue
                    last_ts = entry.ts if entry.ts is not None else last_ts
                    if q.matches(entry):
                        yield entry
                if self._quick_line is not None:  # after the entries: the block's last timed line
                    last_ts = parse_line(self._quick_line).ts
                    self._quick_line = None
                if self.past_until:
                    self.past_until = False
                    return
                # With a needle only some lines were parsed: the block's last time is looked up.
                # (Without one, every line was: last_ts is exact, and --until was checked.)
                block_end = _last_time(block) if self.needle is not None else None
                del block  # not held while the next one is read
                if block_end is not None:
                    last_ts = block_end
                if lf.live:
                    self.live_offset = pos
                if q.until is not None and block_end is not None and block_end > q.until + SLACK:
                    return  # time order: nothing later in this file can match

    def _grep_entries(self, job, day=None):
        """The matching entries of an archive (of ``day``), with grep finding the candidate lines."""
        if self.quick is not None:
            if self._rows is None:
                from cellsrun.browse.greprows import GrepRows
                self._rows = GrepRows(self.q, self.quick, self._timed)
            yield from self._rows.entries(job, day)
            return
        q = self.q
        last_ts = None
        for line, where in job.lines():
            e = self._timed(job, line, where, last_ts, day)
            last_ts = e.ts
            if q.terms and not q.matches_text(e.raw.lower()):
                continue
            if q.until is not None and e.ts is not None and e.ts > q.until + SLACK:
                return  # time order: nothing later in this file can match
            if q.matches(e):
                yield e

    @staticmethod
    def _timed(job, line: str, where, last_ts, day):
        """The entry of a line grep found; without a time of its own, the nearest before it:
        in grep's context, else ``last_ts`` (the last line read), else the file's ``day``."""
        e = parse_line(line)
        if e.ts is None:
            e.ts = next((ts for ts in (parse_line(c.decode("utf-8", "replace")).ts
                                       for c in job.before(where)) if ts is not None), last_ts)
            if e.ts is None:
                e.day = day
        return e

    def _block_entries(self, block: bytes, last_ts, day=None):
        """Entries of the lines of ``block`` that can match: the lines holding the needle, or
        every line when there is none (then there is no full text either: its first term is
        the needle). A line without a time of its own takes the time of the line before it;
        without one either, the file's ``day`` (a date, or None when unknown)."""
        q = self.q
        if self.needle is None:
            stop = q.until + SLACK if q.until is not None else None
            for raw in block.split(b"\n")[:-1]:
                e = parse_line(raw.decode("utf-8", "replace"))
                if e.ts is None:
                    e.ts = last_ts
                    if last_ts is None:
                        e.day = day
                else:
                    last_ts = e.ts
                    if stop is not None and e.ts > stop:
                        self.past_until = True  # time order: the rest of this file is later
                        return
                yield e
            return
        quick = self.quick
        hay = block.lower() if self.lower else block
        find = hay.find
        needle = self.needle
        i = find(needle)
        while i >= 0:
            start = hay.rfind(b"\n", 0, i) + 1
            end = hay.find(b"\n", i)
            raw = block[start:end].decode("utf-8", "replace")
            if not q.terms or q.matches_text(raw.lower()):
                if quick is not None:
                    text = quick(raw)
                    if text is not None:
                        self._quick_line = raw
                        yield text
                        i = find(needle, end + 1)
                        continue
                e = parse_line(raw)
                if e.ts is None:
                    e.ts = _time_before(block, start) or last_ts
                    if e.ts is None:
                        e.day = day
                if e.ts is not None:
                    self._quick_line = None  # this entry's time is now the block's last
                yield e
            i = find(needle, end + 1)

    def block_matches(self, block: bytes, last_ts=None, day=None):
        """(index in ``block`` where the line starts, entry) of the lines of ``block`` that can
        match, chosen and timed as :meth:`_block_entries` does (the page reads with it, to know
        where each line is; the terminal's loop stays without that bookkeeping). No early stop
        at --until: the caller checks :meth:`Query.matches`."""
        q = self.q
        if self.needle is None:
            i = 0
            for raw in block.split(b"\n")[:-1]:
                e = parse_line(raw.decode("utf-8", "replace"))
                if e.ts is None:
                    e.ts = last_ts
                    if last_ts is None:
                        e.day = day
                else:
                    last_ts = e.ts
                yield i, e
                i += len(raw) + 1
            return
        hay = block.lower() if self.lower else block
        find = hay.find
        needle = self.needle
        i = find(needle)
        while i >= 0:
            start = hay.rfind(b"\n", 0, i) + 1
            end = hay.find(b"\n", i)
            raw = block[start:end].decode("utf-8", "replace")
            if not q.terms or q.matches_text(raw.lower()):
                e = parse_line(raw)
                if e.ts is None:
                    e.ts = _time_before(block, start) or last_ts
                    if e.ts is None:
                        e.day = day
                yield start, e
            i = find(needle, end + 1)


def _time_before(block: bytes, start: int, look: int = 50) -> float | None:
    """The time of the nearest timestamped line before offset ``start`` in ``block``."""
    end = start - 1
    for _ in range(look):
        if end <= 0:
            return None
        begin = block.rfind(b"\n", 0, end) + 1
        ts = parse_line(block[begin:end].decode("utf-8", "replace")).ts
        if ts is not None:
            return ts
        end = begin - 1
    return None


def _last_time(block: bytes) -> float | None:
    return _time_before(block, len(block) + 1, look=20)


def _live_day(f) -> "_dt.date":
    """The day a live file holds, as :func:`select_files` sees it: its last write's, or today
    when it is empty (a new day's file)."""
    import datetime as _dt
    st = os.fstat(f.fileno())
    return _dt.date.fromtimestamp(st.st_mtime) if st.st_size else _dt.date.today()


def follow(path: str, reader: Reader, offset: int, emit, poll: float = 0.25, stop=lambda: False,
           positions: bool = False) -> None:
    """Emit new matching entries of the live file from ``offset`` on, across rotations:
    when ``path`` names a new file, the old one is read to its end first. With ``positions``,
    ``emit(entry, inode, offset)``: the file the line is in and where it starts (the page opens
    an entry by them).

    Raises FileNotFoundError or :class:`Unreadable` (not a regular file, refused) if ``path``
    cannot be opened at the start. A later file at ``path`` that is not regular is not read:
    ``reader.warn`` is told once, and the old file is kept until a regular one appears."""
    f = open_log(path)
    ino = os.fstat(f.fileno()).st_ino
    day = _live_day(f)
    pos = offset
    last_ts = None
    refused = None  # (inode, mode, ctime) of what was reported as not readable at ``path``
    # (not the inode alone: one not held open can be reused at once by the file that replaces it)

    def read_new():
        nonlocal pos, last_ts
        for block, end in _plain_blocks(f, pos, block=reader.block):
            if positions:
                # Where lines were cut, the block holds newlines the file does not: find them
                # again on the file's bytes (only then) to give each line its offset.
                inserted = [] if len(block) == end - pos else cut(os.pread(f.fileno(), end - pos, pos))[1]
                for i, entry in reader.block_matches(block, last_ts, day):
                    last_ts = entry.ts if entry.ts is not None else last_ts
                    if reader.q.matches(entry):
                        emit(entry, ino, pos + i - bisect.bisect_left(inserted, i))
            else:
                for entry in reader._block_entries(block, last_ts, day):
                    last_ts = entry.ts if entry.ts is not None else last_ts
                    if reader.q.matches(entry):
                        emit(entry)
            pos = end

    try:
        while not stop():
            read_new()
            try:
                st = os.lstat(path)
                now_ino, seen = st.st_ino, (st.st_ino, st.st_mode, st.st_ctime_ns)
            except FileNotFoundError:
                now_ino = seen = ino  # between the rename and the new file: wait
            if now_ino != ino and seen != refused:
                read_new()  # the old file's last lines, written before the rename
                try:
                    new = open_log(path)
                except FileNotFoundError:
                    continue
                except Unreadable as e:
                    reader.warn(f"not following {path}: {e}")
                    refused = seen
                    continue
                f.close()
                f, ino, pos = new, os.fstat(new.fileno()).st_ino, 0
                day = _live_day(f)
                continue
            time.sleep(poll)
    finally:
        f.close()
