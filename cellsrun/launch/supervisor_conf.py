r"""Render supervisord's configuration from the templates in etc/.

supervisord reads its file with Python's ConfigParser and then expands ``%(name)s`` in
most values, so what we write must survive three readers:

- ConfigParser ends a value at `` ;`` or `` #`` (an inline comment: the prefix after
  whitespace) and at a newline, and strips the value's ends;
- supervisord expands ``%`` once in a command and an ``environment=`` value, but
  *twice* in ``stdout_logfile`` (supervisor 4.2 and 4.3 alike);
- a command is split with ``shlex.split`` (POSIX rules, no comments) and exec'd directly.

So a command is quoted per argument in single quotes, with every ``;`` and ``#`` written
as ``\;`` / ``\#`` *outside* the quotes (never after whitespace, so never a comment),
and ``%`` doubled: any argument (spaces, quotes, ``$``, `` #``, ``%(x)s``, emoji...) reaches
the service byte for byte. What cannot be escaped everywhere is refused up front
(:func:`check_path`): a newline or NUL anywhere; in the working dir and the log dir, which
also go into plain values, ``%``, ``"``, a ``;`` or ``#`` after whitespace, and a
trailing space or quote. No shell ever runs a command.
"""

from __future__ import annotations

import os
import re
import string
import sys

from cellsrun.defaults import HOME_MARKER, LIVE_NAME, ROTATOR, SERVICE, WEB
from cellsrun.errors import UsageError

_PLAIN_ARG = re.compile(r"[A-Za-z0-9_@+=:,./-]+")   # needs no quoting (shlex's safe set, no %)


WRAPPER_HINT = ("; put the command in a wrapper script (#!/bin/sh, then `exec` the service with "
                "its arguments) and give that script instead")


def _check_text(text: str, what: str, hint: str = "") -> None:
    for bad, name in (("\n", "a newline"), ("\r", "a carriage return"), ("\0", "a NUL byte")):
        if bad in text:
            raise UsageError(f"{what} {text!r} holds {name}, which cannot reach the service "
                             f"through supervisord's configuration{hint}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what} {text!r} is not valid UTF-8") from None


def check_path(path: str, what: str) -> None:
    """Refuse a path that supervisord's plain values (log files, directory) would alter."""
    _check_text(path, what)
    why = None
    if "%" in path:
        why = "'%' (supervisord expands it, in log file names twice)"
    elif '"' in path:
        why = "a double quote"
    elif re.search(r"\s[;#]", path):
        why = "a ';' or '#' after a space (supervisord takes it for a comment)"
    elif path != path.rstrip() or path.endswith("'"):
        why = "a trailing space or quote"
    if why:
        raise UsageError(f"{what} {path!r} holds {why}; choose a path without it")


def quote_arg(arg: str) -> str:
    """One argument as supervisord's ``command=`` must hold it (see the module's docstring)."""
    _check_text(arg, "the argument", WRAPPER_HINT)
    if _PLAIN_ARG.fullmatch(arg):
        return arg
    out = []
    for part in re.split(r"([;#])", arg):
        if part in (";", "#"):
            out.append("\\" + part)
        elif part:
            out.append("'" + part.replace("'", "'\"'\"'") + "'")
    return "".join(out) or "''"


def _command(argv: list[str]) -> str:
    return " ".join(quote_arg(a) for a in argv).replace("%", "%%")


def _value(text: str) -> str:
    """A path in a plain value (already through :func:`check_path`: no ``%``, no comment)."""
    _check_text(text, "the value")
    return text


def cellsrun_argv() -> list[str]:
    """How supervisord starts cellsrun itself: this interpreter, by absolute path."""
    return [sys.executable, "-m", "cellsrun"]


def rotate_argv(s) -> list[str]:
    argv = cellsrun_argv() + ["rotate", "--input", s.fifo, "--dir", s.log_dir, "--name", LIVE_NAME,
                              "--keep-days", str(s.keep_days), "--compress", s.compress,
                              "--format", "json" if s.json_logs else "raw", "--logger", SERVICE,
                              "--exit-with-parent"]
    if s.max_total:
        argv += ["--max-total", str(s.max_total)]
    if s.stamp:
        argv += ["--stamp"]
    return argv


def exec_argv(s, require_cells: bool = True) -> list[str]:
    return cellsrun_argv() + ["exec", "--output", s.fifo, "--log", s.log, "--",
                              *s.service_argv(require_cells)]


def _render(name: str, values: dict) -> str:
    """Fill in the template ``name`` shipped in the package's ``etc`` (the repo's top-level etc/)."""
    from cellsrun import templates
    return string.Template(templates.read(name)).substitute(values)


def web_argv(s) -> list[str]:
    """`cellsrun web` for the working dir; the login URL (it holds the token) stays out of
    the program's log, which is group-readable: `cellsrun status` prints it."""
    return cellsrun_argv() + ["web", "--home", s.home, "--dir", s.log_dir, "--name", LIVE_NAME,
                              "--listen", s.web_listen, "--no-login-url"]


def programs(s, require_cells: bool = True, user=None) -> str:
    """The [program:] blocks: the rotator, the service, and with ``s.web`` the page (also
    what `cellsrun config --supervisor` prints, where ``require_cells=False`` lets `cells
    start` stand even if cells is not installed yet).
    ``user`` (a :mod:`pwd` entry): both programs run as that user (``user=``), with its
    HOME, USER and LOGNAME, as a login would set them (supervisord sets none of them)."""
    user_setting = "; user= : the user who runs supervisord"
    user_env = ""
    if user is not None:
        _check_text(user.pw_name, "the user name")
        user_setting = f"user={user.pw_name}"
        user_env = f',USER="{user.pw_name}",LOGNAME="{user.pw_name}"'
        try:
            check_path(user.pw_dir, "the user's home")
            user_env += f',HOME="{user.pw_dir}"'
        except UsageError:
            pass  # a home supervisord cannot hold: the service gets supervisord's HOME
    common = {"log_dir": _value(s.log_dir), "home": _value(s.home), "marker": HOME_MARKER,
              "user_setting": user_setting, "user_env": user_env}
    web = _render("web.conf.tmpl", {
        "web": WEB, "web_command": _command(web_argv(s)), **common}) if s.web else ""
    return _render("programs.conf.tmpl", {
        "rotator": ROTATOR, "service": SERVICE,
        "rotate_command": _command(rotate_argv(s)),
        "exec_command": _command(exec_argv(s, require_cells)),
        "startsecs": str(int(s.startsecs)), "stopwaitsecs": str(int(s.stopwaitsecs)), **common,
    }) + web


def render(s) -> str:
    """The whole supervisord.conf for settings ``s``."""
    return _render("supervisord.conf.tmpl", {
        "generated": f"cellsrun {_version()}",
        "socket": _value(s.socket), "pidfile": _value(s.pidfile), "home": _value(s.home),
        "log_dir": _value(s.log_dir), "programs": programs(s), "inet_http_server": "",
    })


def system_blocks(s, user=None) -> str:
    """What `cellsrun config --supervisor` prints: a header saying where it goes, the blocks."""
    run_as = f"run as the user {user.pw_name}" if user is not None else \
        "run as the user who runs supervisord\n; (root under a system supervisord: running Cells as root is not advised; see --user)"
    owned_by = f", owned by {user.pw_name}" if user is not None else ""
    return (_render("system-header.conf.tmpl", {"home": s.home, "log_dir": s.log_dir, "run_as": run_as,
                                                "owned_by": owned_by}) + "\n"
            + programs(s, require_cells=False, user=user))


def write(s, text: str | None = None) -> bool:
    """Write <home>/supervisord.conf (0640, atomically) with ``text`` (default: rendered
    from ``s``); True if its content changed."""
    text = render(s) if text is None else text
    try:
        with open(s.conf) as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    tmp = s.conf + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o640)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, s.conf)
    return True


def _version() -> str:
    from cellsrun import __version__
    return __version__
