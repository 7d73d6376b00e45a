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
from cellsrun.launch.outcome import EXEC_LOG, ROTATE_LOG, SUPERVISORD_LOG, WEB_LOG  # noqa: F401 - names status shows
from cellsrun.launch.processes import process_tree, tree_usage
from cellsrun.launch.tails import read_tail
from cellsrun.rotationlog import last_rotation

STOPPED_STATES = {"STOPPED", "EXITED", "BACKOFF", "FATAL"}


def collect(launcher) -> dict:
    """Everything status shows for a :class:`cellsrun.launch.launcher.Launcher` (its
    settings, its supervisord: ours or the system's)."""
    import psutil
    from cellsrun.clock import Clock
    s = launcher.s
    now = time.time()
    clock = Clock()
    tail = read_tail(os.path.join(s.log_dir, ROTATE_LOG), 65536)
    system = launcher.system
    out = {"home": s.home, "log_dir": s.log_dir, "service": launcher.service,
           "supervisord": {"running": False, "pid": None, "uptime_s": None,
                           "managed_by": "system" if system else "cellsrun",
                           "conf": system.conf if system else s.conf},
           "programs": [], "orphans": [],
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
    if not launcher.running():
        if not system and not os.path.exists(s.conf):
            out["hint"] = _never_started(s)
        return out
    pid = launcher.supervisord_pid()
    try:
        uptime = round(now - psutil.Process(pid).create_time(), 1) if pid else None
    except psutil.Error:
        uptime = None
    out["supervisord"].update(running=True, pid=pid, uptime_s=uptime)
    ours = {launcher.service, launcher.rotator, launcher.web}
    service_pid = 0
    for info in launcher.sup.all_info():
        name = info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"
        if system and name not in ours:
            continue  # the system's supervisord runs other programs too
        out["programs"].append(_program(name, info))
        if name == launcher.service and info["statename"] == "RUNNING":
            service_pid = info["pid"]
    if system and not out["programs"]:
        out["hint"] = (f"the system's supervisord has not loaded the blocks of {s.home} ({system.blocks}) "
                       "yet: `supervisorctl reread && supervisorctl update` loads them")
    out["service_tree"] = tree_usage(process_tree(service_pid))
    return out


def _never_started(s) -> str:
    """Why nothing runs where no start succeeded (a failed start removes the supervisord.conf
    it wrote, but keeps the log dir: supervisord's log tells whether it ran)."""
    log = os.path.join(s.log_dir, SUPERVISORD_LOG)
    if os.path.lexists(log):
        return (f"no start succeeded here: cellsrun's own supervisord ran, but the service did not "
                f"start and it was shut down again (its log: {log}); `cellsrun start` tries again")
    return ("cellsrun's own supervisord never ran here; if the system's supervisord runs "
            "this working dir, name its configuration with --supervisor-conf")


def _program(name: str, info: dict) -> dict:
    state = info["statename"]
    stopped = state in STOPPED_STATES and info.get("stop")
    return {"name": name, "state": state, "pid": info["pid"] or None,
            "uptime_s": info["now"] - info["start"] if state == "RUNNING" else None,
            "stopped_at": _dt.datetime.fromtimestamp(info["stop"]).astimezone().isoformat(timespec="seconds")
            if stopped else None,
            "exitstatus": info.get("exitstatus") if state in ("EXITED", "BACKOFF", "FATAL") else None,
            "description": info["description"]}


def web_urls(s) -> dict:
    """The page's address and login URL (the token read from <home>/run/web.token, if made)."""
    from cellsrun.datatypes import listen_address
    from cellsrun.web.auth import token_path
    from cellsrun.web.server import login_url, url_of
    base = url_of(*listen_address(s.web_listen))
    token = (read_tail(token_path(s.home), 4096) or "").strip()  # run/ may be --user's
    return {"url": base + "/", "login": login_url(base, token) if token else None}


def exit_code(data: dict) -> int:
    """status exits 0 when the service is RUNNING, 1 otherwise."""
    states = {p["name"]: p["state"] for p in data["programs"]}
    return 0 if states.get(data.get("service", SERVICE)) == "RUNNING" else 1
