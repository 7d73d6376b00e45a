"""Read entries from cells.out and its archives: only the files a query needs, fast.

- Files: archives (``.gz`` read transparently, ``.gz.tmp`` ignored) then the live file, oldest
  first; a file is opened only if its day can hold a match (see Query.day_range).
- Full text (and --user/--ip) are first looked for as bytes in big blocks, so only the lines
  that contain them are decoded and parsed: this is what keeps `-q` near grep's speed.
- Plain files are binary-searched for --since (lines are in time order), and reading stops
  SLACK seconds past --until: a period inside a 1 GB file costs a few reads, not a scan.
- Follow: after the matches, the live file is watched; when it is renamed at midnight the
  old one is read to its end before the new one is opened, so nothing is missed or repeated.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections import namedtuple

from cellsrun.archive import ArchiveNames
from cellsrun.browse.entries import parse_line

BLOCK = 8 << 20
SLACK = 10.0  # seconds of disorder tolerated around a period's ends (lines are near time order)

LogFile = namedtuple("LogFile", "path day compressed live")


def select_files(directory: str, name: str, first: _dt.date | None, last: _dt.date | None) -> list[LogFile]:
    """The files whose day lies in [first, last] (None: unbounded), oldest first."""
    names = ArchiveNames(name)
    try:
        archives, _ = names.scan(directory)
    except FileNotFoundError:
        archives = []
    files = [LogFile(a.path(directory), a.day, a.compressed, False) for a in archives
             if (first is None or a.day >= first) and (last is None or a.day <= last)]
    live = os.path.join(directory, name)
    try:
        st = os.stat(live)
        day = _dt.date.fromtimestamp(st.st_mtime) if st.st_size else _dt.date.today()
        if (first is None or day >= first) and (last is None or day <= last):
            files.append(LogFile(live, day, False, True))
    except FileNotFoundError:
        pass
    return files


def _whole_lines(chunks, start: int = 0, complete_last: bool = False):
    """Re-cut byte ``chunks`` into blocks that end on a newline; yields (block, offset after it).
    A partial last line is left out (a live file: the rotator is still writing it), or with
    ``complete_last`` given a newline (an archive's last line)."""
    pos = start
    carry = b""
    for data in chunks:
        data = carry + data if carry else data
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            pos += cut
            yield data[:cut], pos
    if carry and complete_last:
        yield carry + b"\n", pos + len(carry)


def _plain_blocks(f, start: int):
    f.seek(start)
    return _whole_lines(iter(lambda: f.read(BLOCK), b""), start)


def _gz_blocks(f):
    return _whole_lines(_gunzip(f), complete_last=True)


def _gunzip(f):
    """Decompressed chunks of at most BLOCK bytes (bounded memory whatever the ratio)."""
    import zlib
    d = zlib.decompressobj(31)
    while True:
        data = d.unconsumed_tail or f.read(BLOCK // 4)
        if not data:
            return
        out = d.decompress(data, BLOCK)
        if d.eof and d.unused_data:  # a second gzip member follows
            rest = d.unused_data
            d = zlib.decompressobj(31)
            out += d.decompress(rest, BLOCK)
        if out:
            yield out


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


class Reader:
    """Yields the entries of ``files`` that match ``query``, in order."""

    def __init__(self, query):
        self.q = query
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
                job.close()

    def _greps(self, lf: LogFile) -> bool:
        """Whether grep finds the candidate lines of ``lf``: archives, when there is a needle
        and no binary search to do first."""
        return bool(self.grep) and not lf.live and not (self.q.since is not None and not lf.compressed)

    def _grep_job(self, lf: LogFile):
        from cellsrun.browse import grepscan
        needle = self.q.terms[0] if self.q.terms else self.needle.decode()
        return grepscan.GrepJob(self.grep, lf.path, lf.compressed, needle, ignore_case=bool(self.q.terms))

    def file_entries(self, lf: LogFile, job=None):
        """The matching entries of one file (``job``: its grep, if already started)."""
        q = self.q
        if job is not None or self._greps(lf):
            yield from self._grep_entries(job or self._grep_job(lf))
            return
        try:
            f = open(lf.path, "rb")
        except FileNotFoundError:  # rotated or removed since it was listed
            return
        with f:
            if lf.compressed:
                blocks = _gz_blocks(f)
            else:
                start = seek_time(f, os.fstat(f.fileno()).st_size, q.since) if q.since is not None else 0
                blocks = _plain_blocks(f, start)
            last_ts = None
            for block, pos in blocks:
                for entry in self._block_entries(block, last_ts):
                    last_ts = entry.ts if entry.ts is not None else last_ts
                    if q.matches(entry):
                        yield entry
                if self.past_until:
                    self.past_until = False
                    return
                block_end = _last_time(block)
                if block_end is not None:
                    last_ts = block_end
                if lf.live:
                    self.live_offset = pos
                if q.until is not None and block_end is not None and block_end > q.until + SLACK:
                    return  # time order: nothing later in this file can match

    def _grep_entries(self, job):
        """The matching entries of an archive, with grep finding the candidate lines."""
        q = self.q
        last_ts = None
        for raw, before in job.lines():
            e = parse_line(raw.decode("utf-8", "replace"))
            if e.ts is None:  # the nearest entry before it: in grep's context, else the last match
                e.ts = next((ts for ts in (parse_line(c.decode("utf-8", "replace")).ts
                                           for c in before()) if ts is not None), last_ts)
            last_ts = e.ts
            if q.terms and not q.matches_text(e.raw.lower()):
                continue
            if q.until is not None and e.ts is not None and e.ts > q.until + SLACK:
                return  # time order: nothing later in this file can match
            if q.matches(e):
                yield e

    def _block_entries(self, block: bytes, last_ts):
        """Entries of the lines of ``block`` that can match: the lines holding the needle, or
        every line when there is none (then there is no full text either: its first term is
        the needle). A line without a time of its own takes the time of the line before it."""
        q = self.q
        if self.needle is None:
            stop = q.until + SLACK if q.until is not None else None
            for raw in block.split(b"\n")[:-1]:
                e = parse_line(raw.decode("utf-8", "replace"))
                if e.ts is None:
                    e.ts = last_ts
                else:
                    last_ts = e.ts
                    if stop is not None and e.ts > stop:
                        self.past_until = True  # time order: the rest of this file is later
                        return
                yield e
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
                yield e
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


def follow(path: str, reader: Reader, offset: int, emit, poll: float = 0.25, stop=lambda: False) -> None:
    """Emit new matching entries of the live file from ``offset`` on, across rotations:
    when ``path`` names a new file, the old one is read to its end first."""
    f = open(path, "rb")
    ino = os.fstat(f.fileno()).st_ino
    pos = offset
    last_ts = None

    def read_new():
        nonlocal pos, last_ts
        for block, end in _plain_blocks(f, pos):
            for entry in reader._block_entries(block, last_ts):
                last_ts = entry.ts if entry.ts is not None else last_ts
                if reader.q.matches(entry):
                    emit(entry)
            pos = end

    try:
        while not stop():
            read_new()
            try:
                now_ino = os.stat(path).st_ino
            except FileNotFoundError:
                now_ino = ino  # between the rename and the new file: wait
            if now_ino != ino:
                read_new()  # the old file's last lines, written before the rename
                f.close()
                f = open(path, "rb")
                ino = os.fstat(f.fileno()).st_ino
                pos = 0
                continue
            time.sleep(poll)
    finally:
        f.close()
