"""Launcher settings: where things live and what runs, from flags > env > cellsrun.toml > defaults.

The working dir (``home``) holds everything of one installation::

    <home>/cellsrun.toml        persisted settings (written by `cellsrun start` when flags are given)
    <home>/supervisord.conf     rendered from etc/ at each start
    <home>/run/                 supervisord.sock (0700), supervisord.pid, cells.fifo
    <home>/logs/                cells.out and its archives, supervisord's own logs
"""

from __future__ import annotations

import json
import os
import shutil
import sys

from cellsrun import datatypes, defaults
from cellsrun.defaults import PRODUCTION, default_home
from cellsrun.errors import UsageError



class Settings:
    """Everything `cellsrun start` needs; each field with its unit and default.

    home         working dir (default ~/.config/pydio/cells, env CELLS_WORKING_DIR)
    log_dir      log dir (default <home>/logs, env CELLS_LOG_DIR)
    log          Cells' log mode: "production" = JSON lines, anything else console lines
                 (default "info"; env PYDIO_LOGS_LEVEL)
    command      argv of the service (default: the persisted one, else `cells start`)
    demo         run the bundled demo service; command then holds the demo's own flags
    keep_days    days of archives kept (default 30; 0: all)
    max_total    bytes all archives may use, 0: no limit (default 0)
    compress     "gzip" or "none" (default gzip)
    startsecs    seconds the service must stay up to count as started (default 2)
    stopwaitsecs seconds between TERM and KILL at stop (default 20)
    web          also run the page (`cellsrun web`) as the program cells-logs-web (default false)
    web_listen   its HOST:PORT (default 127.0.0.1:8035)
    """

    FIELDS = ("log", "command", "demo", "keep_days", "max_total", "compress", "startsecs", "stopwaitsecs",
              "web", "web_listen")

    def __init__(self, home: str, log_dir: str | None = None):
        self.home = os.path.abspath(home)
        self.log_dir = os.path.abspath(log_dir) if log_dir else os.path.join(self.home, "logs")
        self.log = defaults.DEFAULT_LOG_MODE
        self.command: list[str] = []
        self.demo = False
        self.keep_days = defaults.KEEP_DAYS
        self.max_total = 0
        self.compress = defaults.COMPRESS
        self.startsecs = defaults.STARTSECS
        self.stopwaitsecs = defaults.STOPWAITSECS
        self.web = False
        self.web_listen = defaults.WEB_LISTEN

    # -- derived paths ---------------------------------------------------------------------

    @property
    def run_dir(self) -> str:
        return os.path.join(self.home, "run")

    @property
    def socket(self) -> str:
        return os.path.join(self.run_dir, "supervisord.sock")

    @property
    def pidfile(self) -> str:
        return os.path.join(self.run_dir, "supervisord.pid")

    @property
    def fifo(self) -> str:
        return os.path.join(self.run_dir, defaults.FIFO_NAME)

    @property
    def conf(self) -> str:
        return os.path.join(self.home, "supervisord.conf")

    @property
    def settings_file(self) -> str:
        return os.path.join(self.home, defaults.SETTINGS_FILE)

    @property
    def live_file(self) -> str:
        return os.path.join(self.log_dir, defaults.LIVE_NAME)

    @property
    def json_logs(self) -> bool:
        return self.log == PRODUCTION

    def service_argv(self, require_cells: bool = True) -> list[str]:
        """What `cellsrun exec` runs: the demo, the configured command, or `cells start`
        (when `cells` is on PATH, or anyway with ``require_cells=False``)."""
        if self.demo:
            return [sys.executable, "-m", "cellsrun", "demo", *self.command]
        if self.command:
            return list(self.command)
        if shutil.which("cells") or not require_cells:
            return ["cells", "start"]
        raise UsageError("no service to run: `cells` is not on PATH and no command is configured; "
                         "try `cellsrun start --demo` or `cellsrun start -- COMMAND ARGS...`")

    # -- persistence -----------------------------------------------------------------------

    def load_file(self) -> None:
        """Apply cellsrun.toml, if there is one."""
        import tomllib
        try:
            with open(self.settings_file, "rb") as f:
                data = tomllib.load(f)
        except (FileNotFoundError, NotADirectoryError):
            return  # nothing saved yet (or no working dir: `start` says so when creating it)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise UsageError(f"cannot read {self.settings_file}: {e}") from e
        for key, value in data.items():
            if key not in self.FIELDS:
                raise UsageError(f"{self.settings_file}: unknown setting {key!r}")
            expected = type(getattr(self, key))
            if not isinstance(value, expected) or (key == "command" and not all(isinstance(a, str) for a in value)):
                raise UsageError(f"{self.settings_file}: {key} = {value!r} is not a {expected.__name__}")
            setattr(self, key, value)

    def save_file(self) -> None:
        """Write every persisted field to cellsrun.toml (atomically, mode 0640)."""
        lines = ["# cellsrun settings; flags and environment variables override them\n"]
        for key in self.FIELDS:
            value = getattr(self, key)
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, list):
                text = "[" + ", ".join(json.dumps(a) for a in value) + "]"
            else:  # JSON's string escapes are valid TOML basic strings
                text = json.dumps(value)
            lines.append(f"{key} = {text}\n")
        tmp = self.settings_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o640)
        with os.fdopen(fd, "w") as f:
            f.writelines(lines)
        os.replace(tmp, self.settings_file)


def resolve(home: str | None, flags: dict, env=os.environ) -> Settings:
    """Settings from flags > env > cellsrun.toml > defaults.

    ``flags``: the fields the user gave on the command line (only those); when any is given,
    the caller saves the result so that the next `cellsrun start` remembers it.
    """
    s = Settings(home or default_home(env), env.get("CELLS_LOG_DIR") or None)
    for path in (s.home, s.log_dir):
        if any(c in path for c in '"\n\r'):
            raise UsageError(f"unsupported character in path {path!r}")
    s.load_file()
    if env.get("PYDIO_LOGS_LEVEL"):
        s.log = env["PYDIO_LOGS_LEVEL"]
    for key, value in flags.items():
        setattr(s, key, value)
    try:  # a value from cellsrun.toml passes the same check as the flag
        datatypes.listen_address(s.web_listen)
    except ValueError as e:
        raise UsageError(f"web_listen: {e}") from None
    if len(s.socket) > 100:
        raise UsageError(f"working dir {s.home} is too deep: the socket path {s.socket} "
                         "exceeds the 100-byte limit of unix sockets")
    return s
