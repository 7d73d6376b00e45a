"""`cellsrun start|stop|restart`: supervisord's lifecycle for one working dir.

supervisord runs the rotator (``cells-logs``) and the service (``cells``, via
`cellsrun exec`). Either cellsrun's own, configured in <home>/supervisord.conf (plain
``supervisorctl -c <home>/supervisord.conf ...`` works on it), or the machine's, when
its configuration holds the blocks of `cellsrun config --supervisor` for this working
dir (:mod:`cellsrun.launch.system`): then start/stop/restart act through it, and
never start, stop or reconfigure that supervisord itself.

Processes of the working dir that a dead supervisord left behind (see
:mod:`cellsrun.launch.orphans`) are ended by `start` before it starts anything, and by
`stop`; `start` refuses a working dir whose programs run under another supervisord.

A `start` that changes what runs is safe: the command is checked before anything is
touched, and should the new service still fail to start, the previous configuration is
put back and the previous service started again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from cellsrun.defaults import ROTATOR, SERVICE, WEB
from cellsrun.errors import RuntimeFailure
from cellsrun.fifo import fifo_bytes, open_fifo
from cellsrun.launch import orphans, outcome, supervisor_conf, workdir
from cellsrun.launch.processes import process_tree, supervisord_pid
from cellsrun.launch.rpc import BACKOFF, EXITED, FATAL, RUNNING, UP, Supervisor

SUPERVISORD_START_TIMEOUT = 15.0
PUT_BACK_TIMEOUT = 60.0


class Launcher:
    """Starts and stops supervisord and its two programs for settings ``s``.

    ``out``: where progress goes (stdout); ``system``: the machine's supervisord that runs
    this working dir (:class:`cellsrun.launch.system.SystemSupervisor`), None for our own.
    """

    def __init__(self, s, out=sys.stdout, system=None):
        self.s = s
        self.out = out
        self.system = system
        if system is not None and not system.socket:
            raise RuntimeFailure(f"the supervisord of {system.conf} runs {s.home} but has no unix socket "
                                 "([unix_http_server]); use supervisorctl there")
        self.sup = Supervisor(system.socket if system else s.socket)
        self.service = system.service if system else SERVICE
        self.rotator = system.rotator if system else ROTATOR
        self.web = system.web if system else (WEB if s.web else None)  # the page, when configured
        self.applied = False  # this start's configuration reached supervisord

    # -- supervisord -----------------------------------------------------------------------

    def supervisord_pid(self) -> int | None:
        """supervisord's pid: ours from its pid file (if it names a live supervisord), the
        system's as it tells it."""
        if self.system:
            return self.sup.pid()
        return supervisord_pid(self.s.pidfile)

    def running(self) -> bool:
        if self.system:
            return self.sup.alive()
        return self.supervisord_pid() is not None and self.sup.alive()

    def where(self) -> str:
        """Which supervisord, for messages."""
        if self.system:
            return f"the system's supervisord ({self.system.conf})"
        return f"the supervisord of {self.s.home}"

    def _prepare(self, conf_text: str) -> list[str]:
        """Create the working dir's directories and write supervisord.conf; returns what
        did not exist before (for :func:`workdir.remove`)."""
        extra = [p for p in (self.s.conf, self.s.fifo) if not os.path.lexists(p)]
        # supervisord creates its log before applying its umask: make it 0640 first.
        created = workdir.prepare(self.s, [outcome.SUPERVISORD_LOG]) + extra
        try:
            supervisor_conf.write(self.s, conf_text)
        except OSError as e:
            raise RuntimeFailure(f"cannot write {self.s.conf}: {e.strerror}") from e
        return created

    def _launch_supervisord(self) -> None:
        for stale in (self.s.pidfile, self.s.socket):  # left by a crash or a reboot
            try:
                os.unlink(stale)
            except FileNotFoundError:
                pass
        r = subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", self.s.conf],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeFailure(f"supervisord did not start: {(r.stderr or r.stdout).strip()}")
        deadline = time.monotonic() + SUPERVISORD_START_TIMEOUT
        while not self.sup.alive():
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"supervisord did not answer on {self.s.socket} within "
                                     f"{SUPERVISORD_START_TIMEOUT:.0f}s; see {self.s.log_dir}/{outcome.SUPERVISORD_LOG}")
            time.sleep(0.05)

    # -- start -----------------------------------------------------------------------------

    def start(self, restart: bool = False) -> str:
        """Start the rotator then the service and wait until both are RUNNING; ``restart``:
        stop the service first. Returns "" or, when both already ran with these settings,
        the line that says so (nothing was touched).

        Our own supervisord: render its configuration, start it if it is not running, or
        apply the new configuration to the running one. Before anything runs, the command
        is checked, processes left by a dead supervisord are ended (one line on ``out``),
        and programs run by another supervisord make it refuse. A program that dies while
        starting (BACKOFF, FATAL, EXITED) is a RuntimeFailure saying why and what it wrote
        during this start; what this call started is stopped again, what it created is
        removed (the logs excepted once supervisord ran), and a previous configuration is
        put back with its service running again. Ctrl-C is :class:`outcome.Interrupted`,
        saying in which state the programs are.
        """
        try:
            if self.system:
                return self._start_system(restart)
            return self._start_own(restart)
        except KeyboardInterrupt:
            raise self._interrupted() from None

    def _start_own(self, restart: bool) -> str:
        from cellsrun.launch.execshim import check_command
        check_command(self.s.service_argv(), self.s.home)  # before any mkdir, any stop
        conf_text = supervisor_conf.render(self.s)  # a broken template or value: before any mkdir
        old_conf = _read(self.s.conf)
        created: list[str] = []
        launched = False
        fifo_fd = None
        try:
            created = self._prepare(conf_text)
            found = orphans.members(self.s)
            self._refuse_foreign_owner(found)
            # Held until the new rotator runs: what orphans write while they end stays in the pipe.
            fifo_fd = open_fifo(self.s.fifo)
            line = self.end_orphans(found)
            if line:
                print(line, file=self.out, flush=True)
            if self.running():
                return self._reconfigure(restart, old_conf, conf_text)
            marks = outcome.log_marks(self.s)
            launched = True
            self._launch_supervisord()  # autostart: the rotator first (priority), then the service
            self.applied = True
            failed = self._wait_running(marks)
            if failed:
                self.shutdown()
                raise RuntimeFailure(failed)
            self._wait_web(marks)
            return ""
        except BaseException:
            if not self.running():  # interrupted with supervisord up: its files stay
                # Once supervisord ran, the log dir stays: the error names its files, and
                # the service may have written lines there.
                workdir.remove(created, keep=self.s.log_dir if launched else None)
            raise
        finally:
            if fifo_fd is not None:
                os.close(fifo_fd)

    def _reconfigure(self, restart: bool, old_conf: str | None, conf_text: str) -> str:
        """Our supervisord runs: apply the configuration just written, replacing the service
        only when its block changed (or ``restart``); on failure put the old one back."""
        before = self._states()
        added, changed, removed = self.sup.reload()
        running = {n for n, i in before.items() if i["statename"] == RUNNING}
        up = {n for n, i in before.items() if i["statename"] in UP}
        if not restart and not (added or changed or removed) and self._names() <= running:
            return self._already(before[self.service])
        if self.service in up and (restart or self.service in changed + removed):
            self._stop_service()
            if self.rotator in running:
                self._wait_fifo_drained()  # its last lines reach cells.out before the marks
        marks = outcome.log_marks(self.s)
        self.sup.apply(added, changed, removed)
        self.applied = True
        self.sup.start(self.rotator)
        self.sup.start(self.service)
        failed = self._wait_running(marks, lambda: self._put_back(old_conf, conf_text, up))
        if failed:
            raise RuntimeFailure(failed)
        self._wait_web(marks)  # `update` has added it, or removed it (--no-web)
        return ""

    def _start_system(self, restart: bool) -> str:
        if not self.sup.alive():
            raise RuntimeFailure(f"the programs of {self.s.home} are run by {self.where()}, which does not "
                                 f"answer on {self.system.socket}: start it first (e.g. `service supervisor start`)")
        found = orphans.members(self.s)
        self._refuse_foreign_owner(found)
        line = self.end_orphans(found)
        if line:
            print(line, file=self.out, flush=True)
        before = self._states()
        running = {n for n, i in before.items() if i["statename"] == RUNNING}
        if not restart and self._names() <= running:
            return self._already(before[self.service])
        if restart and before[self.service]["statename"] in UP:
            self._stop_service()
            if self.rotator in running:
                self._wait_fifo_drained()
        marks = outcome.log_marks(self.s)
        self.applied = True
        self.sup.start(self.rotator)
        self.sup.start(self.service)
        failed = self._wait_running(marks, lambda: "")
        if failed:
            raise RuntimeFailure(failed)
        self._wait_web(marks)
        return ""

    def _names(self) -> set:
        """The programs this working dir runs: the rotator, the service, the page if any."""
        return {self.rotator, self.service} | ({self.web} if self.web else set())

    def _states(self) -> dict:
        """supervisord's info of the programs it has, by name (the page may not be added yet)."""
        states = {}
        for name in self._names():
            try:
                states[name] = self.sup.info(name)
            except RuntimeFailure as e:
                missing = "BAD_NAME" in str(e)
                if missing and name == self.web:
                    continue  # `update` adds it
                if missing and self.system:
                    raise RuntimeFailure(f"{self.where()} has not loaded the blocks of {self.s.home} "
                                         f"({self.system.blocks}) yet: `supervisorctl reread && "
                                         "supervisorctl update` loads them") from e
                raise
        return states

    def _already(self, info: dict) -> str:
        from cellsrun.launch.report import duration
        return (f"{self.service} is already running (pid {info['pid']}, up "
                f"{duration(info['now'] - info['start'])})")

    def _wait_running(self, marks: dict, on_failure=None) -> str:
        """Wait for both programs to be RUNNING; "" if they are, else the failure's message.
        With ``on_failure``, the service is stopped and then ``on_failure`` called; it
        returns what it did, for the message (without, the caller cleans up)."""
        waited = self.s.startsecs + 10
        deadline = time.monotonic() + waited
        for name, role in ((self.rotator, "rotator"), (self.service, "service")):
            info = self.sup.wait_state(name, {RUNNING}, deadline, fail={BACKOFF, FATAL, EXITED})
            if info["statename"] == RUNNING:
                continue
            if role == "service":
                self._wait_fifo_drained(2.0)  # its last words may still be on their way to cells.out
            tail = outcome.last_words(self.s, role, marks)
            info = dict(info, exit=self.sup.last_exit(name))
            note = ""
            if on_failure is not None:
                self.sup.stop(self.service)
                note = on_failure()
            return outcome.failure(name, info, tail, self.s.startsecs, waited, note)
        return ""

    def _wait_web(self, marks: dict) -> None:
        """The page is an extra: if it does not start, say why and stop it; the service and
        its logs keep running."""
        if not self.web:
            return
        self.sup.start(self.web)
        info = self.sup.wait_state(self.web, {RUNNING}, time.monotonic() + 15, fail={BACKOFF, FATAL, EXITED})
        if info["statename"] != RUNNING:
            tail = outcome.last_words(self.s, "web", marks)
            info = dict(info, exit=self.sup.last_exit(self.web))
            self.sup.stop(self.web)
            raise RuntimeFailure(outcome.failure(f"the page ({self.web})", info, tail, 1, 15,
                                                 "the service runs; the page is stopped"))

    def _put_back(self, old_conf: str | None, conf_text: str, up: set) -> str:
        """The new configuration failed: write the old one back, apply it, start again what
        ran before. Returns what was done, for the failure's message."""
        if old_conf is None or old_conf == conf_text:
            return ""
        supervisor_conf.write(self.s, old_conf)
        self.sup.apply(*self.sup.reload())
        self.applied = False
        for name in (self.rotator, self.service):
            if name in up:
                self.sup.start(name)
        if self.service not in up:
            self.sup.stop(self.service)  # re-added groups autostart; it was not running before
            return "the previous settings are back (the service was not running before)"
        info = self.sup.wait_state(self.service, {RUNNING}, time.monotonic() + PUT_BACK_TIMEOUT,
                                   fail={BACKOFF, FATAL, EXITED})
        if info["statename"] == RUNNING:
            return f"the previous service runs again (pid {info['pid']}), with the previous settings"
        return f"the previous settings are back, but the previous service did not start either ({info['statename']})"

    def _interrupted(self) -> outcome.Interrupted:
        home = self.s.home
        try:
            if not self.running():
                return outcome.Interrupted(f"interrupted: nothing runs for {home}", False)
            states = self._states()
        except Exception:  # noqa: BLE001 - a second Ctrl-C, a supervisord going away
            return outcome.Interrupted(f"interrupted; see `cellsrun status --home {home}`", self.applied)
        said = ", ".join(f"{n} is {states[n]['statename']}" for n in (self.service, self.rotator))
        return outcome.Interrupted(
            f"interrupted: {said} under {self.where()}, which goes on by itself; "
            f"`cellsrun status --home {home}` shows how it goes, `cellsrun stop --home {home}` stops it",
            self.applied)

    # -- processes outside supervisord's view ----------------------------------------------

    def _refuse_foreign_owner(self, found: list) -> None:
        orphans.refuse_foreign(self.s, found, self.supervisord_pid())

    def end_orphans(self, found: list | None = None) -> str:
        """End this working dir's processes that no supervisord owns (service first, then
        the rotator once the FIFO is drained); returns the line that says so, or "".
        ``found``: :func:`orphans.members` if the caller has just looked."""
        found = orphans.members(self.s) if found is None else found
        return orphans.end_orphans(self.s, found, self.s.stopwaitsecs) if orphans.orphans(found) else ""

    def leftovers(self) -> list:
        """Every process of this working dir still running (psutil's view, not supervisord's)."""
        return orphans.members(self.s)

    # -- stop ------------------------------------------------------------------------------

    def stop(self, everything: bool = False) -> tuple[str | None, list[int]]:
        """Stop the service and make sure none of its processes is left. ``everything``:
        also let the rotator drain the FIFO, then stop it and shut our supervisord down (the
        system's keeps running). Returns the service's state before (None: no supervisord
        answered) and the pids that had to be killed."""
        if not self.running():
            return None, []
        was = self._states()[self.service]["statename"]
        killed = self._stop_service() if was in UP else []
        if everything:
            self._wait_fifo_drained()
            if self.system:  # never the system's supervisord itself: it runs other programs
                for name in (self.rotator, self.web):
                    if name:
                        self.sup.stop(name)
            else:
                self.shutdown()
        return was, killed

    def _stop_service(self) -> list[int]:
        """Stop the service; kill what escaped its process group. Returns the killed pids."""
        import psutil
        tree = process_tree(self.sup.info(self.service).get("pid") or 0)
        self.sup.stop(self.service)
        gone, alive = psutil.wait_procs(tree, timeout=self.s.stopwaitsecs + 5)
        for proc in alive:  # escaped the process group (setsid): not left behind either
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        return [p.pid for p in alive]

    def _wait_fifo_drained(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while fifo_bytes(self.s.fifo) and time.monotonic() < deadline:
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop both programs and our supervisord itself, and wait for it to be gone."""
        import psutil
        if self.system:
            raise RuntimeFailure("refusing to shut the system's supervisord down")
        pid = self.supervisord_pid()
        try:
            self.sup.rpc.shutdown()
        except Exception:  # noqa: BLE001 - it may close the socket before answering
            pass
        if pid:
            try:
                psutil.Process(pid).wait(self.s.stopwaitsecs + 40)
            except psutil.NoSuchProcess:
                pass
            except psutil.TimeoutExpired:
                raise RuntimeFailure(f"supervisord (pid {pid}) did not exit") from None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None
