"""Processes of a working dir, seen with psutil rather than through supervisord's eyes.

A process belongs to the working dir ``home`` when any of these holds:

- its environment has ``CELLSRUN_HOME=<home>`` (set by the [program:] blocks, inherited by
  the service's children);
- it holds ``<home>/run/cells.fifo`` open (the service's stdout, the rotator's input);
- its command line is a `cellsrun rotate --input <home>/run/cells.fifo`.

Its *owner* is the nearest supervisord among its ancestors, if one still runs. A process
with no owner is an **orphan**: its supervisord died (``kill -9``, the OOM killer) and the
parent-death signal did not end it (a set-uid service, one that ignores TERM, an older
cellsrun). :func:`end_orphans` ends them in the order that loses nothing: the service's
processes first (TERM; their last lines go into the FIFO), then the rotator once it has
drained the FIFO, holding the FIFO open meanwhile, so nothing written into it is dropped
with the last descriptor.
"""

from __future__ import annotations

import os
import time

from cellsrun.defaults import HOME_MARKER

ROTATOR_ROLE, SERVICE_ROLE, SUPERVISORD_ROLE = "rotator", "service", "supervisord"
ROTATOR_DRAIN_SECS = 10.0   # how long an orphaned rotator may take to read the FIFO empty


class Member:
    """One process of the working dir: ``proc`` (psutil), ``role``, ``owner`` (the pid of
    the supervisord it runs under, None for an orphan) and ``cmdline``."""

    def __init__(self, proc, role: str, owner: int | None, cmdline: list[str]):
        self.proc, self.role, self.owner, self.cmdline = proc, role, owner, cmdline

    @property
    def pid(self) -> int:
        return self.proc.pid

    def as_dict(self) -> dict:
        return {"pid": self.pid, "role": self.role, "owner": self.owner,
                "command": " ".join(self.cmdline)[:200]}


def _is_supervisord(cmdline: list[str]) -> bool:
    return any(os.path.basename(a).startswith("supervisord") or a == "supervisor.supervisord"
               for a in cmdline[:3])


def _is_rotator(cmdline: list[str]) -> bool:
    return "rotate" in cmdline and "--input" in cmdline


def members(s) -> list[Member]:
    """Every live process of the working dir of settings ``s`` (supervisord for its
    supervisord.conf included), except this process and its ancestors."""
    import psutil
    from cellsrun.parentdeath import fifo_holders
    me = psutil.Process()
    skip = {me.pid} | {p.pid for p in me.parents()}
    holders = fifo_holders(s.fifo, exclude=skip)
    found = []
    for proc in psutil.process_iter(["cmdline", "environ", "status"]):
        if proc.pid in skip or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = proc.info["cmdline"] or []
        env = proc.info["environ"] or {}
        if _is_supervisord(cmdline):
            if s.conf in cmdline:
                found.append(Member(proc, SUPERVISORD_ROLE, None, cmdline))
            continue
        ours = (env.get(HOME_MARKER) == s.home or proc.pid in holders
                or (_is_rotator(cmdline) and s.fifo in cmdline))
        if ours:
            role = ROTATOR_ROLE if _is_rotator(cmdline) else SERVICE_ROLE
            found.append(Member(proc, role, _owner(proc), cmdline))
    return found


def _owner(proc) -> int | None:
    import psutil
    try:
        for parent in proc.parents():
            if _is_supervisord(parent.cmdline()):
                return parent.pid
    except psutil.Error:
        pass
    return None


def orphans(found: list[Member]) -> list[Member]:
    return [m for m in found if m.role != SUPERVISORD_ROLE and m.owner is None]


def refuse_foreign(s, found: list[Member], ours: int | None) -> None:
    """RuntimeFailure if any of ``found`` runs under a supervisord other than ``ours``:
    starting the programs again would make a second pair."""
    from cellsrun.errors import RuntimeFailure
    foreign = [m for m in found if m.role != SUPERVISORD_ROLE and m.owner not in (None, ours)]
    if foreign:
        owners = sorted({m.owner for m in foreign})
        raise RuntimeFailure(
            f"the programs of {s.home} already run under another supervisord (pid "
            f"{', '.join(map(str, owners))}): " + ", ".join(f"{m.role} pid {m.pid}" for m in foreign)
            + "; stop them there (supervisorctl) or remove their [program:] blocks first, "
            "or name its configuration with --supervisor-conf")


def end_orphans(s, found: list[Member], stopwaitsecs: float) -> str:
    """End the orphans among ``found``: service processes first (TERM, then KILL after
    ``stopwaitsecs``), then rotators (they exit by themselves once the FIFO is drained; TERM
    when it is empty, KILL if they do not go). Returns the one line that says what was done.
    The FIFO is held open meanwhile, so nothing written into it goes with the last descriptor."""
    hold = None
    if os.path.exists(s.fifo):
        try:
            hold = os.open(s.fifo, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            pass
    try:
        return _end(s, found, stopwaitsecs)
    finally:
        if hold is not None:
            os.close(hold)


def _end(s, found: list[Member], stopwaitsecs: float) -> str:
    from cellsrun.fifo import fifo_bytes
    gone = orphans(found)
    if not gone:
        return ""
    services = [m.proc for m in gone if m.role == SERVICE_ROLE]
    rotators = [m.proc for m in gone if m.role == ROTATOR_ROLE]
    killed = _terminate(services, stopwaitsecs)
    deadline = time.monotonic() + ROTATOR_DRAIN_SECS
    alive = [p for p in rotators if _running(p)]
    while alive and time.monotonic() < deadline and fifo_bytes(s.fifo):
        time.sleep(0.05)  # the rotator reads what the service's last moments wrote
    killed += _terminate([p for p in rotators if _running(p)], ROTATOR_DRAIN_SECS)
    parts = []
    if services:
        parts.append(f"the service's {_pids(services)}")
    if rotators:
        parts.append(f"{'then ' if services else ''}the rotator {_pids(rotators)} once the FIFO was drained")
    line = (f"ended {len(gone)} process(es) left running by a supervisord that died "
            f"({s.home}): " + ", ".join(parts))
    if killed:
        line += f"; killed {_pids(killed)}, which ignored TERM"
    return line


def _running(proc) -> bool:
    import psutil
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _terminate(procs: list, timeout: float) -> list:
    """TERM ``procs``, wait up to ``timeout`` s, KILL those left; returns the killed ones."""
    import psutil
    procs = [p for p in procs if _running(p)]
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    alive = _wait_gone(procs, timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    _wait_gone(alive, 5)
    return alive


def _wait_gone(procs: list, timeout: float) -> list:
    """Poll until none of ``procs`` runs (a zombie counts as gone: not all of them are our
    children to reap); returns those still running at the deadline."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _running(p)]
    return alive


def _pids(procs: list) -> str:
    return ("pid " if len(procs) == 1 else "pids ") + ", ".join(str(p.pid) for p in procs)
