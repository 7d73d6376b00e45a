"""The files the browser reads: which ones (:func:`select_files`), and opening and decoding
them safely (:func:`open_log`, :func:`gunzip`).

Only regular files are read, as the rotator writes them: a ``cells.out`` that is a symlink
(to ``/dev/zero``, or to a log elsewhere), a FIFO or a device is refused — checked on the open
file itself (``O_NOFOLLOW``, then ``fstat``), so nothing swapped in after the listing gets read
either. A file that cannot be read (refused, unreadable, a damaged ``.gz``) raises
:class:`Unreadable` with the reason; the reader skips it with a warning and goes on with the
others.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import stat
from collections import namedtuple

from cellsrun.archive import ArchiveNames

BLOCK = 8 << 20       # bytes read from a plain file at once
GZ_OUT = 2 << 20      # decompressed bytes at once: zlib's output buffers for 8 MiB cost ~35 MiB of
GZ_IN = 256 << 10     # RSS, for 2 MiB ~6 MiB, at the same speed

LogFile = namedtuple("LogFile", "path day compressed live")

_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a directory"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class Unreadable(Exception):
    """A file (or the rest of one) the browser cannot read; ``str()`` says why."""


def select_files(directory: str, name: str, first: _dt.date | None, last: _dt.date | None) -> list[LogFile]:
    """The files whose day lies in [first, last] (None: unbounded), oldest first: the archives,
    then the live file. Every name of ours is listed whatever it is — a FIFO or a symlink named
    like an archive or in place of the live file — so that it is reported when it is opened
    (:func:`open_log` refuses it: the reader's warning), not silently left out. The live
    file's day is that of its last write (``lstat``: a symlink is not followed), today when
    it is empty."""
    names = ArchiveNames(name)
    archives = []
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.name.startswith(name):
                    archive = names.parse(entry.name)
                    if archive is not None:
                        archives.append(archive)
    except FileNotFoundError:
        pass
    archives.sort()
    files = [LogFile(a.path(directory), a.day, a.compressed, False) for a in archives
             if (first is None or a.day >= first) and (last is None or a.day <= last)]
    live = os.path.join(directory, name)
    try:
        st = os.lstat(live)
    except FileNotFoundError:
        return files
    regular = stat.S_ISREG(st.st_mode)
    day = _dt.date.fromtimestamp(st.st_mtime) if regular and st.st_size else _dt.date.today()
    if (first is None or day >= first) and (last is None or day <= last):
        files.append(LogFile(live, day, False, True))
    return files


def _refusal(mode: int) -> str | None:
    """Why a file of this mode is not read (None: it is a regular file)."""
    if stat.S_ISREG(mode):
        return None
    kind = next((what for test, what in _KINDS if test(mode)), None)
    return f"not a regular file ({kind})" if kind else "not a regular file"


def open_log(path: str):
    """``path`` opened for reading (a binary file object) if it is a regular file. Raises
    FileNotFoundError (gone since it was listed: rotated or removed) or :class:`Unreadable`:
    ``not a regular file (a FIFO)``, ``Permission denied``, ...

    ``lstat`` first, so that a device or a FIFO is never even opened (opening one can block or
    act); then ``O_NOFOLLOW | O_NONBLOCK`` and ``fstat`` on what was opened, which is what
    counts (the path may have changed in between)."""
    try:
        refusal = _refusal(os.lstat(path).st_mode)
        if refusal:
            raise Unreadable(refusal)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Unreadable("not a regular file (a symbolic link)") from None
        raise Unreadable(e.strerror or str(e)) from None
    try:
        refusal = _refusal(os.fstat(fd).st_mode)
        if refusal:
            raise Unreadable(refusal)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def plain_chunks(f, start: int, size: int = BLOCK):
    """The bytes of ``f`` from ``start``, ``size`` at a time."""
    f.seek(start)
    return iter(lambda: f.read(size), b"")


def gunzip(f):
    """The decompressed bytes of a ``.gz`` file object, in chunks of at most GZ_OUT bytes
    (bounded memory whatever the ratio: a gzip bomb included); concatenated members are read
    as one stream, as gzip does. Raises :class:`Unreadable` for a file that is not gzip, or is
    damaged or cut short, once the chunks before the damage have been given.

    With the ``isal`` package installed (ISA-L: the same format, inflated ~4x faster than
    zlib) it inflates; set CELLSRUN_ISAL=0 to use zlib. A file ISA-L finds damaged is read
    again by zlib from the start, its first bytes (already given) skipped, so that what is
    shown before the damage and the reason given are zlib's, whichever library is there."""
    fast = _isal()
    if fast is None:
        yield from Inflater(f).chunks()
        return
    done = 0
    try:
        for out in Inflater(f, lib=fast).chunks():
            done += len(out)
            yield out
        return
    except Unreadable:
        pass
    f.seek(0)
    for out in Inflater(f).chunks():
        if done >= len(out):
            done -= len(out)
            continue
        yield out[done:] if done else out
        done = 0


def _isal():
    """(decompressobj, error) of ISA-L, or None when it is missing or disabled."""
    if os.environ.get("CELLSRUN_ISAL", "1") == "0":
        return None
    try:
        from isal import isal_zlib
    except ImportError:
        return None
    return isal_zlib.decompressobj, isal_zlib.error


class Inflater:
    """:func:`gunzip`'s loop, with its state in view: ``d`` (the zlib decompressor of the
    member under way, which also holds the input read but not yet used), ``done`` (bytes
    given so far) and the file's position. The page's ``.gz`` index keeps copies of that
    state (see :mod:`gzindex`) and resumes from one with the same reads, so it gets the very
    bytes, and meets the very damage, that gunzip does. ``lib``: (decompressobj, error) of
    another library with zlib's interface (ISA-L's: no copies of its state); default zlib."""

    def __init__(self, f, d=None, done: int = 0, lib=None):
        if lib is None:
            import zlib
            lib = zlib.decompressobj, zlib.error
        self.decompressobj, self.error = lib
        self.f = f
        self.d = d if d is not None else self.decompressobj(31)
        self.done = done

    def chunks(self):
        f = self.f
        while True:
            d = self.d
            if d.eof:  # a member ended: another may follow
                data = d.unused_data or f.read(GZ_IN)
                if not data:
                    return
                d = self.d = self.decompressobj(31)
            else:
                data = d.unconsumed_tail or f.read(GZ_IN)
                if not data:
                    raise Unreadable(f"gzip data cut short after {self.done} bytes" if self.done or f.tell()
                                     else "empty, not a gzip file")
            try:
                out = d.decompress(data, GZ_OUT)
            except self.error as e:
                reason = str(e).split(": ", 1)[-1]
                raise Unreadable(f"damaged gzip data after {self.done} bytes ({reason})" if self.done
                                 else f"not a gzip file ({reason})") from None
            if out:
                self.done += len(out)
                yield out
