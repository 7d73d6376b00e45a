"""How `cellsrun status` prints what :mod:`cellsrun.launch.survey` gathered.

Much of it is the service's own text (its process names, what supervisord says of it, a
working dir's path): the table shows every control character as ``\\xNN``
(:mod:`cellsrun.terminal`); ``--json`` keeps the exact text.
"""

from __future__ import annotations

import json

from cellsrun.terminal import visible

NAME_WIDTH = 13  # the labels' column ("last rotation"); a longer program name widens it


def render(data: dict) -> str:
    """The status as a small table for people, without a control character in it."""
    lines = []
    sd = data["supervisord"]
    where = f"system: {sd['conf']}" if sd.get("managed_by") == "system" else data["home"]
    if sd["running"]:
        lines.append(f"supervisord   running  pid {sd['pid']}  up {duration(sd['uptime_s'])}  ({where})")
    else:
        lines.append(f"supervisord   not running  ({where})")
    if data.get("hint"):
        lines.append(f"  ({data['hint']})")
    names = [visible(p["name"]) for p in data["programs"]]
    width = max([NAME_WIDTH, *map(len, names)])
    for name, p in zip(names, data["programs"]):
        lines.append(f"{name:<{width}} {p['state']:<8} pid {p['pid'] or '-':<8} {_since(p)}")
    if data["service_tree"]:
        lines.append("service processes:")
        lines.append(f"  {'PID':>7} {'PPID':>7} {'RSS':>9} {'CPU%':>6}  NAME")
        for r in data["service_tree"]:
            lines.append(f"  {r['pid']:>7} {r['ppid']:>7} {_size(r['rss_bytes']):>9} "
                         f"{r['cpu_percent']:>6.1f}  {r['name']}")
    if data["orphans"]:
        lines.append("orphans (left by a supervisord that died; `cellsrun start` or `stop --all` ends them):")
        for o in data["orphans"]:
            lines.append(f"  {o['pid']:>7} {o['role']:<8} {o['command'][:100]}")
    size = data["cells_out_bytes"]
    lines.append(f"cells.out     {_size(size) if size is not None else 'missing'}  ({data['log_dir']})")
    waiting = data["fifo_bytes"]
    lines.append(f"FIFO waiting  {_size(waiting) if waiting is not None else 'no FIFO'}")
    last = data["last_rotation"]
    lines.append(f"last rotation {last['at'] + ' -> ' + last['archive'] if last else 'none yet'}")
    lines.append(f"next rotation {data['next_rotation']}")
    if data.get("web"):
        w = data["web"]
        lines.append(f"page          {w['url']}" + (f"  (log in: {w['login']})" if w["login"] else
                                                   "  (no token yet: the page makes it at its first start)"))
    return "\n".join(map(visible, lines))


def _since(p: dict) -> str:
    """The last column: how long it runs, or when it stopped and how (labelled)."""
    if p["uptime_s"] is not None:
        return f"up {duration(p['uptime_s'])}"
    said = ""
    if p.get("stopped_at"):
        said = ("exited" if p["state"] == "EXITED" else "stopped") + " at " + p["stopped_at"][:19].replace("T", " ")
    if p["state"] in ("BACKOFF", "FATAL"):
        said = p["description"]
    if p.get("exitstatus") is not None and p["state"] != "STOPPED":
        said += f" (exit status {p['exitstatus']})"
    if p["state"] == "STARTING":
        said = "starting"
    if not said and p["state"] == "STOPPED":
        said = "not started yet"
    return said or p["description"]


def as_json(data: dict) -> str:
    return json.dumps(data, indent=2)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def duration(seconds) -> str:
    seconds = int(seconds or 0)
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{d}d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"
