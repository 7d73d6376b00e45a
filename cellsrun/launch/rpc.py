"""A small client for supervisord's XML-RPC interface over its unix socket."""

from __future__ import annotations

import socket
import time
import xmlrpc.client

from cellsrun.errors import RuntimeFailure

# Process states that the launcher waits for (supervisor.states.ProcessStates names).
RUNNING, BACKOFF, FATAL, EXITED = "RUNNING", "BACKOFF", "FATAL", "EXITED"
STARTING, STOPPED = "STARTING", "STOPPED"
UP = {RUNNING, STARTING, BACKOFF}   # states in which supervisord keeps (re)starting a program


class Supervisor:
    """supervisord at ``socket_path``. Methods raise :class:`RuntimeFailure` on RPC faults;
    :meth:`alive` tells whether anything answers at all."""

    def __init__(self, socket_path: str, timeout: float = 10.0):
        from supervisor.xmlrpc import SupervisorTransport
        self.socket_path = socket_path
        transport = SupervisorTransport(None, None, serverurl=f"unix://{socket_path}")
        transport.timeout = timeout
        self._proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        self.rpc = self._proxy.supervisor

    def alive(self) -> bool:
        """True if supervisord answers on the socket and is RUNNING."""
        try:
            return self.rpc.getState()["statename"] == "RUNNING"
        except (OSError, socket.error, xmlrpc.client.Error):
            return False

    def call(self, method: str, *args):
        try:
            return getattr(self.rpc, method)(*args)
        except xmlrpc.client.Fault as e:
            raise RuntimeFailure(f"supervisord: {method}{args!r} failed: {e.faultString}") from e
        except OSError as e:
            raise RuntimeFailure(f"supervisord does not answer on {self.socket_path}: {e}") from e

    def info(self, name: str) -> dict:
        return self.call("getProcessInfo", name)

    def all_info(self) -> list[dict]:
        return self.call("getAllProcessInfo")

    def start(self, name: str) -> None:
        """Start ``name`` (without waiting); already started is fine."""
        self._change("startProcess", name, False, fine="ALREADY_STARTED")

    def stop(self, name: str) -> None:
        """Stop ``name`` and wait for it (supervisord escalates TERM to KILL by itself)."""
        self._change("stopProcess", name, True, fine="NOT_RUNNING")

    def _change(self, method: str, name: str, wait: bool, fine: str) -> None:
        """Call start/stopProcess; the fault ``fine`` means it was so already."""
        try:
            getattr(self.rpc, method)(name, wait)
        except xmlrpc.client.Fault as e:
            if fine not in e.faultString:
                raise RuntimeFailure(f"supervisord: {method}({name}) failed: {e.faultString}") from e

    def last_exit(self, name: str, nbytes: int = 16384) -> str | None:
        """How ``name`` last ended, as supervisord's own log says ("exit status 3",
        "terminated by SIGKILL"): for an exit before startsecs it keeps the status nowhere else."""
        import re
        try:
            text = self.rpc.readLog(-nbytes, 0)
        except (OSError, xmlrpc.client.Error):
            return None
        process = name.split(":")[-1]
        found = re.findall(rf"exited: {re.escape(process)} \((.*?); (?:not )?expected\)", text)
        return found[-1] if found else None

    def tail(self, name: str, nbytes: int = 4000) -> str:
        """The end of what supervisord kept of ``name``'s own output."""
        try:
            return self.rpc.tailProcessStdoutLog(name, 0, nbytes)[0]
        except (xmlrpc.client.Error, OSError):
            return ""

    def pid(self) -> int | None:
        """supervisord's own pid (None if it does not answer)."""
        try:
            return int(self.rpc.getPID())
        except (OSError, xmlrpc.client.Error, ValueError):
            return None

    def reload(self) -> tuple[list, list, list]:
        """Have supervisord read its configuration again; returns the program groups
        (added, changed, removed) that :meth:`apply` would act on."""
        added, changed, removed = self.call("reloadConfig")[0]
        return added, changed, removed

    def update(self) -> None:
        """Apply a changed supervisord.conf: re-add the program groups that changed."""
        self.apply(*self.reload())

    def apply(self, added: list, changed: list, removed: list) -> None:
        """Stop and remove the groups that changed or went, add the changed and new ones
        (supervisord autostarts them), as `supervisorctl update` does."""
        for name in removed + changed:
            self.call("stopProcessGroup", name, True)
            self.call("removeProcessGroup", name)
        for name in changed + added:
            self.call("addProcessGroup", name)

    def wait_state(self, name: str, wanted: set, deadline: float, fail: set = frozenset()) -> dict:
        """Poll ``name`` until its state is in ``wanted`` (returned) or ``fail``, or the
        deadline (time.monotonic()) passes; the last info is returned either way."""
        while True:
            info = self.info(name)
            if info["statename"] in wanted or info["statename"] in fail or time.monotonic() > deadline:
                return info
            time.sleep(0.05)
