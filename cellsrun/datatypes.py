"""Pure converters for command-line and config values (after supervisor's datatypes.py).

Each takes a string and returns a value, or raises ``ValueError`` whose message
names the bad value. They know nothing about argparse or files.
"""

import re

from cellsrun import defaults

_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024,
               "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
               "g": 1024**3, "gb": 1024**3, "gib": 1024**3,
               "t": 1024**4, "tb": 1024**4, "tib": 1024**4}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def byte_size(text: str) -> int:
    """``"500MB"`` -> 524288000. Units are binary (KB = KiB = 1024 bytes); no unit means bytes."""
    if text.strip().startswith("-"):
        raise ValueError(f"invalid size {text!r} (a size cannot be negative; 0 means no limit)")
    m = _SIZE_RE.match(text)
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"invalid size {text!r} (expected e.g. 500MB, 2GiB, 1048576)")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def non_negative_int(text: str) -> int:
    """``"7"`` -> 7; negative numbers and non-numbers are refused."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"invalid number {text!r}") from None
    if value < 0:
        raise ValueError(f"invalid number {text!r} (must be 0 or more)")
    return value


def file_name(text: str) -> str:
    """A bare file name (no directory part), e.g. ``cells.out``."""
    if not text or "/" in text or text in (".", "..") or "\0" in text:
        raise ValueError(f"invalid file name {text!r} (a bare name such as cells.out)")
    return text


def bounded_int(text: str, low: int, high: int, what: str = "number") -> int:
    """An integer from ``low`` to ``high`` inclusive; anything else is refused."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"invalid {what} {text!r} (a whole number)") from None
    if not low <= value <= high:
        raise ValueError(f"invalid {what} {text!r} (must be from {low} to {high})")
    return value


def keep_days(text: str) -> int:
    """Days of archives to keep: 0 (keep all) to 36,500 (a hundred years)."""
    return bounded_int(text, 0, defaults.MAX_KEEP_DAYS, "number of days")


def seconds(text: str) -> int:
    """Whole seconds from 0 to an hour (startsecs, stopwaitsecs)."""
    return bounded_int(text, 0, defaults.MAX_SECS, "number of seconds")


def max_line(text: str) -> int:
    """The longest line kept whole, as a size: 1KiB to 1GiB."""
    value = byte_size(text)
    if not defaults.MIN_MAX_LINE_BYTES <= value <= 1 << 30:
        raise ValueError(f"invalid line size {text!r} (must be from 1KiB to 1GiB)")
    return value


_LOG_MODE = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def log_mode(text: str) -> str:
    """Cells' log mode: a word such as ``production``, ``info``, ``debug``."""
    if not isinstance(text, str) or not _LOG_MODE.fullmatch(text):
        raise ValueError(f"invalid log mode {text!r} (a word such as production, info, debug)")
    return text


def compression(text: str) -> str:
    """How archives are compressed: one of ``defaults.COMPRESSIONS``."""
    if text not in defaults.COMPRESSIONS:
        raise ValueError(f"invalid compression {text!r} (one of {', '.join(defaults.COMPRESSIONS)})")
    return text


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8035`` for IPv6) -> (host, port); port 0 picks a free one."""
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or int(port) > 65535 or any(c in host for c in "[]/ "):
        raise ValueError(f"invalid listen address {text!r} (expected HOST:PORT, e.g. 127.0.0.1:8035)")
    return host, int(port)


_HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_V6_RE = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")


def port(text: str) -> int:
    """A TCP port, 1 to 65535."""
    return bounded_int(text, 1, 65535, "port")


def _split_host_port(text: str, what: str) -> tuple[str, str]:
    if text.startswith("["):  # [2001:db8::1]:514
        host, sep, rest = text[1:].partition("]:")
        if not sep or not _V6_RE.match(host):
            raise ValueError(f"invalid {what} {text!r} (expected e.g. [2001:db8::1]:514)")
        return host, rest
    host, sep, rest = text.rpartition(":")
    if not sep:
        return "", text
    if not _HOST_RE.match(host):
        raise ValueError(f"invalid host name {host!r} in {what} {text!r}")
    return host, rest


def host_port(text: str) -> tuple[str, int]:
    """``logs.example.net:2514`` -> ("logs.example.net", 2514); an IPv6 address goes in brackets."""
    host, rest = _split_host_port(text, "HOST:PORT")
    if not host:
        raise ValueError(f"invalid HOST:PORT {text!r} (a host and a port are both needed, "
                         "e.g. logs.example.net:2514)")
    return host, port(rest)


def listen_port(text: str) -> tuple[str, int]:
    """``[ADDRESS:]PORT``: ``2514`` -> ("", 2514), every address; ``10.0.0.5:2514`` ->
    ("10.0.0.5", 2514)."""
    host, rest = _split_host_port(text, "[ADDRESS:]PORT")
    return host, port(rest)
