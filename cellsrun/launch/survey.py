"""What `cellsrun status` gathers: supervisord, its programs, the service's processes, the logs,
and the working dir's processes that no supervisord owns any more (orphans).

Plain data (what ``status --json`` prints); :mod:`cellsrun.launch.report` prints it for people.
"""

from __future__ import annotations

import datetime as _dt
import os
import time

from cellsrun.defaults import SERVICE
from cellsrun.fifo import fifo_bytes
from cellsrun.launch.processes import process_tree, supervisord_pid, tree_usage
from cellsrun.rotationlog import last_rotation

ROTATE_LOG = "cellsrun-rotate.log"   # the rotator's stderr, kept by supervisord in the log dir
EXEC_LOG = "cellsrun-exec.log"       # the exec shim's own messages (names as in etc/programs.conf.tmpl)
WEB_LOG = "cellsrun-web.log"         # the page's output (etc/web.conf.tmpl)


def read_tail(path: str, nbytes: int) -> str | None:
    """The last ``nbytes`` of a file as text, or None if it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - nbytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def collect(s, sup) -> dict:
    """Everything status shows for settings ``s`` and the supervisord client ``sup``."""
    import psutil
    from cellsrun.clock import Clock
    now = time.time()
    clock = Clock()
    tail = read_tail(os.path.join(s.log_dir, ROTATE_LOG), 65536)
    out = {"home": s.home, "log_dir": s.log_dir,
           "supervisord": {"running": False, "pid": None, "uptime_s": None}, "programs": [],
           "orphans": [],
           "service_tree": [], "cells_out_bytes": None, "fifo_bytes": fifo_bytes(s.fifo),
           "last_rotation": last_rotation(tail) if tail else None,
           "next_rotation": _dt.datetime.fromtimestamp(
               clock.next_day_start(clock.day_of(now), now)).astimezone().isoformat()}
    if s.web:
        out["web"] = web_urls(s)
    try:
        out["cells_out_bytes"] = os.lstat(s.live_file).st_size
    except OSError:
        pass
    from cellsrun.launch import orphans
    out["orphans"] = [m.as_dict() for m in orphans.orphans(orphans.members(s))]
    pid = supervisord_pid(s.pidfile)
    if pid is None or not sup.alive():
        return out
    out["supervisord"] = {"running": True, "pid": pid,
                          "uptime_s": round(now - psutil.Process(pid).create_time(), 1)}
    service_pid = 0
    for info in sup.all_info():
        running = info["statename"] == "RUNNING"
        out["programs"].append({"name": info["name"], "state": info["statename"],
                                "pid": info["pid"] or None,
                                "uptime_s": info["now"] - info["start"] if running else None,
                                "description": info["description"]})
        if info["name"] == SERVICE and running:
            service_pid = info["pid"]
    out["service_tree"] = tree_usage(process_tree(service_pid))
    return out


def web_urls(s) -> dict:
    """The page's address and login URL (the token read from <home>/run/web.token, if made)."""
    from cellsrun.datatypes import listen_address
    from cellsrun.web.auth import token_path
    from cellsrun.web.server import login_url, url_of
    base = url_of(*listen_address(s.web_listen))
    try:
        with open(token_path(s.home)) as f:
            token = f.read(4096).strip()
    except OSError:
        token = ""
    return {"url": base + "/", "login": login_url(base, token) if token else None}


def exit_code(data: dict) -> int:
    """status exits 0 when the service is RUNNING, 1 otherwise."""
    states = {p["name"]: p["state"] for p in data["programs"]}
    return 0 if states.get(SERVICE) == "RUNNING" else 1
