"""`cellsrun start|stop|restart`: supervisord's lifecycle for one working dir.

supervisord runs the rotator (``cells-logs``) and the service (``cells``, via
`cellsrun exec`) as configured in <home>/supervisord.conf. Plain ``supervisorctl -c
<home>/supervisord.conf ...`` works on the same supervisord.
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
from cellsrun.fifo import fifo_bytes
from cellsrun.launch.processes import process_tree, supervisord_pid
from cellsrun.launch.survey import read_tail

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

    def _prepare(self) -> None:
        for path in (self.s.home, self.s.run_dir, self.s.log_dir):
            try:
                os.makedirs(path, DIR_MODE, exist_ok=True)
            except OSError as e:
                raise RuntimeFailure(f"cannot create {path}: {e.strerror}") from e
            if not os.access(path, os.W_OK | os.X_OK):
                raise RuntimeFailure(f"working dir {path} is not writable")
        # supervisord creates its log before applying its umask: make it 0640 first.
        fd = os.open(os.path.join(self.s.log_dir, "supervisord.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o640)
        os.close(fd)
        try:
            supervisor_conf.write(self.s)
        except OSError as e:
            raise RuntimeFailure(f"cannot write {self.s.conf}: {e.strerror}") from e

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

        A service that dies while starting (BACKOFF, FATAL, EXITED) is a RuntimeFailure that
        shows its last output; what this call started is stopped again.
        """
        self.s.service_argv()  # no service to run: say so before anything starts
        self._prepare()
        launched = not self.running()
        if launched:
            self._launch_supervisord()  # autostart: the rotator first (priority), then the service
        else:
            self.sup.update()  # adds or removes the page's program as settings say
            self.sup.start(ROTATOR)
            self.sup.start(SERVICE)
            if self.s.web:
                self.sup.start(WEB)
        deadline = time.monotonic() + self.s.startsecs + 10
        for name in (ROTATOR, SERVICE) + ((WEB,) if self.s.web else ()):
            info = self.sup.wait_state(name, {RUNNING}, deadline, fail={BACKOFF, FATAL, EXITED})
            if info["statename"] != RUNNING:
                tail = self._last_words(name)
                if name == WEB:  # the page is an extra: the service and its logs keep running
                    self.sup.stop(WEB)
                    raise RuntimeFailure(f"the page ({WEB}) did not start ({info['statename']}); the "
                                         f"service runs; its last output:\n{tail}")
                if launched:
                    self.shutdown()
                else:
                    self.sup.stop(SERVICE)
                raise RuntimeFailure(f"{name} did not start ({info['statename']}: "
                                     f"{info.get('description', '')}); its last output:\n{tail}")

    def _last_words(self, name: str, lines: int = 15) -> str:
        parts = [self.sup.tail(name)]
        if name == SERVICE:
            parts.append(read_tail(self.s.live_file, 4000) or "")
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

