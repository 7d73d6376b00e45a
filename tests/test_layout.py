"""The import rules that keep the parts apart and the often-started commands light.

- the core never imports the CLI (``cellsrun.cli``);
- the browse path never imports supervisor, psutil, msgspec or the web stack;
- the rotate path never imports supervisor, psutil or the web stack;
- only ``archive.py`` knows what an archive name looks like.

Checked twice: statically (every import statement, including those inside functions) and
by running the real commands and looking at what they loaded.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, child_env

PACKAGE = REPO / "cellsrun"
WEB_STACK = {"starlette", "uvicorn", "anyio", "h11", "httptools", "websockets"}
HEAVY = {"supervisor", "psutil"}


def modules(under: str = "") -> dict[str, Path]:
    """Dotted module name -> file, for the package (or one subpackage)."""
    root = PACKAGE / under if under else PACKAGE
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported(path: Path) -> set[str]:
    """Every module name an import statement of ``path`` names (absolute, dotted)."""
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def top(name: str) -> str:
    return name.split(".")[0]


def test_the_core_never_imports_the_cli():
    offenders = {mod: sorted(n for n in imported(path) if n == "cellsrun.cli" or n.startswith("cellsrun.cli."))
                 for mod, path in modules().items()
                 if not (mod == "cellsrun.cli" or mod.startswith("cellsrun.cli.") or mod == "cellsrun.__main__")}
    offenders = {m: n for m, n in offenders.items() if n}
    assert not offenders, offenders


@pytest.mark.parametrize("part, banned", [
    ("browse", HEAVY | {"msgspec"} | WEB_STACK),
    ("rotate", HEAVY | WEB_STACK),
])
def test_the_often_started_parts_import_nothing_heavy(part, banned):
    found = {mod: sorted(n for n in imported(path) if top(n) in banned)
             for mod, path in modules(part).items()}
    found = {m: n for m, n in found.items() if n}
    assert not found, found


def test_the_shared_modules_import_no_part():
    """errors, datatypes, defaults, clock, archive, fifo, rotationlog: used by every part,
    so they must not pull any part (or anything heavy) in with them."""
    shared = {m: p for m, p in modules().items() if m.count(".") == 1 and p.parent == PACKAGE
              and m not in ("cellsrun.__main__",)}
    assert len(shared) >= 7, shared
    parts = ("cellsrun.rotate", "cellsrun.launch", "cellsrun.browse", "cellsrun.web", "cellsrun.ship",
             "cellsrun.cli")
    found = {m: sorted(n for n in imported(p) if n.startswith(parts) or top(n) in HEAVY | WEB_STACK)
             for m, p in shared.items()}
    found = {m: n for m, n in found.items() if n}
    assert not found, found


SAMPLE_NAMES = ["cells.out.2026-11-27", "cells.out.2026-11-27.gz", "cells.out.2026-11-27.1.gz",
                "cells.out.2026-11-27.gz.tmp"]
NOT_NAMES = ["cells.out.yesterday", "cells.out.2026-11-27.zip", "cells.out.x"]  # a generic pattern matches these too


def docstrings(tree) -> set[int]:
    """ids of the constants that are docstrings (prose may mention .gz)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def test_only_archive_py_knows_archive_names():
    """No other module spells a suffix of ours or holds a pattern that matches an archive name."""
    offenders = []
    for mod, path in modules().items():
        if mod == "cellsrun.archive":
            continue
        tree = ast.parse(path.read_text(), str(path))
        skip = docstrings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in skip:
                continue
            text = node.value
            if text in (".gz", ".gz.tmp") or re.search(r"\.gz\.tmp", text):
                offenders.append((mod, node.lineno, text))
                continue
            try:
                pattern = re.compile(text)
            except (re.error, RecursionError):
                continue
            if (any(pattern.fullmatch(name) for name in SAMPLE_NAMES)
                    and not any(pattern.fullmatch(name) for name in NOT_NAMES)):
                offenders.append((mod, node.lineno, text))
    assert not offenders, offenders


def loaded_by(argv: list[str], stdin: bytes = b"") -> set[str]:
    """The top-level modules a real run of ``cellsrun ARGV`` had loaded when it finished."""
    code = ("import sys, json\n"
            "from cellsrun.cli import main\n"
            "try:\n    main(sys.argv[1:])\n"
            "finally:\n    sys.stdout.flush()\n"
            "    print('\\nLOADED ' + json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code, *argv], input=stdin, capture_output=True,
                       env=child_env(), timeout=60)
    marker = r.stderr.rsplit(b"LOADED ", 1)
    assert len(marker) == 2, r.stderr.decode(errors="replace")
    return set(json.loads(marker[1]))


def test_cellsrun_logs_loads_nothing_heavy(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "cells.out").write_text('{"level":"info","ts":"2026-11-27T10:00:00Z","logger":"pydio.x","msg":"hello"}\n')
    found = loaded_by(["logs", "--dir", str(logs), "-q", "hello", "--json"]) & (HEAVY | {"msgspec"} | WEB_STACK)
    assert not found, f"cellsrun logs loaded {sorted(found)}"


@pytest.mark.parametrize("fmt", ["raw", "json"])
def test_cellsrun_rotate_loads_nothing_heavy(tmp_path, fmt):
    found = loaded_by(["rotate", "--dir", str(tmp_path / "logs"), "--format", fmt],
                      stdin=b'{"a":1}\nplain line\n') & (HEAVY | WEB_STACK)
    assert not found, f"cellsrun rotate --format {fmt} loaded {sorted(found)}"
    assert (tmp_path / "logs" / "cells.out").read_bytes().count(b"\n") == 2


def test_cellsrun_rotate_with_plain_flags_loads_no_argparse(tmp_path):
    """argparse and what it pulls in (shutil, locale, gettext) are ~5 ms of the rotator's start."""
    found = loaded_by(["rotate", "--dir", str(tmp_path / "logs"), "--keep-days", "3"], stdin=b"x\n")
    assert not found & {"argparse", "shutil", "gettext", "locale"}, sorted(found)
