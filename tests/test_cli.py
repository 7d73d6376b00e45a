"""The command line's own messages: one Error: line naming what is wrong and where help is."""

from __future__ import annotations

import pytest

from conftest import run


@pytest.mark.parametrize("argv, expected", [
    (["logs", "--levle", "error"], "unknown option '--levle' for 'cellsrun logs'; did you mean --level? "
                                   "(see 'cellsrun logs --help')"),
    (["rotate", "--max-lien", "2MiB"], "did you mean --max-line?"),
    (["logs", "-x"], "unknown option '-x' for 'cellsrun logs' (see 'cellsrun logs --help')"),
    (["logs", "stray"], "unexpected argument 'stray' (see 'cellsrun logs --help')"),
    (["start", "--rate", "5"], "e.g. cellsrun start --demo -- --rate 5"),
    (["start", "--max-total", "-5GB"], "argument --max-total: invalid size '-5GB' (a size cannot be negative"),
    (["rotate", "--keep-days", "-5"], "argument --keep-days: invalid number of days '-5' (must be from 0 to 36500)"),
    (["logs", "--around", "now", "--minutes", "-2"], "invalid --minutes -2 (must be 0 or more)"),
])
def test_usage_errors_say_what_and_where(argv, expected, tmp_path):
    r = run(*argv, "--dir", str(tmp_path)) if argv[0] in ("logs",) else run(*argv, input=b"")
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    assert expected in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("words", [
    [],
    ["--dir", "/tmp/x"],
    ["--dir=/tmp/x", "--format", "json", "--utc", "--logger", "cells"],
    ["--input", "/tmp/f", "--name", "app.log", "--keep-days", "7", "--max-total", "5GB",
     "--compress", "none", "--max-line", "64KiB", "--exit-with-parent"],
    ["--keep-days=0", "--keep-days", "3", "--debug"],          # the last one counts, as in argparse
    ["--max-total=1.5GiB", "--format=raw", "--compress=gzip"],
])
def test_rotate_plain_parse_equals_argparse(words):
    """`cellsrun rotate` reads its usual flags without argparse (it starts at every restart):
    the result must be what argparse makes of the same words."""
    from cellsrun.cli import _parse
    from cellsrun.cli.rotate import parse_plain
    fast = parse_plain(words)
    assert fast is not None
    assert vars(fast) == vars(_parse(["rotate", *words]))


@pytest.mark.parametrize("words", [
    ["--help"], ["-h"], ["--keep", "3"], ["--keep-days", "-5"], ["--keep-days", "x"],
    ["--format", "yaml"], ["--utc=1"], ["--dir"], ["stray"], ["--input", "--dir"], ["--", "x"],
])
def test_rotate_plain_parse_leaves_the_unusual_to_argparse(words):
    from cellsrun.cli.rotate import parse_plain
    assert parse_plain(words) is None
