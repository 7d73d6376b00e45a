"""The page's reading pieces without a server: the .gz index, newest-first pages over hostile
files, the volume counts against the reader's, and the signed handles."""

from __future__ import annotations

import gzip
import io
import os
import random
import zlib

import pytest

from cellsrun.browse import gzindex, newest, volume
from cellsrun.browse.query import build_query
from cellsrun.browse.reader import LogFile, Reader, select_files

T0 = 1795000000.0  # 2026-11-18


def console(i: int, level="INFO", msg=None) -> bytes:
    import datetime as dt
    ts = dt.datetime.fromtimestamp(T0 + i, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"{ts}\t{level}\tpydio.grpc.auth\t{msg or f'entry #{i}'}\t{{\"UserName\": \"u{i % 3}\"}}\n".encode()


def test_gz_index_reads_any_range_of_a_multi_member_archive(tmp_path, monkeypatch):
    monkeypatch.setattr(gzindex, "SPACING", 1 << 16)
    monkeypatch.setattr(gzindex, "CHUNK", 1 << 10)
    rnd = random.Random(3)
    parts = [b"".join(console(i) for i in range(k * 3000, k * 3000 + 3000)) for k in range(3)]
    path = tmp_path / "a.gz"
    path.write_bytes(b"".join(gzip.compress(p) for p in parts) + b"\0" * 16)  # 3 members, padding
    content = b"".join(parts)
    cache = gzindex.GzIndexCache()
    with open(path, "rb") as f:
        index = cache.get(f)
        assert index.size == len(content) and len(index.points) >= 8
        for _ in range(200):
            a = rnd.randrange(len(content))
            b = min(len(content), a + rnd.randrange(1, 300_000))
            assert index.read(f, a, b) == content[a:b]
        assert cache.get(f) is index  # kept while the file is unchanged


def test_gz_index_of_a_truncated_archive_ends_where_it_breaks(tmp_path):
    content = b"".join(console(i) for i in range(20000))
    data = gzip.compress(content)
    path = tmp_path / "t.gz"
    path.write_bytes(data[: len(data) // 2])
    with open(path, "rb") as f:
        index = gzindex.GzIndex(f, os.path.getsize(path))
        assert 0 < index.size < len(content)
        assert index.read(f, 0, index.size) == content[: index.size]


def test_gz_index_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(gzindex, "SPACING", 1 << 14)
    monkeypatch.setattr(gzindex, "CHUNK", 1 << 10)
    cache = gzindex.GzIndexCache(max_points=30)
    for k in range(5):
        p = tmp_path / f"{k}.gz"
        p.write_bytes(gzip.compress(b"".join(console(i) for i in range(3000)), 1))
        with open(p, "rb") as f:
            cache.get(f)
    assert 1 <= len(cache._lru) < 5 and sum(len(i.points) for i in cache._lru.values()) <= 30


def pages(files, q, limit, gz_cache=None):
    """Every entry, newest first, page by page: [(position, entry)], and the page count."""
    n = newest.Newest(Reader(q), gz_cache or gzindex.GzIndexCache())
    out, start, count = [], None, 0
    while True:
        page = n.page(files, start, limit)
        out += page.entries
        count += 1
        if page.next is None:
            return out, count
        assert page.next != start
        start = page.next


def test_pages_of_plain_and_gz_files_match_the_reader(tmp_path):
    d = tmp_path
    (d / "cells.out.2026-11-17.gz").write_bytes(gzip.compress(b"".join(console(i - 90000) for i in range(5000))))
    (d / "cells.out.2026-11-18").write_bytes(b"".join(console(i) for i in range(0, 7000)))
    (d / "cells.out").write_bytes(b"".join(console(i) for i in range(7000, 9000)) + b"2026-11-18T00:00:00Z\tINFO\thalf a li")
    for query in (build_query(T0), build_query(T0, terms=["#12"]), build_query(T0, user="u1"),
                  build_query(T0, since="2026-11-18T00:00:00Z")):
        files = select_files(str(d), "cells.out", *query.day_range())
        want = [e.raw for e in Reader(query).entries(files)][::-1]
        got, count = pages(files, query, 97)
        assert [e.raw for _, e in got] == want and want
    got, count = pages(select_files(str(d), "cells.out", None, None), build_query(T0), 1000)
    assert count == 14  # 14,000 entries / 1000: no empty trailing page


def test_a_giant_line_is_read_in_bounded_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(newest, "LINE_BOUND", 1 << 20)
    monkeypatch.setattr(newest, "MAX_BLOCK", 1 << 20)
    d = tmp_path
    giant = b"x" * (5 << 20)
    (d / "cells.out").write_bytes(console(1) + giant + b"\n" + console(2))
    files = select_files(str(d), "cells.out", None, None)
    got, _ = pages(files, build_query(T0), 100)
    raws = [e.raw for _, e in got]
    assert raws[0] == console(2).decode().rstrip("\n") and raws[-1] == console(1).decode().rstrip("\n")
    assert max(len(r) for r in raws) <= (1 << 20) and sum(len(r) for r in raws[1:-1]) == len(giant)


def test_until_starts_reading_at_the_right_place(tmp_path):
    d = tmp_path
    (d / "cells.out").write_bytes(b"".join(console(i) for i in range(0, 200_000, 2)))
    q = build_query(T0, since="2026-11-18T00:00:00Z", until=_iso(T0 + 100_001))
    files = select_files(str(d), "cells.out", None, None)
    page = newest.Newest(Reader(q), gzindex.GzIndexCache()).page(files, None, 3)
    assert [e.msg for _, e in page.entries] == ["entry #100000", "entry #99998", "entry #99996"]


def _iso(t):
    import datetime as dt
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat()


def test_positions_follow_the_live_file_renamed_at_midnight(tmp_path):
    d = tmp_path
    (d / "cells.out").write_bytes(b"".join(console(i) for i in range(300)))
    files = select_files(str(d), "cells.out", None, None)
    n = newest.Newest(Reader(build_query(T0)), gzindex.GzIndexCache())
    first = n.page(files, None, 100)
    os.rename(d / "cells.out", d / "cells.out.2026-11-18")
    (d / "cells.out").write_bytes(console(1000))
    files = select_files(str(d), "cells.out", None, None)
    second = n.page(files, first.next, 100)
    assert [e.msg for _, e in second.entries][:2] == ["entry #199", "entry #198"]
    # once compressed (a new inode), the old position is stale
    (d / "cells.out.2026-11-18.gz").write_bytes(gzip.compress((d / "cells.out.2026-11-18").read_bytes()))
    os.unlink(d / "cells.out.2026-11-18")
    with pytest.raises(newest.StalePosition):
        n.page(select_files(str(d), "cells.out", None, None), first.next, 100)


def test_line_at_checks_the_offset_starts_a_line(tmp_path):
    (tmp_path / "cells.out").write_bytes(console(1) + console(2))
    files = select_files(str(tmp_path), "cells.out", None, None)
    ino = os.stat(tmp_path / "cells.out").st_ino
    e = newest.line_at(files, newest.Position("cells.out", ino, len(console(1))), gzindex.GzIndexCache())
    assert e.msg == "entry #2"
    with pytest.raises(ValueError):
        newest.line_at(files, newest.Position("cells.out", ino, 5), gzindex.GzIndexCache())


def test_volume_counts_agree_with_the_reader(tmp_path):
    d = tmp_path
    levels = ["INFO", "DEBUG", "WARN", "ERROR"]
    data = b"".join(console(i * 7, levels[i % 4]) for i in range(20000))
    (d / "cells.out.2026-11-18.gz").write_bytes(gzip.compress(data[: len(data) // 2]))
    (d / "cells.out").write_bytes(data[len(data) // 2:] + b"panic: not an entry\n")
    counter = volume.VolumeCounter()
    for kw in ({}, {"level": ">=warn"}, {"since": _iso(T0 + 30_000), "until": _iso(T0 + 90_000)}, {"user": "u2"}):
        q = build_query(T0, **kw)
        files = select_files(str(d), "cells.out", *q.day_range())
        minutes, partial = counter.count(Reader(q), files)
        want = {}
        for e in Reader(q).entries(files):
            if e.level:
                want[e.level] = want.get(e.level, 0) + 1
        got = {}
        for row in minutes.values():
            for rank, n in enumerate(row):
                if n:
                    got[volume.LEVELS[rank]] = got.get(volume.LEVELS[rank], 0) + n
        if "since" in kw:  # whole minutes: the edges may count a few entries more
            assert all(0 <= got[k] - want[k] <= 2 * 9 for k in want), (got, want)
        else:
            assert got == want and not partial, kw
    # the live file grows: only the new lines are counted, the totals follow
    with open(d / "cells.out", "ab") as f:
        f.write(console(200_000, "ERROR"))
    minutes, _ = counter.count(Reader(build_query(T0)), select_files(str(d), "cells.out", None, None))
    assert sum(r[volume.RANK["error"]] for r in minutes.values()) == 5000 + 1


def test_signed_handles_refuse_tampering():
    from cellsrun.web.signing import BadHandle, Signer
    s = Signer("a" * 43)
    pos = newest.Position("cells.out", 42, 1000)
    h = s.position("cursor", pos)
    assert s.read_position("cursor", h) == pos
    with pytest.raises(BadHandle):
        s.read_position("entry", h)  # a cursor is not an entry id
    with pytest.raises(BadHandle):
        Signer("b" * 43).read_position("cursor", h)  # another server's
    payload, mac = h.split(".")
    for bad in (payload + "x." + mac, payload + "." + mac[::-1], "", "." * 3, "x" * 5000):
        with pytest.raises(BadHandle):
            s.read_position("cursor", bad)


def test_listen_address():
    from cellsrun.datatypes import listen_address
    assert listen_address("127.0.0.1:8035") == ("127.0.0.1", 8035)
    assert listen_address("[::1]:0") == ("::1", 0)
    for bad in ("8035", "host:", ":80", "h:99999", "a b:1", "[::1:80"):
        with pytest.raises(ValueError):
            listen_address(bad)
