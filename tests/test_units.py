"""Pure parts: converters, archive names, the calendar, retention selection. Fake clocks only."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cellsrun.archive import Archive, ArchiveNames
from cellsrun.clock import Clock
from cellsrun.datatypes import byte_size, file_name, non_negative_int
from cellsrun.rotate.retention import select_expired

D = dt.date.fromisoformat


# -- datatypes ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [("0", 0), ("1048576", 1 << 20), ("500MB", 500 << 20),
                                        ("2GiB", 2 << 30), ("1.5k", 1536), ("10 kb", 10240)])
def test_byte_size(text, value):
    assert byte_size(text) == value


@pytest.mark.parametrize("text", ["10XB", "", "-1MB", "MB", "1e3"])
def test_byte_size_names_the_bad_value(text):
    with pytest.raises(ValueError, match=repr(text).replace("\\", "\\\\").replace(".", r"\.")):
        byte_size(text)


def test_non_negative_int():
    assert non_negative_int("7") == 7
    for bad in ("-1", "x", "1.5"):
        with pytest.raises(ValueError, match=repr(bad).replace(".", r"\.")):
            non_negative_int(bad)


def test_file_name():
    assert file_name("cells.out") == "cells.out"
    for bad in ("a/b", "..", "", "."):
        with pytest.raises(ValueError):
            file_name(bad)


# -- archive names --------------------------------------------------------------------------

def test_archive_names_round_trip():
    n = ArchiveNames("cells.out")
    for seq in (0, 1, 12):
        for gz in (False, True):
            name = n.make(D("2026-11-27"), seq, gz)
            assert n.parse(name) == Archive(D("2026-11-27"), seq, gz, name)
    assert n.make(D("2026-11-27"), 2, True) == "cells.out.2026-11-27.2.gz"


@pytest.mark.parametrize("foreign", [
    "cells.out", "cells.out.2026-13-01", "cells.out.2026-11-27.gz.tmp", "cells.out.2026-11-27.tmp",
    "cells.out.2026-11-27.0", "cells.out.2026-11-27.bak", "xcells.out.2026-11-27",
    "cells.out.2026-11-27.1.2", "other.out.2026-11-27", "cells.out.26-11-27"])
def test_foreign_names_are_not_archives(foreign):
    assert ArchiveNames("cells.out").parse(foreign) is None


def test_temp_names():
    n = ArchiveNames("cells.out")
    assert n.is_temp("cells.out.2026-11-27.gz.tmp")
    assert n.is_temp("cells.out.2026-11-27.3.gz.tmp")
    assert not n.is_temp("cells.out.2026-11-27.tmp")
    assert not n.is_temp("cells.out.2026-11-27.gz")


def test_suffixes_come_from_archive_py():
    from cellsrun.archive import compressed_name, compressing_name, plain_name
    assert compressed_name("cells.out.2026-11-27.1") == "cells.out.2026-11-27.1.gz"
    assert compressing_name("cells.out.2026-11-27") == "cells.out.2026-11-27.gz.tmp"
    assert plain_name("cells.out.2026-11-27.gz.tmp") == "cells.out.2026-11-27"
    with pytest.raises(ValueError):
        plain_name("cells.out.2026-11-27.gz")
    n = ArchiveNames("cells.out")
    assert n.is_temp(compressing_name("cells.out.2026-11-27"))
    assert n.lock == "cells.out.lock"
    assert n.parse(n.lock) is None and not n.is_temp(n.lock)  # never an archive: retention skips it


def test_scan_and_free_names(tmp_path):
    n = ArchiveNames("cells.out")
    for name in ["cells.out.2026-11-27", "cells.out.2026-11-26.gz", "cells.out.2026-11-27.1.gz",
                 "cells.out.2026-11-25.gz.tmp", "notes.txt", "cells.out"]:
        (tmp_path / name).write_text("x")
    (tmp_path / "cells.out.2026-11-20").symlink_to(tmp_path / "notes.txt")
    (tmp_path / "cells.out.2026-11-21").mkdir()
    archives, temps = n.scan(str(tmp_path))
    assert [a.filename for a in archives] == [
        "cells.out.2026-11-26.gz", "cells.out.2026-11-27", "cells.out.2026-11-27.1.gz"]
    assert temps == ["cells.out.2026-11-25.gz.tmp"]
    assert n.free(str(tmp_path), D("2026-11-27")) == "cells.out.2026-11-27.2"
    assert n.free(str(tmp_path), D("2026-11-26")) == "cells.out.2026-11-26.1"
    assert n.free(str(tmp_path), D("2026-11-25")) == "cells.out.2026-11-25.1"  # .gz.tmp reserved
    assert n.free(str(tmp_path), D("2026-11-20")) == "cells.out.2026-11-20.1"  # symlink reserved


# -- the calendar ---------------------------------------------------------------------------

def _at(zone, text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


@pytest.mark.parametrize("zone,day,hours", [
    ("Europe/Paris", "2026-03-29", 23),       # spring forward: a 23 h day
    ("Europe/Paris", "2026-10-25", 25),       # fall back: a 25 h day
    ("America/Sao_Paulo", "2018-11-04", 23),  # midnight does not exist: the day starts at 01:00
    ("America/Havana", "2026-03-08", 23),
    ("America/Sao_Paulo", "2018-02-17", 25),  # 00:00 becomes 23:00 again: a 25 h day
    ("UTC", "2026-11-27", 24),
])
def test_day_length_and_boundaries(zone, day, hours):
    clock = Clock(ZoneInfo(zone))
    d = D(day)
    start = clock.next_day_start(d - dt.timedelta(days=1), _at(zone, f"{d - dt.timedelta(days=1)}T12:00"))
    end = clock.next_day_start(d, start)
    assert (end - start) == hours * 3600
    assert clock.day_of(start) == d and clock.day_of(start - 1) < d
    assert clock.day_of(end) == d + dt.timedelta(days=1) and clock.day_of(end - 1) == d
    if zone == "America/Sao_Paulo" and hours == 23:
        assert clock.local(start).hour == 1  # no 00:00 that day


def test_posix_offset_with_seconds(monkeypatch):
    import time
    monkeypatch.setenv("TZ", "XYZ-05:23:17")
    time.tzset()
    try:
        clock = Clock()
        t = 1_800_000_000.0
        boundary = clock.next_day_start(clock.day_of(t), t)
        local = dt.datetime.fromtimestamp(boundary)
        assert (local.hour, local.minute, local.second) == (0, 0, 0)
        assert boundary - t < 86400
        assert clock.rfc3339(boundary).endswith("+05:23:17")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_boundary_far_ahead_is_found_quickly():
    clock = Clock(dt.timezone.utc)
    t = _at("UTC", "2026-01-01T00:00")
    assert clock.next_day_start(D("2030-01-01"), t) == _at("UTC", "2030-01-02T00:00")


def test_rfc3339_utc():
    assert Clock.utc().rfc3339(0.5) == "1970-01-01T00:00:00.500Z"


# -- retention selection --------------------------------------------------------------------

def _arch(day, seq=0, gz=True):
    return Archive(D(day), seq, gz, f"cells.out.{day}")


def test_keep_days_uses_the_date_in_the_name():
    archives = [(_arch("2026-11-%02d" % d), 100) for d in range(1, 28)]
    doomed = select_expired(archives, D("2026-11-28"), keep_days=7, max_total=0)
    assert [a.day for a in doomed] == [D("2026-11-%02d" % d) for d in range(1, 21)]
    assert select_expired(archives, D("2026-11-28"), keep_days=0, max_total=0) == []


def test_max_total_removes_oldest_first():
    archives = [(_arch("2026-11-01"), 500), (_arch("2026-11-02"), 300), (_arch("2026-11-02", 1), 300),
                (_arch("2026-11-03"), 200)]
    doomed = select_expired(archives, D("2026-11-28"), keep_days=0, max_total=600)
    assert [(a.day.day, a.seq) for a in doomed] == [(1, 0), (2, 0)]
    assert select_expired(archives, D("2026-11-28"), keep_days=0, max_total=1300) == []


def test_both_limits_together():
    archives = [(_arch("2026-11-01"), 500), (_arch("2026-11-26"), 300), (_arch("2026-11-27"), 300)]
    doomed = select_expired(archives, D("2026-11-28"), keep_days=7, max_total=400)
    assert [a.day.day for a in doomed] == [1, 26]
