"""`cellsrun web`: bind, print the login URL, serve with uvicorn until TERM/INT.

The socket is bound here, before uvicorn starts, so that a busy port is one ``Error:`` line
(exit 1) and port 0 gives a free port whose URL is printed. Listening on anything but a
loopback address is allowed when asked; the README says to put a TLS reverse proxy in front.
"""

from __future__ import annotations

import ipaddress
import socket
import sys

from cellsrun.errors import RuntimeFailure

TOKEN_PARAM = "token"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP; without it every keep-alive response waited ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise RuntimeFailure(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = socket.gethostname()
    return f"http://{shown}:{port}"


def login_url(base: str, token: str) -> str:
    return f"{base}/login?{TOKEN_PARAM}={token}"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(home: str, log_dir: str, name: str, host: str, port: int, out=sys.stdout,
          show_login: bool = True, dirs=None, hosts=None) -> int:
    """Serve the page for ``log_dir`` (or several directories: ``dirs``, the --dir values,
    naming ``hosts`` now, see :class:`cellsrun.browse.merge.Host`) until stopped; returns the
    exit code. ``show_login``: print the login URL (it holds the token)."""
    import uvicorn

    from cellsrun.web.app import create_app
    from cellsrun.web.auth import load_or_make_token, token_path

    token = load_or_make_token(home)
    sock = bind(host, port)
    port = sock.getsockname()[1]
    base = url_of(host, port)
    what = log_dir if hosts is None else (f"{len(hosts)} hosts ({', '.join(h.name for h in hosts[:5])}"
                                          f"{', ...' if len(hosts) > 5 else ''})")
    print(f"cellsrun web: serving {what} at {base}/", file=out)
    print(f"log in: {login_url(base, token)}" if show_login else
          "log in: the URL that `cellsrun status` prints", file=out)
    print(f"(the token is kept in {token_path(home)})", file=out)
    if not is_loopback(host):
        print("note: listening beyond this machine; put a TLS reverse proxy in front "
              "(the login token and the logs travel in clear over plain HTTP)", file=out)
    out.flush()
    config = uvicorn.Config(create_app(log_dir, name, token, dirs), log_level="warning", access_log=False,
                            lifespan="off", server_header=False, proxy_headers=True,
                            forwarded_allow_ips="127.0.0.1", timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0
