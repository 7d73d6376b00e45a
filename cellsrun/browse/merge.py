"""Several log directories at once — a collector's one directory per host — merged in time order.

Each directory is read as `cellsrun logs` reads one (its own :class:`~cellsrun.browse.reader.Reader`:
only the files whose day can match, binary search for ``--since``, the grep prefilter), and the
per-directory streams are merged by entry time. Within a directory the order is the file's,
so a host's lines never change places; between hosts, ties keep the order of the directories.
The host of an entry is its directory's name (:func:`cellsrun.logdirs.host_of`).

A collector's directory has no live ``cells.out``: rsyslog writes today's lines straight into
``cells.out.<today>``. That file is read as the live one is (its last line only once complete;
following goes on from where reading ended), and following moves on to the next day's file
when it appears, after reading the old one to its end.

:func:`merged_entries` (or :class:`Merge`) is what a caller with several hosts uses — the
terminal browser, the page: it yields ``(host, entry)`` pairs.
"""

from __future__ import annotations

import datetime as _dt
import heapq
import os
import threading
import time

from cellsrun.defaults import LIVE_NAME

_NO_TIME = float("-inf")  # an entry with no time at all (a file's first lines) sorts first
SLACK = 10.0  # seconds a finished day's file is still read once the next day's has appeared


class Host:
    """One directory and the name it goes by (``name``: shown in the Host column)."""

    __slots__ = ("name", "directory")

    def __init__(self, name: str, directory: str):
        self.name = name
        self.directory = directory

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {self.directory!r})"


def hosts_of(directories: list[str], only: list[str] = ()) -> list[Host]:
    """The :class:`Host` of each directory, named after it; ``only``: keep these host names.

    Two directories with the same name (``/a/logs``, ``/b/logs``) go by their paths instead,
    so that no two hosts look alike.
    """
    from cellsrun.logdirs import host_of
    names = [host_of(d) for d in directories]
    hosts = [Host(n if names.count(n) == 1 else os.path.normpath(d), d) for n, d in zip(names, directories)]
    if only:
        wanted = set(only)
        hosts = [h for h in hosts if h.name in wanted]
    return hosts


def merged_entries(hosts: list[Host], query, *, name: str = LIVE_NAME, warn=None):
    """The entries of every host's files that match ``query``, as ``(host name, Entry)``,
    oldest first. Lazy: each directory is read as far as the merge needs it."""
    return Merge(hosts, query, name=name, warn=warn).entries()


class Merge:
    """The matching entries of several hosts: :meth:`entries` (merged by time), then
    :meth:`follow` (what is written after, as it comes). ``warn(text)``: told of each file
    skipped (default: a ``warning:`` line on stderr)."""

    def __init__(self, hosts: list[Host], query, *, name: str = LIVE_NAME, warn=None, today=None,
                 block: int | None = None):
        from cellsrun.browse.reader import Reader
        self.query = query
        self.name = name
        self.warn = warn
        today = today or _dt.date.today()
        first, end = query.day_range()
        self.sources = []  # (host, reader, files)
        for host in hosts:
            if os.path.isdir(host.directory):
                files = host_files(host.directory, name, first, end, today)
                reader = Reader(query, warn) if block is None else Reader(query, warn, block=block)
                self.sources.append((host, reader, files))

    def entries(self):
        streams = [_tagged(reader.entries(files), host.name, rank)
                   for rank, (host, reader, files) in enumerate(self.sources)]
        for _, _, host, entry in heapq.merge(*streams):
            yield host, entry

    def follow(self, emit, poll: float = 0.25, stop=lambda: False) -> None:
        """After :meth:`entries` is read: call ``emit(host name, entry)`` for each new matching
        entry of any host, as it is written (a host's in order), until ``stop()`` or Ctrl-C.
        One thread per host; ``emit`` is called under a lock."""
        lock = threading.Lock()
        done = threading.Event()
        threads = []
        for host, reader, files in self.sources:
            def emit_host(entry, host=host.name):
                with lock:
                    emit(host, entry)
            t = threading.Thread(target=self._follow_one, daemon=True, name=f"follow {host.name}",
                                 args=(host, reader, files, emit_host, poll, lambda: done.is_set() or stop()))
            t.start()
            threads.append(t)
        try:
            while not stop() and any(t.is_alive() for t in threads):
                time.sleep(poll)
        finally:
            done.set()
            for t in threads:
                t.join(2 * poll + 1)

    def _follow_one(self, host: Host, reader, files, emit, poll, stop) -> None:
        from cellsrun.browse.files import Unreadable
        from cellsrun.browse.reader import follow
        live = files[-1] if files and files[-1].live else None
        offset = reader.live_offset if live else 0
        try:
            if os.path.lexists(os.path.join(host.directory, self.name)):
                follow(os.path.join(host.directory, self.name), reader, offset if live else 0,
                       emit, poll, stop)
            else:
                follow_days(host.directory, self.name, reader, live.path if live else None, offset,
                            emit, poll, stop)
        except (OSError, Unreadable) as e:
            reader.warn(f"not following {host.directory}: {getattr(e, 'strerror', None) or e}")


def host_files(directory: str, name: str, first, end, today: _dt.date) -> list:
    """The files of one directory that a query reads (see :func:`reader.select_files`); in a
    collector's directory (no live file) today's plain day file counts as the live one."""
    from cellsrun.browse.reader import select_files
    files = select_files(directory, name, first, end)
    if files and not any(f.live for f in files):
        newest = files[-1]
        if not newest.compressed and newest.day >= today:
            files[-1] = newest._replace(live=True)
    return files


def follow_days(directory: str, name: str, reader, path: str | None, offset: int, emit, poll: float,
                stop, linger: float = SLACK, positions: bool = False) -> None:
    """Follow a collector's day files: ``path`` from ``offset`` (None: the newest plain day
    file, from its start), then each newer day's file when it appears. With ``positions``,
    ``emit(entry, inode, offset)`` (see :func:`reader.follow`). A day's file is still
    read for ``linger`` seconds after the next one appeared (the writer may finish a batch of
    the old day just after midnight). Raises :class:`~cellsrun.browse.files.Unreadable` for a
    file refused."""
    from cellsrun.archive import ArchiveNames
    names = ArchiveNames(name)

    def newest():
        try:
            archives, _ = names.scan(directory)
        except FileNotFoundError:
            return None
        plain = [a for a in archives if not a.compressed]
        return plain[-1] if plain else None

    current, tails = None, []  # tails: [_Tail, linger until (monotonic) or None], newest last
    if path is not None:
        current = names.parse(os.path.basename(path))
        tails.append([_Tail(path, offset, reader, emit, positions), None])
    try:
        while not stop():
            latest = newest()
            if latest is not None and (current is None or latest[:2] > current[:2]):
                if tails:
                    tails[-1][1] = time.monotonic() + linger
                tails.append([_Tail(latest.path(directory), 0, reader, emit, positions), None])
                current = latest
            for tail in list(tails):
                if tail[0].read_new():
                    tail[1] = tail[1] and time.monotonic() + linger
                elif tail[1] is not None and time.monotonic() > tail[1]:
                    tail[0].close()
                    tails.remove(tail)
            time.sleep(poll)
    finally:
        for tail, _ in tails:
            tail.close()


class _Tail:
    """One day file read as it grows: complete lines only, from ``pos``."""

    def __init__(self, path: str, pos: int, reader, emit, positions: bool = False):
        from cellsrun.browse.files import open_log
        self.f = open_log(path)
        self.ino = os.fstat(self.f.fileno()).st_ino
        self.pos = pos
        self.reader = reader
        self.emit = emit
        self.positions = positions
        self.last_ts = None

    def read_new(self) -> bool:
        """Emit the matching entries of the lines added since; True if there were any lines."""
        from cellsrun.browse.files import plain_chunks
        from cellsrun.browse.lines import whole_lines
        start = self.pos
        for block, end in whole_lines(plain_chunks(self.f, self.pos), self.pos):
            if self.positions:  # as reader.follow gives them: where each (piece of a) line starts
                import bisect
                from cellsrun.browse.lines import cut
                pos = self.pos
                inserted = [] if len(block) == end - pos else cut(os.pread(self.f.fileno(), end - pos, pos))[1]
                for i, entry in self.reader.block_matches(block, self.last_ts):
                    self.last_ts = entry.ts if entry.ts is not None else self.last_ts
                    if self.reader.q.matches(entry):
                        self.emit(entry, self.ino, pos + i - bisect.bisect_left(inserted, i))
            else:
                for entry in self.reader._block_entries(block, self.last_ts):
                    self.last_ts = entry.ts if entry.ts is not None else self.last_ts
                    if self.reader.q.matches(entry):
                        self.emit(entry)
            self.pos = end
        return self.pos != start

    def close(self) -> None:
        self.f.close()


def _tagged(entries, host: str, rank: int):
    """(time, rank, host, entry): heapq compares the first two only (rank breaks ties, and
    entries themselves are never compared)."""
    for entry in entries:
        yield (entry.ts if entry.ts is not None else _NO_TIME, rank, host, entry)
