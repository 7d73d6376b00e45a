"""Render the rsyslog snippets of `cellsrun config --rsyslog-ship` and `--rsyslog-collect`.

The text lives in ``etc/rsyslog-ship.conf.tmpl`` and ``etc/rsyslog-collect.conf.tmpl``
(placeholders ``@{name}``: rsyslog itself uses ``$`` and ``%``). This module fills in the
values, checks that each can stand in an rsyslog string, sizes the messages from the
rotator's ``--max-line``, and leaves out what the host's main configuration already sets
(see :mod:`cellsrun.ship.mainconf`: rsyslog refuses a module loaded twice).

The pitfalls these snippets exist for (each measured with Debian's rsyslog 8.2302):

- rsyslog's default forward format puts a space before the line; here the line follows an
  RFC 5424 header, and the collector writes ``%msg%``, which is the line byte for byte;
- the default message size (8 KiB) cuts long lines: both ends take ``--max-line`` plus room
  for the header (a line longer than that still arrives, as several lines);
- the collector escapes control characters (a TAB becomes ``#011``) unless told not to;
- a sender's queue that spills to disk delivers out of order when the collector comes back,
  and one that is full drops lines after 2 s: the queue holds 100,000 lines in memory first,
  and waits rather than drops.
"""

from __future__ import annotations

import os
import re
import string

from cellsrun import defaults
from cellsrun.archive import ArchiveNames
from cellsrun.errors import RuntimeFailure, UsageError
from cellsrun.ship import mainconf

SHIP_MARKER = "cellsrun rsyslog-ship snippet"
COLLECT_MARKER = "cellsrun rsyslog-collect snippet"
FOREVER_MS = 2_147_483_647      # queue.timeoutEnqueue: wait (24 days) rather than drop a line
MAX_FRAME_BYTES = 200_000_000   # imtcp's maxFrameSize takes no more
_UNSAFE = re.compile(r'["\\%\x00-\x1f\x7f]')
_GLOB = re.compile(r"[*?\[\]{}]")


class _Template(string.Template):
    """``@{name}`` placeholders only: ``$`` and ``%`` belong to rsyslog."""

    delimiter = "@"
    pattern = r"@(?:(?P<escaped>@)|\{(?P<braced>[a-z_]+)\}|(?P<named>(?!))|(?P<invalid>))"


def ship_size(max_line: int) -> int:
    """The sender's maxMessageSize: the longest whole line plus room."""
    return max_line + defaults.SYSLOG_HEADER_BYTES


def collect_size(max_line: int) -> int:
    """The collector's: a sender's largest message plus its RFC 5424 header."""
    return ship_size(max_line) + defaults.SYSLOG_HEADER_BYTES


def ship(log_dir: str, host: str, port: int, *, relp: bool, max_line: int,
         rsyslog_conf: str, command: str = "") -> str:
    """The snippet for a Cells host: tail ``log_dir/cells.out`` and send each line to HOST:PORT."""
    names = ArchiveNames(defaults.LIVE_NAME)
    log_dir = _path(log_dir, "log directory", glob_free=True)
    main = _main(rsyslog_conf, SHIP_MARKER)
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if relp:
        # The window: frames sent before an answer is awaited. With librelp's 128 each window
        # waited for a delayed TCP ACK (~40 ms): ~2,900 lines/s at most, whatever the link.
        action = (f'type="omrelp" target="{host}" port="{port}"\n'
                  f'           # frames in flight (librelp\'s 128 allows ~2,900 lines/s)\n'
                  f'           windowSize="{defaults.SHIP_RELP_WINDOW}"')
    else:
        action = (f'type="omfwd" target="{host}" port="{port}" protocol="tcp"\n'
                  f'           tcp_framing="octet-counted"')
    return _render("rsyslog-ship.conf.tmpl", {
        "marker": SHIP_MARKER, "target": target, "transport": "RELP" if relp else "TCP",
        "live": os.path.join(log_dir, defaults.LIVE_NAME),
        "archives": os.path.join(log_dir, names.plain_glob()),
        "tag": defaults.SHIP_TAG, "action": action, "max_line": str(max_line),
        "global_size": _global_size(main, ship_size(max_line), "the sender"),
        "modules": _modules(main, ["imfile"] + (["omrelp"] if relp else []),
                            {"imfile": 'mode="inotify"'}),
        "queue_lines": str(defaults.SHIP_QUEUE_LINES), "queue_disk": defaults.SHIP_QUEUE_DISK,
        "forever_ms": str(FOREVER_MS), "checked": _checked(main, rsyslog_conf),
        "command": _command(command), "version": _version(),
    })


def collect(directory: str, address: str, port: int, *, relp: bool, max_line: int,
            rsyslog_conf: str, command: str = "") -> str:
    """The collector's snippet: listen on [ADDRESS:]PORT, write DIR/HOST/cells.out.YYYY-MM-DD."""
    names = ArchiveNames(defaults.LIVE_NAME)
    directory = _path(directory, "collector directory")
    main = _main(rsyslog_conf, COLLECT_MARKER)
    size = collect_size(max_line)
    if size > MAX_FRAME_BYTES:
        raise UsageError(f"--max-line {max_line} is more than rsyslog's TCP input takes "
                         f"({MAX_FRAME_BYTES} bytes with the header)")
    bind = f' address="{address}"' if address else ""
    if relp:
        listener = f'input(type="imrelp" port="{port}"{bind} ruleset="cells_collect" maxDataSize="{size}")'
    else:
        listener = (f'input(type="imtcp" port="{port}"{bind} ruleset="cells_collect" '
                    f'maxFrameSize="{size}")')
    listen = f"[{address}]:{port}" if ":" in address else (f"{address}:{port}" if address else f"port {port}")
    return _render("rsyslog-collect.conf.tmpl", {
        "marker": COLLECT_MARKER, "listen": listen, "transport": "RELP" if relp else "TCP",
        "dir": directory, "day_file": names.make_for("%$year%-%$month%-%$day%"),
        "day_file_example": names.make_for("YYYY-MM-DD"), "max_line": str(max_line),
        "global_size": _global_size(main, size, "the collector"),
        "global_escape": _global_escape(main),
        "modules": _modules(main, ["imrelp" if relp else "imtcp"], {}),
        "input": listener, "queue_lines": str(defaults.SHIP_QUEUE_LINES),
        "forever_ms": str(FOREVER_MS), "checked": _checked(main, rsyslog_conf),
        "command": _command(command), "version": _version(),
    })


# -- values --------------------------------------------------------------------------------

def _path(value: str, what: str, glob_free: bool = False) -> str:
    """An absolute path that can stand inside an rsyslog string (and, for imfile, is no glob)."""
    path = os.path.abspath(value)
    bad = _UNSAFE.search(path) or (glob_free and _GLOB.search(path))
    if bad:
        raise UsageError(f"the {what} {path!r} holds {bad.group(0)!r}, which cannot go into an "
                         "rsyslog configuration as it is; use a path without it")
    return path


def _command(command: str) -> str:
    return command if command.isprintable() else "config ..."


def _main(path: str, marker: str):
    try:
        return mainconf.read(path, marker)
    except OSError as e:
        raise RuntimeFailure(f"cannot read {path}: {e.strerror or e}") from e


def _checked(main, path: str) -> str:
    if main is None:
        return (f"Not checked against a main configuration ({path} does not exist here): every "
                "module is loaded below.")
    if "workdirectory" not in main.globals:
        raise UsageError(f"{path} sets no work directory ($WorkDirectory or global(workDirectory=...)): "
                         "rsyslog then keeps no read positions and no queue on disk, and lines would "
                         "be lost or sent twice; set one there first")
    return (f"Checked against {path} ({len(main.files)} file(s)): what it sets already is not "
            "set again.")


def _modules(main, needed: list[str], params: dict[str, str]) -> str:
    lines = []
    for name in needed:
        where = main.modules.get(name) if main else None
        if where:
            lines.append(f"# {name}: loaded already ({where}); rsyslog refuses a second load.")
        else:
            extra = f" {params[name]}" if name in params else ""
            lines.append(f'module(load="{name}"{extra})')
    return "\n".join(lines)


def _global_size(main, need: int, who: str) -> str:
    found = main.globals.get("maxmessagesize") if main else None
    if not found:
        return f'global(maxMessageSize="{need}")'
    value, where = found
    have = _rsyslog_size(value)
    if have is None or have < need:
        both = (" (a host that sends and collects: put the collector's snippet in first, then "
                "render the sender's again)" if who == "the collector" else "")
        raise UsageError(f"{where} sets maxMessageSize to {value!r}; {who} needs at least {need} "
                         f"bytes for lines of up to --max-line: raise it there, rsyslog refuses "
                         f"a second setting{both}")
    return f"# maxMessageSize: {value} already ({where}), enough."


def _global_escape(main) -> str:
    found = main.globals.get("parser.escapecontrolcharactersonreceive") if main else None
    if not found:
        return 'global(parser.escapeControlCharactersOnReceive="off")'
    value, where = found
    if value.lower() not in ("off", "0"):
        raise UsageError(f"{where} sets escapeControlCharactersOnReceive to {value!r}: the collector "
                         "would write a TAB as #011; set it off there (rsyslog refuses a second setting)")
    return f"# escapeControlCharactersOnReceive: off already ({where})."


_SIZE = re.compile(r"^\s*(\d+)\s*([kmgtKMGT]?)\s*$")


def _rsyslog_size(text: str) -> int | None:
    """rsyslog's sizes: ``64k`` is 64 x 1024, ``64K`` 64 x 1000 (lower case binary)."""
    m = _SIZE.match(text)
    if not m:
        return None
    unit = m.group(2)
    power = " kmgt".index(unit.lower()) if unit else 0
    return int(m.group(1)) * ((1024 if unit.islower() else 1000) ** power)


def _render(name: str, values: dict) -> str:
    from cellsrun import templates
    return _Template(templates.read(name)).substitute(values)


def _version() -> str:
    from cellsrun import __version__
    return __version__
