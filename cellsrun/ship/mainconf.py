"""What a host's main rsyslog configuration already sets, so a snippet does not set it again.

rsyslog refuses a second load of a module ("module 'imfile' already in this config, cannot
be added", error 2221, and the second statement's parameters are rejected), and a global
parameter set twice ("parameter 'maxmessagesize' specified more than once"); either makes
``rsyslogd -N1`` fail. RainerScript has no "if loaded" at configuration time, so the guard
is here: the snippet is rendered against the configuration it will join.

This is a reader of the few statements that matter, not a full RainerScript parser:
``module(load=...)``, ``$ModLoad``, ``global(...)`` and the legacy ``$WorkDirectory``,
``$MaxMessageSize``, ``$EscapeControlCharactersOnReceive``, followed through
``$IncludeConfig`` and ``include(file=...)`` globs. Comments are skipped. A file that holds
``marker`` (the snippet being rendered again, in place) is left out.
"""

from __future__ import annotations

import glob
import os
import re

MAX_FILE_BYTES = 4 << 20   # a configuration file larger than this is not read (it is no config)
MAX_FILES = 500            # include globs are followed this far, no further

_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|/\*.*?\*/|#[^\n]*', re.S)
_MODULE = re.compile(r'\bmodule\s*\(([^)]*)\)', re.I)
_GLOBAL = re.compile(r'\bglobal\s*\(([^)]*)\)', re.I)
_INCLUDE = re.compile(r'\binclude\s*\(([^)]*)\)', re.I)
_PARAM = re.compile(r'([A-Za-z][\w.]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
_LEGACY = re.compile(r'^\s*\$(\w+)[ \t]+(\S[^\n]*?)\s*$', re.M)

_LEGACY_GLOBALS = {"workdirectory": "workdirectory", "maxmessagesize": "maxmessagesize",
                   "escapecontrolcharactersonreceive": "parser.escapecontrolcharactersonreceive"}


class MainConfig:
    """``modules``: loaded module name -> where (``file:line``); ``globals``: global parameter
    (lower case) -> (value, where); ``files``: the files read, in order."""

    def __init__(self):
        self.modules: dict[str, str] = {}
        self.globals: dict[str, tuple[str, str]] = {}
        self.files: list[str] = []


def read(path: str, marker: str) -> MainConfig | None:
    """The settings of the configuration rooted at ``path``; None if there is no such file."""
    if not os.path.isfile(path):
        return None
    conf = MainConfig()
    _read_file(path, marker, conf, seen=set())
    return conf


def _read_file(path: str, marker: str, conf: MainConfig, seen: set) -> None:
    real = os.path.realpath(path)
    if real in seen or len(seen) >= MAX_FILES:
        return
    seen.add(real)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        return  # unreadable: rsyslog itself would complain about it, not us
    if len(data) > MAX_FILE_BYTES:
        return
    text = data.decode("utf-8", "replace")
    if marker in text:
        return
    conf.files.append(path)
    text = _COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else _blank(m.group(0)), text)

    def where(pos: int) -> str:
        return f"{path}:{text.count(chr(10), 0, pos) + 1}"

    events = []  # (position, kind, payload): includes are followed where they stand
    for m in _MODULE.finditer(text):
        params = _params(m.group(1))
        if "load" in params:
            events.append((m.start(), "module", params["load"]))
    for m in _GLOBAL.finditer(text):
        for key, value in _params(m.group(1)).items():
            events.append((m.start(), "global", (key, value)))
    for m in _INCLUDE.finditer(text):
        params = _params(m.group(1))
        if "file" in params:
            events.append((m.start(), "include", params["file"]))
    for m in _LEGACY.finditer(text):
        key, value = m.group(1).lower(), m.group(2).strip()
        if key == "modload":
            events.append((m.start(), "module", value))
        elif key == "includeconfig":
            events.append((m.start(), "include", value))
        elif key in _LEGACY_GLOBALS:
            events.append((m.start(), "global", (_LEGACY_GLOBALS[key], value)))
    for pos, kind, payload in sorted(events, key=lambda e: e[0]):
        if kind == "module":
            name = os.path.basename(payload)
            name = name[:-3] if name.endswith(".so") else name
            conf.modules.setdefault(name.lower(), where(pos))
        elif kind == "global":
            key, value = payload
            conf.globals.setdefault(key, (value, where(pos)))
        else:
            pattern = payload if os.path.isabs(payload) else os.path.join(os.path.dirname(path), payload)
            for included in sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]:
                if os.path.isfile(included):
                    _read_file(included, marker, conf, seen)


def _params(text: str) -> dict[str, str]:
    return {key.lower(): value for key, value in _PARAM.findall(text)}


def _blank(comment: str) -> str:
    """A comment's text replaced by spaces, its newlines kept (so line numbers stay right)."""
    return re.sub(r"[^\n]", " ", comment)
