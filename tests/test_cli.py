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
