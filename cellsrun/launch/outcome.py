"""What `cellsrun start` says when a program does not start: supervisord's verdict (state,
exit status, spawn error) and only what the program wrote during this start.

Before a start, :func:`log_marks` notes how long each log is; after a failure,
:func:`last_words` reads what was added past the marks (the exec shim's own messages in
cellsrun-exec.log, then the service's lines in cells.out), never a stale error of an
earlier run, nor the last lines of a service that this start stopped.
"""

from __future__ import annotations

import os

from cellsrun.errors import CellsrunError
from cellsrun.launch.rpc import BACKOFF, EXITED, FATAL
from cellsrun.launch.tails import read_tail
from cellsrun.terminal import visible, visible_lines

ROTATE_LOG = "cellsrun-rotate.log"   # the rotator's stderr, kept by supervisord in the log dir
EXEC_LOG = "cellsrun-exec.log"       # the exec shim's own messages (names as in etc/programs.conf.tmpl)
WEB_LOG = "cellsrun-web.log"         # the page's output (etc/web.conf.tmpl)
SUPERVISORD_LOG = "supervisord.log"  # supervisord's own log (etc/supervisord.conf.tmpl)
TAIL_LINES = 15
TAIL_BYTES = 4000


class Interrupted(CellsrunError):
    """Ctrl-C during `start`: the message says in which state the programs were left.
    ``applied``: supervisord runs this start's configuration (its settings should be kept)."""

    exit_code = 130

    def __init__(self, message: str, applied: bool):
        super().__init__(message)
        self.applied = applied


def logs_of(s, role: str) -> list[str]:
    """The files a program's words go to: the service's (``role`` "service"): the shim's
    own messages, then cells.out; the rotator's ("rotator") and the page's ("web"): its log."""
    if role == "service":
        return [os.path.join(s.log_dir, EXEC_LOG), s.live_file]
    return [os.path.join(s.log_dir, WEB_LOG if role == "web" else ROTATE_LOG)]


def log_marks(s) -> dict:
    """How long each program's log is now."""
    marks = {}
    for path in logs_of(s, "rotator") + logs_of(s, "service") + logs_of(s, "web"):
        try:
            marks[path] = os.stat(path).st_size
        except OSError:
            marks[path] = 0
    return marks


def last_words(s, role: str, marks: dict, lines: int = TAIL_LINES) -> str:
    """The last lines the program wrote since ``marks`` ("" when it wrote nothing), fit for a
    terminal: control characters shown as ``\\xNN`` (:func:`cellsrun.terminal.visible_lines`),
    only newlines and tabs kept (the lines are split at newlines only: a lone CR is text)."""
    parts = [read_tail(path, TAIL_BYTES, since=marks.get(path, 0)) or "" for path in logs_of(s, role)]
    text = visible_lines("\n".join(p.strip("\n") for p in parts if p.strip()))
    return "\n".join(text.split("\n")[-lines:])


def failure(name: str, info: dict, tail: str, startsecs: float, waited: float, note: str = "") -> str:
    """The message of a failed start: why (from supervisord's ``info``, with ``exit``: how
    it ended, from supervisord's log), ``note`` (what was done about it), then what the
    program wrote during this start (``tail``, as :func:`last_words` made it fit to print);
    supervisord's words are escaped as they may quote the service."""
    state = visible(str(info.get("statename", "?")))
    status = info.get("exitstatus")
    spawnerr = visible(info.get("spawnerr") or "")  # may name the command: the service's own text
    if spawnerr and not spawnerr.startswith("Exited too quickly"):  # that one is an exit: status below
        why = f"supervisord could not run it: {spawnerr}"
    elif state in (BACKOFF, FATAL, EXITED):
        ended = visible(info.get("exit") or "")  # supervisord's log: "exit status 3", "terminated by SIGKILL"
        if ended:
            why = f"it exited with status {ended[len('exit status '):]}" if ended.startswith("exit status ") \
                else f"it was {ended}"
        elif state == EXITED and isinstance(status, int):
            why = f"it exited with status {status}"
        else:
            why = "it exited"
        if state != EXITED:
            why += f" before it had run {startsecs:g} s"
    else:
        why = f"it was still {state} after {waited:.0f} s"
    head = f"{name} did not start: {why} (supervisord: {state})"
    if note:
        head += f"; {note}"
    if tail:
        return f"{head}; what it wrote during this start:\n{tail}"
    return f"{head}; it wrote nothing during this start"
