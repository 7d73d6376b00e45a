"""The page's reading pieces without a server: the .gz index, newest-first pages and volume
counts against the reader's own entries — on plain logs and on hostile files (lines over
1 MiB, deep JSON, a last line without newline, damaged archives, a FIFO or a symlink in place
of cells.out) — Live's positions, and the signed handles."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import random
import threading

import pytest

from cellsrun.browse import files as browse_files
from cellsrun.browse import gzindex, newest, volume
from cellsrun.browse.lines import MAX_LINE as M
from cellsrun.browse.query import build_query
from cellsrun.browse.reader import Reader, follow, select_files
from conftest import wait_for
from test_logs_hostile import DAYS, deep_console, deep_json, deeper_json, entry, long_line, text, write

T0 = 1795000000.0  # 2026-11-18


def console(i: int, level="INFO", msg=None) -> bytes:
    ts = dt.datetime.fromtimestamp(T0 + i, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"{ts}\t{level}\tpydio.grpc.auth\t{msg or f'entry #{i}'}\t{{\"UserName\": \"u{i % 3}\"}}\n".encode()


def _iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat()


# -- the .gz index ---------------------------------------------------------------------------

def test_gz_index_reads_any_range_of_a_multi_member_archive(tmp_path, monkeypatch):
    monkeypatch.setattr(gzindex, "SPACING", 1 << 16)
    monkeypatch.setattr(browse_files, "GZ_IN", 1 << 10)
    rnd = random.Random(3)
    parts = [b"".join(console(i) for i in range(k * 3000, k * 3000 + 3000)) for k in range(3)]
    path = tmp_path / "a.gz"
    path.write_bytes(b"".join(gzip.compress(p) for p in parts))  # 3 members
    content = b"".join(parts)
    cache = gzindex.GzIndexCache()
    with open(path, "rb") as f:
        index = cache.get(f)
        assert index.size == len(content) and len(index.points) >= 8 and index.error is None
        for _ in range(200):
            a = rnd.randrange(len(content))
            b = min(len(content), a + rnd.randrange(1, 300_000))
            assert index.read(f, a, b) == content[a:b]
            assert index.line_start(f, a) == content.rfind(b"\n", 0, a) + 1
        assert cache.get(f) is index  # kept while the file is unchanged


@pytest.mark.parametrize("damage", ["cut-short", "garbage-after", "zero-padding", "not-gzip", "empty"])
def test_gz_index_ends_where_the_reader_stops_with_its_reason(tmp_path, damage):
    """The index's content is what the reader's gunzip gives, to the byte, and its error the
    reader's words — whatever the damage."""
    content = b"".join(console(i) for i in range(20000))
    data = gzip.compress(content)
    data = {"cut-short": data[: len(data) // 2], "garbage-after": data + b"garbage" * 100,
            "zero-padding": data + b"\0" * 16, "not-gzip": b"not gzip\n" * 10, "empty": b""}[damage]
    path = tmp_path / "t.gz"
    path.write_bytes(data)
    got, error = b"", None
    with open(path, "rb") as f:
        try:
            for chunk in browse_files.gunzip(f):
                got += chunk
        except browse_files.Unreadable as e:
            error = str(e)
    assert error is not None
    with open(path, "rb") as f:
        index = gzindex.GzIndex(f, os.path.getsize(path))
        assert (index.size, index.error) == (len(got), error)
        assert index.read(f, 0, index.size) == got


def test_gz_index_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(gzindex, "SPACING", 1 << 14)
    monkeypatch.setattr(browse_files, "GZ_IN", 1 << 10)
    cache = gzindex.GzIndexCache(max_points=30)
    for k in range(5):
        p = tmp_path / f"{k}.gz"
        p.write_bytes(gzip.compress(b"".join(console(i) for i in range(3000)), 1))
        with open(p, "rb") as f:
            cache.get(f)
    assert 1 <= len(cache._lru) < 5 and sum(len(i.points) for i in cache._lru.values()) <= 30


# -- pages: exactly what the reader gives, newest first --------------------------------------

def pages(files, q, limit, gz_cache=None):
    """Every entry, newest first, page by page: ([(position, entry)], page count, warnings)."""
    n = newest.Newest(Reader(q), gz_cache or gzindex.GzIndexCache())
    out, start, count = [], None, 0
    while True:
        page = n.page(files, start, limit)
        out += page.entries
        count += 1
        if page.next is None:
            return out, count, n.warnings
        assert page.next != start
        start = page.next


def reader_view(files, q):
    """What `cellsrun logs` shows: the Reader's entries (raw, time, level) and its warnings."""
    warnings = []
    got = [(e.raw, e.ts, e.level) for e in Reader(q, warn=warnings.append).entries(files)]
    return got, warnings


def test_pages_of_plain_and_gz_files_match_the_reader(tmp_path):
    d = tmp_path
    (d / "cells.out.2026-11-17.gz").write_bytes(gzip.compress(b"".join(console(i - 90000) for i in range(5000))))
    (d / "cells.out.2026-11-18").write_bytes(b"".join(console(i) for i in range(0, 7000)))
    (d / "cells.out").write_bytes(b"".join(console(i) for i in range(7000, 9000)) + b"2026-11-18T00:00:00Z\tINFO\thalf a li")
    for query in (build_query(T0), build_query(T0, terms=["#12"]), build_query(T0, user="u1"),
                  build_query(T0, since="2026-11-18T00:00:00Z")):
        files = select_files(str(d), "cells.out", *query.day_range())
        want = [e.raw for e in Reader(query).entries(files)][::-1]
        got, count, _ = pages(files, query, 97)
        assert [e.raw for _, e in got] == want and want
    got, count, _ = pages(select_files(str(d), "cells.out", None, None), build_query(T0), 1000)
    assert count == 14  # 14,000 entries / 1000: no empty trailing page


def _hostile(d, case, tmp_path):
    """Build one hostile log dir (DAYS[0..3], entries at 08:00:xx UTC)."""
    day = DAYS
    if case == "long-lines":  # a .gz, a plain archive ending without newline, the live file
        for i, (name, gz, nl) in enumerate(((f"cells.out.{day[0]}.gz", True, True), (f"cells.out.{day[1]}", False, False),
                                            ("cells.out", False, True))):
            write(d / name, [entry(day[i], 1, "info", "before needle"), long_line(), entry(day[i], 5, "error", "after needle")],
                  gz=gz, newline_at_end=nl)
    elif case == "deep-json":
        for i, (name, gz) in enumerate(((f"cells.out.{day[0]}.gz", True), ("cells.out", False))):
            write(d / name, [entry(day[i], 1, "info", "before"), deep_json(day[i]), deep_console(day[i]), deeper_json(),
                             entry(day[i], 5, "error", "after")], gz=gz)
    elif case == "no-newline-at-end":
        write(d / f"cells.out.{day[0]}", [entry(day[0], 1, "info", "first"), entry(day[0], 2, "error", "unterminated stop")],
              newline_at_end=False)
        write(d / f"cells.out.{day[1]}.gz", [entry(day[1], 1, "warn", "gz unterminated")], gz=True, newline_at_end=False)
        write(d / "cells.out", [entry(day[2], 1, "error", "next day")])
    elif case == "damaged-gz":
        (d / f"cells.out.{day[0]}.gz").write_bytes(b"not gzip at all\n")
        lines = [entry(day[1], i // 50, "info" if i % 3 else "error", f"login {i} " + "x" * (i % 300)) for i in range(3000)]
        whole = gzip.compress(("\n".join(l.text for l in lines) + "\n").encode())
        (d / f"cells.out.{day[1]}.gz").write_bytes(whole[:len(whole) * 3 // 5])  # cut short mid-line
        (d / f"cells.out.{day[2]}.gz").write_bytes(gzip.compress(b"".join(
            (entry(day[2], i, "warn", f"padded {i}").text + "\n").encode() for i in range(5))) + b"\0" * 8)
        write(d / "cells.out", [entry(day[3], 1, "info", "login live")])
    elif case in ("fifo-live", "symlink-live", "symlink-to-dev-zero"):
        write(d / f"cells.out.{day[0]}", [entry(day[0], 1, "info", "archived needle"), entry(day[0], 2, "error", "archived")])
        if case == "fifo-live":
            os.mkfifo(d / "cells.out")
        elif case == "symlink-live":
            write(tmp_path / "elsewhere.log", [entry(day[1], 1, "info", "linked needle")])
            (d / "cells.out").symlink_to(tmp_path / "elsewhere.log")
        else:
            (d / "cells.out").symlink_to("/dev/zero")
    elif case == "live-ends-in-a-long-partial-line":
        # 2.5 MiB of a line still being written: its two whole 1 MiB pieces are shown, the rest
        # waits for the newline (as the reader reads the live file)
        (d / "cells.out").write_bytes((entry(day[0], 1, "info", "first").text + "\n").encode()
                                      + entry(day[0], 2, "error", "y" * (5 * M // 2)).text.encode())
    elif case == "untimed-lines":  # lines without a time of their own, at a file's start and between
        write(d / f"cells.out.{day[0]}", [text("panic: at the start"), text("\tgoroutine 1"),
                                           entry(day[0], 1, "info", "timed"), text("\tgoroutine 2 needle"),
                                           text('{"level":"error","msg":"json without ts needle"}')])
        write(d / "cells.out", [text('{"level":"warn","ts":"not a time","msg":"bad ts needle"}'),
                                entry(day[1], 1, "info", "live timed")] + [text(f"\tframe {i}") for i in range(300)]
              + [text('{"level":"error","msg":"far json needle"}')])
    for p in d.iterdir():
        if p.is_file() and not p.is_symlink() and p.name == "cells.out":
            t = dt.datetime.combine(DAYS[3], dt.time(9), dt.timezone.utc).timestamp()
            os.utime(p, (t, t))


CASES = ["long-lines", "deep-json", "no-newline-at-end", "damaged-gz", "fifo-live", "symlink-live",
         "symlink-to-dev-zero", "live-ends-in-a-long-partial-line", "untimed-lines"]
QUERIES = [{}, {"terms": ["NEEDLE"]}, {"level": "error"}, {"terms": ["splitmark"]}, {"terms": ["deep"]},
           {"level": ">=warn", "since": f"{DAYS[0]}T08:00:01.5Z"}, {"until": f"{DAYS[1]}T08:00:03Z"},
           {"user": "nobody"}]


@pytest.mark.parametrize("case", CASES)
def test_pages_on_hostile_files_are_the_readers_entries_in_reverse(tmp_path, case):
    """All pages, to the end, hold exactly the reader's entries (line, time, level) newest first,
    whatever the page size; each row's detail is that entry (a 1 MiB piece of a long line too);
    the warnings are the reader's."""
    d = tmp_path / "logs"
    d.mkdir()
    _hostile(d, case, tmp_path)
    cache = gzindex.GzIndexCache()
    times = {}  # position -> time without a filter: the detail's (a full-text search may look less far back)
    for kw in QUERIES:
        q = build_query(T0, **kw)
        files = select_files(str(d), "cells.out", *q.day_range())
        want, warned = reader_view(files, q)
        for limit in (1, 7, 100):
            got, _, warnings = pages(files, q, limit, cache)
            assert [(e.raw, e.ts, e.level) for _, e in got] == want[::-1], (kw, limit)
            assert sorted(warnings) == sorted(set(warned)), kw
        for pos, e in got:
            times.setdefault(pos, e.ts)
            again = newest.line_at(select_files(str(d), "cells.out", None, None), pos, cache)
            assert (again.raw, again.ts) == (e.raw, times[pos])
        if case == "long-lines" and not kw:
            assert max(len(e.raw) for _, e in got) == M and len(got) == 3 * 6


def test_the_live_head_is_where_the_reader_stops(tmp_path):
    """Live starts where the reader's shown lines end: after the whole 1 MiB pieces of a long
    last line still being written, never inside them."""
    d = tmp_path
    for tail in (b"", b"x" * 10, b"x" * M, b"x" * (M + 1), b"x" * (2 * M), b"x" * (2 * M + 7)):
        (d / "cells.out").write_bytes(console(1) + tail)
        files = select_files(str(d), "cells.out", None, None)
        reader = Reader(build_query(T0))
        list(reader.entries(files))
        head = newest.live_end(str(d / "cells.out"), gzindex.GzIndexCache())
        assert head.offset == reader.live_offset, len(tail)


def test_until_starts_reading_at_the_right_place(tmp_path):
    d = tmp_path
    data = b"".join(console(i) for i in range(0, 200_000, 2))
    (d / "cells.out").write_bytes(data)
    q = build_query(T0, since="2026-11-18T00:00:00Z", until=_iso(T0 + 100_001))
    for name in ("cells.out", "cells.out.2026-11-18.gz"):
        if name.endswith(".gz"):
            (d / "cells.out").unlink()
            (d / name).write_bytes(gzip.compress(data, 1))
        files = select_files(str(d), "cells.out", None, None)
        page = newest.Newest(Reader(q), gzindex.GzIndexCache()).page(files, None, 3)
        assert [e.msg for _, e in page.entries] == ["entry #100000", "entry #99998", "entry #99996"]


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


def test_line_at_opens_lines_and_pieces_and_nothing_else(tmp_path):
    (tmp_path / "cells.out").write_bytes(console(1) + b"z" * (2 * M + 5) + b"\n" + console(2))
    files = select_files(str(tmp_path), "cells.out", None, None)
    ino = os.stat(tmp_path / "cells.out").st_ino
    at = lambda offset: newest.line_at(files, newest.Position("cells.out", ino, offset), gzindex.GzIndexCache())  # noqa: E731
    start = len(console(1))
    assert at(0).msg == "entry #1"
    assert [at(start + k * M).raw for k in range(3)] == ["z" * M, "z" * M, "z" * 5]  # the pieces
    assert at(start + M).ts == at(0).ts  # a piece takes the time of the line before it
    assert at(start + 2 * M + 6).msg == "entry #2"
    for bad in (5, start + 1, start + M - 1, start + M + 1):
        with pytest.raises(ValueError):
            at(bad)


# -- Live: the reader's follow, with positions -----------------------------------------------

def test_follow_gives_each_entry_where_its_line_starts(tmp_path):
    """follow(positions=True) emits what follow emits, each with the inode and offset at which
    line_at finds that very entry — pieces of a line over 1 MiB included."""
    live = tmp_path / "cells.out"
    live.write_bytes(console(0))
    q = build_query(T0)
    got, plain, stop = [], [], threading.Event()
    threads = [threading.Thread(target=follow, args=(str(live), Reader(q), len(console(0)),
                                                     lambda e, ino, off: got.append((e, ino, off))),
                                kwargs={"poll": 0.05, "stop": stop.is_set, "positions": True}),
               threading.Thread(target=follow, args=(str(live), Reader(q), len(console(0)), plain.append),
                                kwargs={"poll": 0.05, "stop": stop.is_set})]
    for t in threads:
        t.start()
    try:
        with open(live, "ab") as f:
            f.write(console(1) + b"w" * (3 * M + 10) + b"\n" + console(2, "ERROR"))
        wait_for(lambda: len(got) == 6 and len(plain) == 6, 10, "six entries", lambda: (len(got), len(plain)))
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert [(e.raw, e.ts) for e, _, _ in got] == [(e.raw, e.ts) for e in plain]
    files = select_files(str(tmp_path), "cells.out", None, None)
    for e, ino, offset in got:
        again = newest.line_at(files, newest.Position("cells.out", ino, offset), gzindex.GzIndexCache())
        assert (again.raw, again.ts) == (e.raw, e.ts)


def test_block_matches_are_the_entries_the_reader_reads(tmp_path):
    """The page's per-line view of a block (Reader.block_matches) chooses and times the lines
    as the terminal's loop (Reader._block_entries) does."""
    rnd = random.Random(5)
    lines = [console(i, rnd.choice(["INFO", "ERROR"]), rnd.choice(["login ok", "upload", "Login failed"])).rstrip(b"\n")
             if rnd.random() < 0.8 else rnd.choice([b"\tgoroutine 3", b"panic: login", b"{\"level\":\"error\"}"])
             for i in range(2000)]
    block = b"\n".join(lines) + b"\n"
    for kw in ({}, {"terms": ["login"]}, {"user": "u1"}):
        reader = Reader(build_query(T0, **kw))
        located = list(reader.block_matches(block, 42.0))
        assert [(e.raw, e.ts) for _, e in located] == [(e.raw, e.ts) for e in reader._block_entries(block, 42.0)]
        assert all(block[i:].split(b"\n", 1)[0].decode() == e.raw for i, e in located)


# -- the volume picture: the reader's counts -------------------------------------------------

def reader_counts(files, q) -> dict:
    out = {}
    for e in Reader(q).entries(files):
        rank = volume.RANK.get(e.level)
        if rank is not None and e.ts is not None:
            out.setdefault(int(e.ts // 60 * 60), [0] * len(volume.LEVELS))[rank] += 1
    return out


def test_volume_counts_are_the_readers_to_the_minute_and_at_the_edges(tmp_path):
    d = tmp_path
    levels = ["INFO", "DEBUG", "WARN", "ERROR"]
    data = b"".join(console(i * 7, levels[i % 4]) for i in range(20000))
    (d / "cells.out.2026-11-18.gz").write_bytes(gzip.compress(data[: len(data) // 2]))
    (d / "cells.out").write_bytes(data[len(data) // 2:] + b"panic: not an entry\n")
    counter = volume.VolumeCounter(gzindex.GzIndexCache())
    for kw in ({}, {"level": ">=warn"}, {"since": _iso(T0 + 30_000.5), "until": _iso(T0 + 90_000.25)},
               {"since": _iso(T0 + 70_000), "until": _iso(T0 + 70_030)}, {"until": _iso(T0 + 50_020)},
               {"since": _iso(T0 + 60_013), "level": "error"}, {"user": "u2"}):
        q = build_query(T0, **kw)
        files = select_files(str(d), "cells.out", *q.day_range())
        counts = counter.count(Reader(q), files)
        assert counts.minutes == reader_counts(files, q) and not counts.partial and not counts.warnings, kw
    # the live file grows: only the new lines are counted, the totals follow
    with open(d / "cells.out", "ab") as f:
        f.write(console(200_000, "ERROR"))
    counts = counter.count(Reader(build_query(T0)), select_files(str(d), "cells.out", None, None))
    assert sum(r[volume.RANK["error"]] for r in counts.minutes.values()) == 5000 + 1


@pytest.mark.parametrize("case", CASES)
def test_volume_counts_on_hostile_files_are_the_readers(tmp_path, case):
    d = tmp_path / "logs"
    d.mkdir()
    _hostile(d, case, tmp_path)
    counter = volume.VolumeCounter(gzindex.GzIndexCache())
    for kw in ({}, {"level": "error"}, {"since": f"{DAYS[0]}T08:00:01.5Z"}, {"terms": ["needle"]}):
        q = build_query(T0, **kw)
        files = select_files(str(d), "cells.out", *q.day_range())
        _, warned = reader_view(files, q)
        counts = counter.count(Reader(q), files)
        assert counts.minutes == reader_counts(files, q), kw
        assert sorted(counts.warnings) == sorted(set(warned)), kw


def test_json_lines_are_counted_as_the_parser_takes_them(tmp_path):
    """Lines that only look like entries to a regular expression — JSON cut short, two objects,
    a nested "level", a level without a time (it takes the time before it), a console line
    with spaces or colours around its level, a time out of range — count as the reader parses them."""
    ts = "2026-11-18T10:00:05Z"
    lines = [f'{{"level":"error","ts":"{ts}","msg":"ok"}}', f'{{"level":"error","ts":"{ts}","msg":"cut',
             f'{{"level":"info","ts":"{ts}"}}{{"level":"error","ts":"{ts}"}}', f'{{"msg":{{"level":"error"}},"ts":"{ts}"}}',
             '{"level":"warn","msg":"no time"}', f'{{"level":"ERROR","ts":"{ts}"}}  ',
             f"{ts}\t INFO \tpydio.x\tspaces", f"{ts}\t\x1b[31mERROR\x1b[0m\tpydio.x\tcolour",
             "2026-11-18T10:00:61Z\tERROR\tpydio.x\tbad second", f"{ts}\tWARN", "2026-13-18T10:00:05Z\tERROR\tx\ty",
             f"{ts[:-1]}+0100\tWARNING\tpydio.x\tzone", "2026-11-18T10:01\tERROR\tpydio.x\tno seconds"]
    (tmp_path / "cells.out").write_text("\n".join(lines) + "\n")
    q = build_query(T0)
    files = select_files(str(tmp_path), "cells.out", None, None)
    assert volume.VolumeCounter(gzindex.GzIndexCache()).count(Reader(q), files).minutes == reader_counts(files, q)


# -- handles ---------------------------------------------------------------------------------

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
