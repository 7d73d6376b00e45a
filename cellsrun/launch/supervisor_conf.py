"""Render supervisord's configuration from the templates in etc/.

Values are escaped for supervisord: ``%`` doubles (supervisord expands ``%(name)s``
in its values), commands are joined with POSIX shell quoting, which supervisord
undoes with ``shlex.split`` — no shell ever runs them.
"""

from __future__ import annotations

import os
import shlex
import string
import sys

from cellsrun.defaults import LIVE_NAME, ROTATOR, SERVICE
from cellsrun.errors import UsageError



def _value(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise UsageError(f"a newline cannot go into supervisord's configuration: {text!r}")
    return text.replace("%", "%%")


def _command(argv: list[str]) -> str:
    return _value(shlex.join(argv))


def cellsrun_argv() -> list[str]:
    """How supervisord starts cellsrun itself: this interpreter, by absolute path."""
    return [sys.executable, "-m", "cellsrun"]


def rotate_argv(s) -> list[str]:
    argv = cellsrun_argv() + ["rotate", "--input", s.fifo, "--dir", s.log_dir, "--name", LIVE_NAME,
                              "--keep-days", str(s.keep_days), "--compress", s.compress,
                              "--format", "json" if s.json_logs else "raw", "--logger", SERVICE]
    if s.max_total:
        argv += ["--max-total", str(s.max_total)]
    return argv


def exec_argv(s, require_cells: bool = True) -> list[str]:
    return cellsrun_argv() + ["exec", "--output", s.fifo, "--log", s.log, "--",
                              *s.service_argv(require_cells)]


def _render(name: str, values: dict) -> str:
    """Fill in the template ``name`` shipped in the package's ``etc`` (the repo's top-level etc/)."""
    from cellsrun import templates
    return string.Template(templates.read(name)).substitute(values)


def programs(s, require_cells: bool = True) -> str:
    """The two [program:] blocks (also what `cellsrun config --supervisor` prints, where
    ``require_cells=False`` lets `cells start` stand even if cells is not installed yet)."""
    return _render("programs.conf.tmpl", {
        "rotator": ROTATOR, "service": SERVICE,
        "rotate_command": _command(rotate_argv(s)),
        "exec_command": _command(exec_argv(s, require_cells)),
        "log_dir": _value(s.log_dir), "home": _value(s.home),
        "startsecs": str(int(s.startsecs)), "stopwaitsecs": str(int(s.stopwaitsecs)),
    })


def render(s) -> str:
    """The whole supervisord.conf for settings ``s``."""
    return _render("supervisord.conf.tmpl", {
        "generated": f"cellsrun {_version()}",
        "socket": _value(s.socket), "pidfile": _value(s.pidfile), "home": _value(s.home),
        "log_dir": _value(s.log_dir), "programs": programs(s), "inet_http_server": "",
    })


def system_blocks(s) -> str:
    """What `cellsrun config --supervisor` prints: a header saying where it goes, the blocks."""
    return (_render("system-header.conf.tmpl", {"home": s.home}) + "\n"
            + programs(s, require_cells=False))


def write(s) -> bool:
    """Write <home>/supervisord.conf (0640, atomically); True if its content changed."""
    text = render(s)
    try:
        with open(s.conf) as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    tmp = s.conf + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o640)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, s.conf)
    return True


def _version() -> str:
    from cellsrun import __version__
    return __version__
