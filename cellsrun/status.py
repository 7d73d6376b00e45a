"""`cellsrun status`: what is running, how big the log is, what waits in the FIFO, rotations."""

from __future__ import annotations

import array
import datetime as _dt
import fcntl
import json
import os
import termios
import time

ROTATE_LOG = "cellsrun-rotate.log"


def fifo_bytes(path: str) -> int | None:
    """Bytes waiting in the FIFO (read by nobody yet), or None if there is no FIFO."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        buf = array.array("i", [0])
        fcntl.ioctl(fd, termios.FIONREAD, buf)
        return buf[0]
    finally:
        os.close(fd)


def read_tail(path: str, nbytes: int) -> str | None:
    """The last ``nbytes`` of a file as text, or None if it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - nbytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def last_rotation(log_dir: str) -> dict | None:
    """The last rotation the rotator logged (time and archive), from the end of its log."""
    tail = read_tail(os.path.join(log_dir, ROTATE_LOG), 65536)
    if tail is None:
        return None
    for line in reversed(tail.splitlines()):
        parts = line.split()
        if len(parts) >= 6 and parts[0] == "cellsrun" and parts[3] == "rotated":
            return {"at": parts[2], "archive": parts[-1]}
    return None


def collect(launcher) -> dict:
    """Everything status shows, as plain data (what --json prints)."""
    import psutil
    from cellsrun.clock import Clock
    s = launcher.s
    now = time.time()
    clock = Clock()
    out = {"home": s.home, "log_dir": s.log_dir,
           "supervisord": {"running": False, "pid": None, "uptime_s": None}, "programs": [],
           "service_tree": [], "cells_out_bytes": None, "fifo_bytes": fifo_bytes(s.fifo),
           "last_rotation": last_rotation(s.log_dir),
           "next_rotation": _dt.datetime.fromtimestamp(
               clock.next_day_start(clock.day_of(now), now)).astimezone().isoformat()}
    try:
        out["cells_out_bytes"] = os.lstat(s.live_file).st_size
    except OSError:
        pass
    pid = launcher.supervisord_pid()
    if pid is None or not launcher.sup.alive():
        return out
    out["supervisord"] = {"running": True, "pid": pid,
                          "uptime_s": round(now - psutil.Process(pid).create_time(), 1)}
    service_pid = 0
    for info in launcher.sup.all_info():
        running = info["statename"] == "RUNNING"
        out["programs"].append({"name": info["name"], "state": info["statename"],
                                "pid": info["pid"] or None,
                                "uptime_s": info["now"] - info["start"] if running else None,
                                "description": info["description"]})
        if info["name"] == "cells" and running:
            service_pid = info["pid"]
    out["service_tree"] = _tree_usage(service_pid)
    return out


def _tree_usage(pid: int, sample: float = 0.1) -> list[dict]:
    import psutil
    if not pid:
        return []
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
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


def render(data: dict) -> str:
    """The status as a small table for people."""
    lines = []
    sd = data["supervisord"]
    if sd["running"]:
        lines.append(f"supervisord   running  pid {sd['pid']}  up {_duration(sd['uptime_s'])}  ({data['home']})")
    else:
        lines.append(f"supervisord   not running  ({data['home']})")
    for p in data["programs"]:
        up = f"up {_duration(p['uptime_s'])}" if p["uptime_s"] is not None else p["description"]
        lines.append(f"{p['name']:<13} {p['state']:<8} pid {p['pid'] or '-':<8} {up}")
    if data["service_tree"]:
        lines.append("service processes:")
        lines.append(f"  {'PID':>7} {'PPID':>7} {'RSS':>9} {'CPU%':>6}  NAME")
        for r in data["service_tree"]:
            lines.append(f"  {r['pid']:>7} {r['ppid']:>7} {_size(r['rss_bytes']):>9} "
                         f"{r['cpu_percent']:>6.1f}  {r['name']}")
    size = data["cells_out_bytes"]
    lines.append(f"cells.out     {_size(size) if size is not None else 'missing'}  ({data['log_dir']})")
    waiting = data["fifo_bytes"]
    lines.append(f"FIFO waiting  {_size(waiting) if waiting is not None else 'no FIFO'}")
    last = data["last_rotation"]
    lines.append(f"last rotation {last['at'] + ' -> ' + last['archive'] if last else 'none yet'}")
    lines.append(f"next rotation {data['next_rotation']}")
    return "\n".join(lines)


def as_json(data: dict) -> str:
    return json.dumps(data, indent=2)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _duration(seconds) -> str:
    seconds = int(seconds or 0)
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{d}d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"
