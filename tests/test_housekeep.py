"""`cellsrun housekeep`: the rotator's compression and retention on a directory nobody rotates."""

import datetime as dt
import gzip
import os
import time

from conftest import listing, run

DAY = dt.timedelta(days=1)


def make(path, data: bytes, age_secs: float = 3600):
    path.write_bytes(data)
    t = time.time() - age_secs
    os.utime(path, (t, t))
    return data


def test_finished_days_compressed_today_kept_old_removed_foreign_untouched(tmp_path):
    today = dt.date.today()
    root = tmp_path / "cells"
    host = root / "node-a"
    host.mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not ours\n")
    live = make(host / f"cells.out.{today}", b"today 1\ntoday 2\n")
    yday = make(host / f"cells.out.{today - DAY}", b"yesterday\n" * 1000)
    older = make(host / f"cells.out.{today - 3 * DAY}", b"three days ago\n")
    make(host / f"cells.out.{today - 40 * DAY}", b"forty days ago\n")
    make(host / "notes.txt", b"foreign\n", age_secs=90 * 86400)
    (host / f"cells.out.{today - 50 * DAY}").symlink_to(outside)
    (host / f"cells.out.{today - 60 * DAY}").mkdir()
    # A second host whose yesterday was written to a moment ago: left for the next run.
    other = root / "node-b"
    other.mkdir()
    fresh = make(other / f"cells.out.{today - DAY}", b"just written\n", age_secs=0)

    r = run("housekeep", "--dir", str(root / "*"), "--keep-days", "30", "-v")
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    names = sorted(p.name for p in host.iterdir())
    assert names == sorted([f"cells.out.{today}", f"cells.out.{today - DAY}.gz",
                            f"cells.out.{today - 3 * DAY}.gz", "notes.txt",
                            f"cells.out.{today - 50 * DAY}", f"cells.out.{today - 60 * DAY}"]), listing(host)
    assert (host / f"cells.out.{today}").read_bytes() == live
    assert gzip.decompress((host / f"cells.out.{today - DAY}.gz").read_bytes()) == yday
    assert gzip.decompress((host / f"cells.out.{today - 3 * DAY}.gz").read_bytes()) == older
    assert (host / f"cells.out.{today - 50 * DAY}").is_symlink() and outside.read_bytes() == b"not ours\n"
    assert (other / f"cells.out.{today - DAY}").read_bytes() == fresh
    out = r.stdout.decode()
    assert f"compressed {host / f'cells.out.{today - DAY}'}" in out
    assert f"removed {host / f'cells.out.{today - 40 * DAY}'}" in out
    assert str(other) not in out


def test_max_total_never_counts_nor_removes_todays_file(tmp_path):
    today = dt.date.today()
    live = make(tmp_path / f"cells.out.{today}", b"x" * 50_000)
    for n in (1, 2, 3):
        make(tmp_path / f"cells.out.{today - n * DAY}", b"%d" % n * 1000)
    r = run("housekeep", "--dir", str(tmp_path), "--compress", "none", "--keep-days", "0",
            "--max-total", "2500")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"cells.out.{today}", f"cells.out.{today - DAY}", f"cells.out.{today - 2 * DAY}"]), listing(tmp_path)
    assert (tmp_path / f"cells.out.{today}").read_bytes() == live


def test_an_interrupted_compression_is_redone_and_a_renamed_one_finished(tmp_path):
    today = dt.date.today()
    a, b = today - 2 * DAY, today - DAY
    data_a = make(tmp_path / f"cells.out.{a}", b"a\n" * 100)
    make(tmp_path / f"cells.out.{a}.gz.tmp", b"half a gzip")          # crashed while writing
    data_b = make(tmp_path / f"cells.out.{b}", b"b\n" * 100)
    make(tmp_path / f"cells.out.{b}.gz", gzip.compress(data_b))        # renamed, not yet unlinked
    r = run("housekeep", "--dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"cells.out.{a}.gz", f"cells.out.{b}.gz"]
    assert gzip.decompress((tmp_path / f"cells.out.{a}.gz").read_bytes()) == data_a
    assert gzip.decompress((tmp_path / f"cells.out.{b}.gz").read_bytes()) == data_b


def test_in_a_rotators_directory_the_live_file_is_never_touched(tmp_path):
    today = dt.date.today()
    live = make(tmp_path / "cells.out", b"live\n", age_secs=5 * 86400)
    old = make(tmp_path / f"cells.out.{today - DAY}", b"old\n")
    r = run("housekeep", "--dir", str(tmp_path), "--keep-days", "1")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cells.out").read_bytes() == live
    assert gzip.decompress((tmp_path / f"cells.out.{today - DAY}.gz").read_bytes()) == old


def test_bad_input_is_one_error_line_and_nothing_is_touched(tmp_path):
    today = dt.date.today()
    kept = make(tmp_path / f"cells.out.{today - DAY}", b"kept\n")
    for args, code in ((["--dir", str(tmp_path / "missing")], 1),
                       (["--dir", str(tmp_path / "nothing-*")], 1),
                       (["--dir", str(tmp_path), "--keep-days", "-3"], 2),
                       (["--dir", str(tmp_path), "--max-total", "lots"], 2),
                       (["--dir", str(tmp_path), "--compress", "xz"], 2),
                       ([], 2)):
        r = run("housekeep", *args)
        lines = r.stderr.decode().splitlines()
        assert r.returncode == code and len(lines) == 1 and lines[0].startswith("Error: "), (args, r.stderr)
    assert [p.name for p in tmp_path.iterdir()] == [f"cells.out.{today - DAY}"]
    assert (tmp_path / f"cells.out.{today - DAY}").read_bytes() == kept
