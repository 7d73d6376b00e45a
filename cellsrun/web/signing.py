"""Opaque, tamper-checked handles: the page's cursors and entry ids.

A handle is ``<base64url JSON payload>.<base64url HMAC-SHA256, 16 bytes>``. The key is
derived from the login token, so handles survive a restart of the server and mean nothing to
anyone without the token. A handle that does not verify is refused (the API answers 400);
a verified one is still checked against the files before use (see browse.newest.locate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from cellsrun.browse.newest import Position

MAX_LEN = 1024
MAX_HOSTS_LEN = 64 << 10  # a handle holding a position per host (a collector's hundreds of hosts)


class BadHandle(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, token: str):
        self._key = hmac.new(token.encode(), b"cellsrun web handles v1", hashlib.sha256).digest()

    def _mac(self, kind: str, payload: str) -> str:
        return _b64(hmac.new(self._key, f"{kind}:{payload}".encode(), hashlib.sha256).digest()[:16])

    def position(self, kind: str, pos: Position) -> str:
        """A handle of ``kind`` ("cursor", "entry", "head") naming a file position."""
        payload = _b64(json.dumps([pos.name, pos.ino, pos.offset], separators=(",", ":")).encode())
        return f"{payload}.{self._mac(kind, payload)}"

    def host_positions(self, kind: str, positions: dict) -> str:
        """A handle of ``kind`` naming a position per host (several log directories):
        ``{host: Position or None}`` (None: from that host's newest line)."""
        payload = _b64(json.dumps({h: (list(p) if p is not None else None) for h, p in positions.items()},
                                  separators=(",", ":")).encode())
        return f"{payload}.{self._mac(kind, payload)}"

    def read_host_positions(self, kind: str, handle: str) -> dict:
        """The ``{host: Position or None}`` a :meth:`host_positions` handle names; BadHandle
        if it was not made here for ``kind``."""
        what = {"cursor": "cursor", "entry": "entry id", "head": "live position"}.get(kind, kind)
        payload = self._verified(kind, handle, what)
        try:
            raw = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            raise BadHandle(f"invalid {what}") from None
        if not isinstance(raw, dict):
            raise BadHandle(f"invalid {what}")
        out = {}
        for host, p in raw.items():
            if p is None:
                out[host] = None
            elif (isinstance(p, list) and len(p) == 3 and isinstance(p[0], str) and type(p[1]) is int
                  and type(p[2]) is int and p[2] >= 0):
                out[host] = Position(*p)
            else:
                raise BadHandle(f"invalid {what}")
        return out

    def _verified(self, kind: str, handle: str, what: str) -> str:
        if not handle or len(handle) > MAX_HOSTS_LEN or handle.count(".") != 1:
            raise BadHandle(f"invalid {what}")
        payload, mac = handle.split(".")
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac(kind, payload).encode()):
            raise BadHandle(f"invalid {what} (it was altered, or made for another server)")
        return payload

    def read_position(self, kind: str, handle: str) -> Position:
        """The position a handle names; BadHandle if it was not made here for ``kind``."""
        what = {"cursor": "cursor", "entry": "entry id", "head": "live position"}.get(kind, kind)
        if not handle or len(handle) > MAX_LEN or handle.count(".") != 1:
            raise BadHandle(f"invalid {what}")
        payload, mac = handle.split(".")
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac(kind, payload).encode()):
            raise BadHandle(f"invalid {what} (it was altered, or made for another server)")
        try:
            name, ino, offset = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            raise BadHandle(f"invalid {what}") from None
        if not (isinstance(name, str) and type(ino) is int and type(offset) is int and offset >= 0):
            raise BadHandle(f"invalid {what}")
        return Position(name, ino, offset)
