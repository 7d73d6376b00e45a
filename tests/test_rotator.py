"""The Rotator and Housekeeper objects on real files, with a fake clock."""

import datetime as dt
import gzip
import os
from zoneinfo import ZoneInfo

import pytest

from cellsrun.archive import ArchiveNames
from cellsrun.clock import Clock
from cellsrun.rotate.compress import gzip_archive
from cellsrun.rotate.housekeeper import Housekeeper
from cellsrun.rotate.retention import apply_retention
from cellsrun.rotate.rotator import Rotator

from conftest import listing

PARIS = ZoneInfo("Europe/Paris")


class FakeTime:
    def __init__(self, iso, tz=PARIS):
        self.t = dt.datetime.fromisoformat(iso).replace(tzinfo=tz).timestamp()

    def __call__(self):
        return self.t

    def set(self, iso, tz=PARIS):
        self.t = dt.datetime.fromisoformat(iso).replace(tzinfo=tz).timestamp()


def make(tmp_path, iso="2026-11-27T23:59:59", tz=PARIS):
    now = FakeTime(iso, tz)
    archived = []
    r = Rotator(str(tmp_path), "cells.out", Clock(tz, now),
                on_archive=lambda filename, how: archived.append(filename))
    r.open()
    return r, now, archived


def test_rotates_at_local_midnight_into_the_day_it_holds(tmp_path):
    r, now, archived = make(tmp_path)
    r.write(b"late on the 27th\n")
    assert not r.due(now())
    now.set("2026-11-28T00:00:00")
    assert r.due(now())
    assert r.rotate(now()) == "cells.out.2026-11-27"
    r.write(b"early on the 28th\n")
    r.close()
    assert (tmp_path / "cells.out.2026-11-27").read_bytes() == b"late on the 27th\n"
    assert (tmp_path / "cells.out").read_bytes() == b"early on the 28th\n"
    assert archived == ["cells.out.2026-11-27"]
    assert oct((tmp_path / "cells.out").stat().st_mode & 0o777) == "0o640"


def test_a_dst_day_rotates_once_after_23_hours(tmp_path):
    r, now, archived = make(tmp_path, "2026-03-28T23:00:00")
    now.set("2026-03-29T00:00:00")
    r.write(b"a\n")
    r.rotate(now())
    assert r.next_rotation - now() == 23 * 3600
    now.t = r.next_rotation - 1
    assert not r.due(now())
    now.t += 1
    assert r.due(now())
    r.write(b"b\n")
    assert r.rotate(now()) == "cells.out.2026-03-29"


def test_an_empty_day_leaves_no_archive(tmp_path):
    r, now, archived = make(tmp_path)
    now.set("2026-11-28T00:00:00")
    assert r.rotate(now()) is None
    assert r.day == dt.date(2026, 11, 28)
    assert archived == []


def test_archive_names_are_never_reused(tmp_path):
    (tmp_path / "cells.out.2026-11-27.gz").write_bytes(b"old")
    r, now, archived = make(tmp_path)
    r.write(b"x\n")
    now.set("2026-11-28T00:00:01")
    assert r.rotate(now()) == "cells.out.2026-11-27.1"
    assert (tmp_path / "cells.out.2026-11-27.gz").read_bytes() == b"old"


def test_clock_jumping_back_never_overwrites_or_reorders(tmp_path):
    r, now, archived = make(tmp_path)
    r.write(b"day 27\n")
    now.set("2026-11-28T00:00:00")
    r.rotate(now())
    r.write(b"day 28\n")
    now.set("2026-11-27T12:00:00")  # the clock goes back a day and a half
    assert not r.due(now())
    r.write(b"still 28 for us\n")
    r.close()
    # A restart with the clock still wrong: the live file's day does not go back either.
    r2 = Rotator(str(tmp_path), "cells.out", Clock(PARIS, now))
    r2.open()
    assert r2.day == dt.date(2026, 11, 28)
    now.set("2026-11-29T00:00:00")
    assert r2.due(now())
    assert r2.rotate(now()) == "cells.out.2026-11-28"
    r2.close()
    assert (tmp_path / "cells.out.2026-11-27").read_bytes() == b"day 27\n"
    assert (tmp_path / "cells.out.2026-11-28").read_bytes() == b"day 28\nstill 28 for us\n"


def test_a_leftover_from_an_earlier_day_is_archived_under_its_own_day(tmp_path):
    live = tmp_path / "cells.out"
    live.write_bytes(b"written on the 25th\n")
    t25 = dt.datetime(2026, 11, 25, 22, 0, tzinfo=PARIS).timestamp()
    os.utime(live, (t25, t25))
    archived = []
    r = Rotator(str(tmp_path), "cells.out", Clock(PARIS, FakeTime("2026-11-27T10:00:00")),
                on_archive=lambda filename, how: archived.append((filename, how)))
    r.open()
    r.write(b"today\n")
    r.close()
    assert (tmp_path / "cells.out.2026-11-25").read_bytes() == b"written on the 25th\n"
    assert live.read_bytes() == b"today\n"
    assert archived == [("cells.out.2026-11-25", "archived leftover")]


def test_a_leftover_from_today_is_appended_to(tmp_path):
    (tmp_path / "cells.out").write_bytes(b"earlier today\n")
    r, now, archived = make(tmp_path, dt.datetime.now(PARIS).strftime("%Y-%m-%dT%H:%M:%S"))
    r.write(b"after restart\n")
    r.close()
    assert (tmp_path / "cells.out").read_bytes() == b"earlier today\nafter restart\n"
    assert archived == []


def test_refuses_a_symlinked_live_file(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"precious\n")
    (tmp_path / "cells.out").symlink_to(target)
    from cellsrun.errors import RuntimeFailure
    with pytest.raises(RuntimeFailure, match="not a regular file"):
        make(tmp_path)
    assert target.read_bytes() == b"precious\n"


def test_reopen_after_the_file_was_moved_away(tmp_path):
    r, now, _ = make(tmp_path, "2026-11-27T10:00:00")
    r.write(b"one\n")
    os.rename(tmp_path / "cells.out", tmp_path / "moved")
    r.write(b"two\n")
    r.reopen()
    r.write(b"three\n")
    r.close()
    assert (tmp_path / "moved").read_bytes() == b"one\ntwo\n"
    assert (tmp_path / "cells.out").read_bytes() == b"three\n"


# -- housekeeping ---------------------------------------------------------------------------

def keeper(tmp_path, **kw):
    return Housekeeper(str(tmp_path), ArchiveNames("cells.out"), today=lambda: dt.date(2026, 11, 28), **kw)


def test_gzip_is_crash_safe_and_recovery_finishes_it(tmp_path):
    payload = b"".join(b"line %d\n" % i for i in range(10000))
    # 1. crashed while writing the temp file: temp removed, archive compressed again
    (tmp_path / "cells.out.2026-11-25").write_bytes(payload)
    (tmp_path / "cells.out.2026-11-25.gz.tmp").write_bytes(b"\x1f\x8b half")
    # 2. crashed after the rename, before the unlink: the plain copy goes
    (tmp_path / "cells.out.2026-11-26").write_bytes(payload)
    (tmp_path / "cells.out.2026-11-26.gz").write_bytes(gzip.compress(payload))
    # 3. never started
    (tmp_path / "cells.out.2026-11-27").write_bytes(payload)
    hk = keeper(tmp_path)
    todo = hk.recover()
    assert todo == ["cells.out.2026-11-25", "cells.out.2026-11-27"]
    for name in todo:
        gzip_archive(str(tmp_path), name)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["cells.out.2026-11-25.gz", "cells.out.2026-11-26.gz", "cells.out.2026-11-27.gz"]
    for name in names:
        assert gzip.decompress((tmp_path / name).read_bytes()) == payload, name
    for name in ("cells.out.2026-11-25.gz", "cells.out.2026-11-27.gz"):  # the ones it made
        assert oct((tmp_path / name).stat().st_mode & 0o777) == "0o640"


def test_retention_touches_only_its_own_regular_files(tmp_path):
    old = ["cells.out.2026-10-01.gz", "cells.out.2026-10-02", "cells.out.2026-10-02.1.gz"]
    for name in old + ["cells.out.2026-11-27.gz"]:
        (tmp_path / name).write_bytes(b"x" * 100)
    foreign = tmp_path / "cells.out.2026-10-03.gz"  # a symlink with an archive's name
    victim = tmp_path / "precious.txt"
    victim.write_bytes(b"keep me")
    foreign.symlink_to(victim)
    (tmp_path / "cells.out.2026-10-04.bak").write_bytes(b"foreign")
    (tmp_path / "other.log.2026-10-01").write_bytes(b"foreign")
    removed = apply_retention(str(tmp_path), ArchiveNames("cells.out"), dt.date(2026, 11, 28),
                              keep_days=30, max_total=0)
    assert sorted(removed) == sorted(old)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["cells.out.2026-10-03.gz", "cells.out.2026-10-04.bak", "cells.out.2026-11-27.gz",
                    "other.log.2026-10-01", "precious.txt"], listing(tmp_path)
    assert victim.read_bytes() == b"keep me"


def test_retention_by_total_size(tmp_path):
    for day, size in [("2026-11-20", 400), ("2026-11-21", 400), ("2026-11-22", 400)]:
        (tmp_path / f"cells.out.{day}.gz").write_bytes(b"x" * size)
    apply_retention(str(tmp_path), ArchiveNames("cells.out"), dt.date(2026, 11, 28),
                    keep_days=0, max_total=900)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.out.2026-11-21.gz", "cells.out.2026-11-22.gz"]


# -- operator accidents and hostile leftovers (issue 7) ---------------------------------------

def test_a_leftover_with_a_future_mtime_is_today_and_rotates_tonight(tmp_path):
    live = tmp_path / "cells.out"
    live.write_bytes(b"from a clock far ahead\n")
    t2099 = dt.datetime(2099, 6, 1, 12, tzinfo=PARIS).timestamp()
    os.utime(live, (t2099, t2099))
    r, now, archived = make(tmp_path, "2026-11-27T10:00:00")
    assert r.day == dt.date(2026, 11, 27)
    assert r.next_rotation == dt.datetime(2026, 11, 28, tzinfo=PARIS).timestamp()
    r.write(b"today\n")
    now.set("2026-11-28T00:00:00")
    assert r.due(now()) and r.rotate(now()) == "cells.out.2026-11-27"
    r.close()
    assert (tmp_path / "cells.out.2026-11-27").read_bytes() == b"from a clock far ahead\ntoday\n"


def test_refuses_a_hard_linked_live_file(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"precious\n")
    os.link(target, tmp_path / "cells.out")
    from cellsrun.errors import RuntimeFailure
    with pytest.raises(RuntimeFailure, match="hard link"):
        make(tmp_path)
    assert target.read_bytes() == b"precious\n"


def test_live_file_deleted_before_midnight_is_recreated_and_rotated(tmp_path):
    warnings = []
    now = FakeTime("2026-11-27T23:00:00")
    archived = []
    r = Rotator(str(tmp_path), "cells.out", Clock(PARIS, now),
                on_archive=lambda filename, how: archived.append((filename, how)), warn=warnings.append)
    r.open()
    r.write(b"seen by the operator\n")
    assert r.check_live_path() is False  # nothing happened yet
    (tmp_path / "cells.out").unlink()
    r.write(b"written after the delete\n")
    now.set("2026-11-28T00:00:00")
    assert r.rotate(now()) == "cells.out.2026-11-27"  # no ENOENT
    assert archived == [("cells.out.2026-11-27", "rotated")]
    r.write(b"next day\n")
    r.close()
    # What went to the deleted inode since the last check is carried over to the new file.
    assert (tmp_path / "cells.out.2026-11-27").read_bytes() == b"written after the delete\n"
    assert (tmp_path / "cells.out").read_bytes() == b"next day\n"
    assert len(warnings) == 1 and "cells.out" in warnings[0] and "reopened" in warnings[0]


def test_live_directory_renamed_is_recreated_with_its_mode(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    os.chmod(logs, 0o710)
    warnings = []
    r = Rotator(str(logs), "cells.out", Clock(PARIS, FakeTime("2026-11-27T10:00:00")), warn=warnings.append)
    r.open()
    r.write(b"one\n")
    os.rename(logs, tmp_path / "moved")
    r.write(b"two\n")  # lands in the moved file: not lost
    assert r.check_live_path() is True
    r.write(b"three\n")
    r.close()
    assert (tmp_path / "moved" / "cells.out").read_bytes() == b"one\ntwo\n"
    assert (logs / "cells.out").read_bytes() == b"three\n"
    assert oct(logs.stat().st_mode & 0o777) == "0o710"
    assert len(warnings) == 1


def test_a_deleted_file_is_carried_over_from_the_start_of_a_line(tmp_path):
    """In raw mode the file may end inside a line at a check: the whole line is carried."""
    r, now, _ = make(tmp_path, "2026-11-27T10:00:00")
    r.write(b"whole\nhalf a ")
    assert r.check_live_path() is False
    (tmp_path / "cells.out").unlink()
    r.write(b"line\nafter\n")
    assert r.check_live_path() is True
    r.close()
    assert (tmp_path / "cells.out").read_bytes() == b"half a line\nafter\n"


def test_housekeeper_survives_any_exception_and_never_hangs(tmp_path):
    warnings = []
    (tmp_path / "cells.out.2026-11-20").write_bytes(b"x\n")
    hk = keeper(tmp_path, compress="none", keep_days=1_000_000, warn=warnings.append)
    hk.start()
    hk.new_archive("cells.out.2026-11-20")
    returns_within(10, hk.wait_idle)
    assert hk._thread.is_alive(), "the housekeeping thread died"
    assert warnings and "OverflowError" in warnings[0], warnings
    hk.keep_days = 1  # the next job still runs
    hk.new_archive("cells.out.2026-11-20")
    returns_within(10, hk.wait_idle)
    assert not (tmp_path / "cells.out.2026-11-20").exists()
    hk.close()


def returns_within(seconds, fn, *args, **kw):
    """fn's result, failing (not hanging) the test if it does not return in time."""
    import threading
    result = []
    t = threading.Thread(target=lambda: result.append(fn(*args, **kw)), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn.__name__} still waiting after {seconds}s"
    return result[0]


def test_wait_idle_never_waits_without_end(tmp_path):
    import time
    hk = keeper(tmp_path, compress="none")
    hk._queue.put(None)  # a job queued, but no thread to run it (as if it had died)
    assert returns_within(2, hk.wait_idle) is False
    # A long compression under way: a stop (TERM at end of input) ends the wait at once.
    (tmp_path / "cells.out.2026-11-27").write_bytes(os.urandom(64 << 20))
    hk = keeper(tmp_path)
    hk.start(["cells.out.2026-11-27"])
    t0 = time.monotonic()
    assert returns_within(1.5, hk.wait_idle, should_stop=lambda: time.monotonic() - t0 > 0.2) is False
    hk.close()


def test_retention_by_size_removes_future_dated_names_first(tmp_path):
    for day in ("2026-11-25", "2026-11-26", "2026-11-27", "2099-01-01", "2031-05-05"):
        (tmp_path / f"cells.out.{day}.gz").write_bytes(b"x" * 100)
    warnings = []
    apply_retention(str(tmp_path), ArchiveNames("cells.out"), dt.date(2026, 11, 28),
                    keep_days=0, max_total=250, warn=warnings.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.out.2026-11-26.gz", "cells.out.2026-11-27.gz"]
    assert warnings == []


def test_max_total_smaller_than_a_day_warns(tmp_path):
    (tmp_path / "cells.out.2026-11-27.gz").write_bytes(b"x" * 1000)
    warnings = []
    removed = apply_retention(str(tmp_path), ArchiveNames("cells.out"), dt.date(2026, 11, 28),
                              keep_days=0, max_total=500, warn=warnings.append)
    assert removed == ["cells.out.2026-11-27.gz"]
    assert len(warnings) == 1 and "--max-total" in warnings[0] and "cells.out.2026-11-27.gz" in warnings[0]


def test_a_symlink_put_in_place_of_a_deleted_file_is_never_written_through(tmp_path):
    warnings = []
    now = FakeTime("2026-11-27T23:00:00")
    r = Rotator(str(tmp_path), "cells.out", Clock(PARIS, now), warn=warnings.append)
    r.open()
    r.write(b"one\n")
    assert r.check_live_path() is False
    victim = tmp_path / "precious"
    victim.write_bytes(b"keep\n")
    (tmp_path / "cells.out").unlink()
    (tmp_path / "cells.out").symlink_to(victim)
    r.write(b"two\n")
    assert r.check_live_path() is False and r.check_live_path() is False
    assert len(warnings) == 1 and "cannot reopen" in warnings[0], warnings
    now.set("2026-11-28T00:00:00")
    assert r.rotate(now()) is None  # nothing renamed: the symlink is not ours
    assert (tmp_path / "cells.out").is_symlink() and victim.read_bytes() == b"keep\n"
    (tmp_path / "cells.out").unlink()  # the operator cleans up: the next check reopens
    r.write(b"three\n")
    assert r.check_live_path() is True
    now.set("2026-11-28T00:01:00")
    assert r.rotate(now()) == "cells.out.2026-11-27"
    r.close()
    assert (tmp_path / "cells.out.2026-11-27").read_bytes() == b"two\nthree\n"
    assert victim.read_bytes() == b"keep\n"
