"""Flags and handler of `cellsrun web` (the page)."""

from __future__ import annotations

import argparse

from cellsrun import datatypes as dt
from cellsrun import defaults
from cellsrun.cli.flags import add_home, converter
from cellsrun.errors import RuntimeFailure


def add_web(p: argparse.ArgumentParser) -> None:
    add_home(p)
    p.add_argument("--dir", metavar="DIR", action="append",
                   help="log directory (default: $CELLS_LOG_DIR, else <home>/logs); repeat, or a quoted "
                   "glob such as '/var/log/cells/*', for several hosts: merged in time order, with a Host column")
    p.add_argument("--name", default=defaults.LIVE_NAME, type=converter(dt.file_name, "name"),
                   help=f"live file name (default: {defaults.LIVE_NAME})")
    p.add_argument("--listen", default=defaults.WEB_LISTEN, metavar="HOST:PORT",
                   type=converter(dt.listen_address, "listen"),
                   help=f"address to serve on (default: {defaults.WEB_LISTEN}; port 0: any free port)")
    p.add_argument("--no-login-url", action="store_true",
                   help="do not print the login URL (under supervisord its log is group-readable; "
                   "`cellsrun status` shows the URL)")


def run_web(args) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise RuntimeFailure("the page needs the web extra: pip install 'cellsrun[web]' "
                             "(./install.sh installs it)") from None
    from cellsrun.web.server import serve
    home = args.home or defaults.default_home()
    dirs = args.dir or [defaults.default_log_dir(home=home)]
    hosts = None
    if len(dirs) > 1 or any(c in d for d in dirs for c in "*?["):
        from cellsrun import logdirs
        from cellsrun.browse.merge import hosts_of
        hosts = hosts_of(logdirs.expand(dirs))
    host, port = args.listen
    return serve(home, dirs[0], args.name, host, port, show_login=not args.no_login_url,
                 dirs=dirs if hosts is not None else None, hosts=hosts)
