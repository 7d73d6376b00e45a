"""Processes seen with psutil: supervisord behind a pid file, a service's process tree.

(psutil is imported inside each function: `cellsrun logs` and `rotate` never load it.)
"""

from __future__ import annotations

import time


def supervisord_pid(pidfile: str) -> int | None:
    """The pid in ``pidfile`` if that process is alive and is a supervisord; else None
    (a stale pid file: the pid is gone or was reused by another program)."""
    import psutil
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return pid if "supervisord" in cmdline else None


def process_tree(pid: int) -> list:
    """The process ``pid`` and all its descendants (psutil.Process objects); [] if gone."""
    import psutil
    if not pid:
        return []
    try:
        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def tree_usage(procs: list, sample: float = 0.1) -> list[dict]:
    """pid, ppid, name, RSS (bytes) and CPU % (over ``sample`` seconds) of each process."""
    import psutil
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    if procs:
        time.sleep(sample)  # CPU % needs two readings
    rows = []
    for p in procs:
        try:
            with p.oneshot():
                rows.append({"pid": p.pid, "ppid": p.ppid(), "name": p.name(),
                             "rss_bytes": p.memory_info().rss, "cpu_percent": p.cpu_percent(None)})
        except psutil.Error:
            pass
    return rows
