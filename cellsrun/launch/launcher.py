"""`cellsrun start|stop|restart`: supervisord's lifecycle for one working dir.

supervisord runs the rotator (``cells-logs``) and the service (``cells``, via
`cellsrun exec`) as configured in <home>/supervisord.conf. Plain ``supervisorctl -c
<home>/supervisord.conf ...`` works on the same supervisord.

Processes of the working dir that a dead supervisord left behind (see
:mod:`cellsrun.launch.orphans`) are ended by `start` before it starts anything, and by
`stop`; `start` refuses a working dir whose programs run under another supervisord.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from cellsrun.launch import supervisor_conf
from cellsrun.errors import RuntimeFailure
from cellsrun.launch.rpc import BACKOFF, EXITED, FATAL, RUNNING, Supervisor
from cellsrun.defaults import ROTATOR, SERVICE, WEB
from cellsrun.fifo import fifo_bytes, open_fifo
from cellsrun.launch import orphans
from cellsrun.launch.processes import process_tree, supervisord_pid
from cellsrun.launch.survey import EXEC_LOG, ROTATE_LOG, WEB_LOG

DIR_MODE = 0o750
SUPERVISORD_START_TIMEOUT = 15.0


class Launcher:
    """Starts and stops supervisord and its two programs for settings ``s``.

    ``out``: where progress and status go (stdout).
    """

    def __init__(self, s, out=sys.stdout):
        self.s = s
        self.out = out
        self.sup = Supervisor(s.socket)

    # -- supervisord -----------------------------------------------------------------------

    def supervisord_pid(self) -> int | None:
        """supervisord's pid, if its pid file names a live supervisord."""
        return supervisord_pid(self.s.pidfile)

    def running(self) -> bool:
        return self.supervisord_pid() is not None and self.sup.alive()

    def _prepare(self, conf_text: str) -> list[str]:
        """Create the working dir's directories and write supervisord.conf; returns what
        did not exist before (for :meth:`_undo`)."""
        supervisord_log = os.path.join(self.s.log_dir, "supervisord.log")
        created = [p for p in (self.s.home, self.s.run_dir, self.s.log_dir, self.s.conf,
                               self.s.fifo, supervisord_log) if not os.path.lexists(p)]
        for path in (self.s.home, self.s.run_dir, self.s.log_dir):
            top = _topmost_missing(path)
            try:
                os.makedirs(path, DIR_MODE, exist_ok=True)
            except OSError as e:
                raise RuntimeFailure(f"cannot create {path}: {e.strerror}") from e
            if top and top not in created:
                created.append(top)
            if not os.access(path, os.W_OK | os.X_OK):
                raise RuntimeFailure(f"working dir {path} is not writable")
        # supervisord creates its log before applying its umask: make it 0640 first.
        fd = os.open(supervisord_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o640)
        os.close(fd)
        try:
            supervisor_conf.write(self.s, conf_text)
        except OSError as e:
            raise RuntimeFailure(f"cannot write {self.s.conf}: {e.strerror}") from e
        return created

    def _undo(self, created: list[str], launched: bool) -> None:
        """After a failed start, remove what it created. Once supervisord ran, the log dir
        stays: the error names its files, and the service may have written lines there."""
        import shutil
        for path in reversed(created):
            if launched and (_holds(path, self.s.log_dir) or _holds(self.s.log_dir, path)):
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass

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
                                     f"{SUPERVISORD_START_TIMEOUT:.0f}s; see {self.s.log_dir}/supervisord.log")
            time.sleep(0.05)

    # -- commands --------------------------------------------------------------------------

    def start(self) -> None:
        """Render, start supervisord if needed, start the rotator then the service, wait for RUNNING.

        Before anything runs, processes of this working dir left by a dead supervisord are
        ended (one line on ``out`` says so), and programs run by another supervisord make it
        refuse. A service that dies while starting (BACKOFF, FATAL, EXITED) is a
        RuntimeFailure that shows its last output; what this call started is stopped again,
        and what it created is removed (the logs excepted once supervisord ran).
        """
        self.s.service_argv()  # no service to run: say so before anything starts
        conf_text = supervisor_conf.render(self.s)  # a broken template or value: before any mkdir
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
            marks = self._log_marks()
            if not self.running():
                launched = True
                self._launch_supervisord()  # autostart: the rotator first (priority), then the service
            else:
                self.sup.update()  # also adds or removes the page's program, as settings say
                self.sup.start(ROTATOR)
                self.sup.start(SERVICE)
            self._wait_running(launched, marks)
        except BaseException:
            self._undo(created, launched)
            raise
        finally:
            if fifo_fd is not None:
                os.close(fifo_fd)
        if self.s.web:
            self._wait_web(marks)

    def _wait_web(self, marks: dict) -> None:
        """The page is an extra: if it does not start, say why and stop it; the service and
        its logs keep running."""
        self.sup.start(WEB)
        info = self.sup.wait_state(WEB, {RUNNING}, time.monotonic() + 15, fail={BACKOFF, FATAL, EXITED})
        if info["statename"] != RUNNING:
            tail = self._last_words(WEB, marks)
            self.sup.stop(WEB)
            raise RuntimeFailure(f"the page ({WEB}) did not start ({info['statename']}); the service "
                                 f"runs; its last output:\n{tail}")

    def _wait_running(self, launched: bool, marks: dict) -> None:
        deadline = time.monotonic() + self.s.startsecs + 10
        for name in (ROTATOR, SERVICE):
            info = self.sup.wait_state(name, {RUNNING}, deadline, fail={BACKOFF, FATAL, EXITED})
            if info["statename"] != RUNNING:
                if name == SERVICE:
                    self._wait_fifo_drained(2.0)  # its last words may still be on their way to cells.out
                tail = self._last_words(name, marks)
                if launched:
                    self.shutdown()
                else:
                    self.sup.stop(SERVICE)
                raise RuntimeFailure(f"{name} did not start ({info['statename']}: "
                                     f"{info.get('description', '')}); its last output:\n{tail}")

    # -- processes outside supervisord's view ----------------------------------------------

    def _refuse_foreign_owner(self, found: list) -> None:
        ours = self.supervisord_pid()
        foreign = [m for m in found if m.role != orphans.SUPERVISORD_ROLE and m.owner not in (None, ours)]
        if foreign:
            owners = sorted({m.owner for m in foreign})
            raise RuntimeFailure(
                f"the programs of {self.s.home} already run under another supervisord (pid "
                f"{', '.join(map(str, owners))}): " + ", ".join(f"{m.role} pid {m.pid}" for m in foreign)
                + "; stop them there (supervisorctl) or remove their [program:] blocks first")

    def end_orphans(self, found: list | None = None) -> str:
        """End this working dir's processes that no supervisord owns (service first, then
        the rotator once the FIFO is drained); returns the line that says so, or "".
        ``found``: :func:`orphans.members` if the caller has just looked."""
        found = orphans.members(self.s) if found is None else found
        if not orphans.orphans(found):
            return ""
        hold = None
        if os.path.exists(self.s.fifo):
            try:
                hold = os.open(self.s.fifo, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                pass
        try:
            return orphans.end_orphans(self.s, found, self.s.stopwaitsecs)
        finally:
            if hold is not None:
                os.close(hold)

    def leftovers(self) -> list:
        """Every process of this working dir still running (psutil's view, not supervisord's)."""
        return orphans.members(self.s)

    def _log_marks(self) -> dict:
        """How long each program's log is now: a failure shows only what came after."""
        marks = {}
        for path in self._logs_of(ROTATOR) + self._logs_of(SERVICE) + self._logs_of(WEB):
            try:
                marks[path] = os.stat(path).st_size
            except OSError:
                marks[path] = 0
        return marks

    def _logs_of(self, name: str) -> list[str]:
        if name == SERVICE:  # the shim's own messages, then what the service wrote
            return [os.path.join(self.s.log_dir, EXEC_LOG), self.s.live_file]
        if name == WEB:
            return [os.path.join(self.s.log_dir, WEB_LOG)]
        return [os.path.join(self.s.log_dir, ROTATE_LOG)]

    def _last_words(self, name: str, marks: dict, lines: int = 15) -> str:
        """The last lines ``name`` wrote during this start (not a stale error of an earlier one)."""
        parts = [_read_since(path, marks.get(path, 0), 4000) for path in self._logs_of(name)]
        text = "\n".join(p.strip("\n") for p in parts if p.strip())
        return "\n".join(text.splitlines()[-lines:]) or "(nothing)"

    def stop(self, everything: bool = False) -> list[int]:
        """Stop the service and make sure none of its processes is left (returns the pids that
        had to be killed). ``everything``: also let the rotator drain the FIFO, stop it and
        shut supervisord down."""
        if not self.running():
            return []
        import psutil
        tree = process_tree(self.sup.info(SERVICE).get("pid") or 0)
        self.sup.stop(SERVICE)
        gone, alive = psutil.wait_procs(tree, timeout=self.s.stopwaitsecs + 5)
        for proc in alive:  # escaped the process group (setsid): not left behind either
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        killed = [p.pid for p in alive]
        if everything:
            self._wait_fifo_drained()
            self.shutdown()
        return killed

    def _wait_fifo_drained(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while fifo_bytes(self.s.fifo) and time.monotonic() < deadline:
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop both programs and supervisord itself, and wait for it to be gone."""
        import psutil
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



def _topmost_missing(path: str) -> str | None:
    """The highest directory of ``path`` that does not exist yet (what makedirs creates first)."""
    top = None
    while path and not os.path.lexists(path):
        top = path
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return top


def _holds(path: str, inner: str) -> bool:
    """``inner`` is ``path`` or lies below it."""
    return os.path.commonpath([path, inner]) == path


def _read_since(path: str, offset: int, nbytes: int) -> str:
    """What ``path`` gained past ``offset`` (all of it if it was rotated since), at most the
    last ``nbytes``."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = offset if size >= offset else 0
            f.seek(max(start, size - nbytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
