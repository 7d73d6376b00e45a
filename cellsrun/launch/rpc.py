"""A small client for supervisord's XML-RPC interface over its unix socket."""

from __future__ import annotations

import socket
import time
import xmlrpc.client

from cellsrun.errors import RuntimeFailure

# Process states that the launcher waits for (supervisor.states.ProcessStates names).
RUNNING, BACKOFF, FATAL, EXITED = "RUNNING", "BACKOFF", "FATAL", "EXITED"


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

    def tail(self, name: str, nbytes: int = 4000) -> str:
        """The end of what supervisord kept of ``name``'s own output."""
        try:
            return self.rpc.tailProcessStdoutLog(name, 0, nbytes)[0]
        except (xmlrpc.client.Error, OSError):
            return ""

    def update(self) -> None:
        """Apply a changed supervisord.conf: re-add the program groups that changed."""
        added, changed, removed = self.call("reloadConfig")[0]
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
