"""Every default of cellsrun, in one place (flags, settings, templates and docs read them here).

Units are in the names: ``_DAYS``, ``_BYTES``, ``_SECS``.
"""

from __future__ import annotations

import os

# Names of things, as Cells and supervisord see them.
SERVICE = "cells"                 # [program:cells]: the service
ROTATOR = "cells-logs"            # [program:cells-logs]: the companion rotator
WEB = "cells-logs-web"            # [program:cells-logs-web]: the page (cellsrun web)
LIVE_NAME = "cells.out"           # today's file in the log dir; archives are LIVE_NAME.YYYY-MM-DD[.N][.gz]
FIFO_NAME = "cells.fifo"          # in <home>/run/
SETTINGS_FILE = "cellsrun.toml"   # in <home>
HOME_MARKER = "CELLSRUN_HOME"     # set to <home> in both programs' environment: finds them as orphans
PRODUCTION = "production"         # the log mode that makes Cells (and the demo) write JSON lines
DEFAULT_LOG_MODE = "info"         # any other mode: console lines

# The rotator.
KEEP_DAYS = 30                    # archives kept, by the date in their name; 0: all
MAX_KEEP_DAYS = 36_500            # a hundred years: beyond this a value is a typo
MAX_LINE_BYTES = 1 << 20          # lines longer than this are cut into pieces
MIN_MAX_LINE_BYTES = 1024
COMPRESS = "gzip"                 # or "none"
STAMP = False                     # start --stamp: the rotator begins each line with its arrival time
COMPRESSIONS = ("gzip", "none")

# The service under supervisord.
STARTSECS = 2                     # seconds the service must stay up to count as started
STOPWAITSECS = 20                 # seconds between TERM and KILL at stop
MAX_SECS = 3600                   # an upper bound for both (supervisord takes any integer)

# Several servers: rsyslog snippets (`cellsrun config --rsyslog-ship/--rsyslog-collect`), housekeep.
COLLECT_DIR = "/var/log/cells"    # the collector's files: <dir>/<host>/cells.out.YYYY-MM-DD
RSYSLOG_CONF = "/etc/rsyslog.conf"  # the main rsyslog configuration a snippet is checked against
SHIP_TAG = "cells"                # the syslog APP-NAME of a shipped line
SHIP_QUEUE_LINES = 100_000        # lines a sender's queue holds in memory (beyond, rsyslog spills to disk)
SHIP_QUEUE_DISK = "1g"            # disk a sender's queue may use while the collector is away
SHIP_RELP_WINDOW = 1024           # RELP frames in flight (librelp's 128 capped a burst at ~2,900 lines/s)
SYSLOG_HEADER_BYTES = 8192        # room for rsyslog's own message parts on top of a line, at each end
HOUSEKEEP_QUIET_SECS = 10         # housekeep leaves a finished day's file written to more recently

# The page.
WEB_LISTEN = "127.0.0.1:8035"

# The browser and the page.
AROUND_MINUTES = 5                # --around T: the entries within this many minutes of T


def default_home(env=os.environ) -> str:
    """The working dir: $CELLS_WORKING_DIR, else ~/.config/pydio/cells (as for Cells itself)."""
    return env.get("CELLS_WORKING_DIR") or os.path.join(os.path.expanduser("~"), ".config", "pydio", "cells")


def default_log_dir(env=os.environ, home: str | None = None) -> str:
    """The log dir: $CELLS_LOG_DIR, else <home>/logs."""
    if env.get("CELLS_LOG_DIR"):
        return env["CELLS_LOG_DIR"]
    return os.path.join(home or default_home(env), "logs")
