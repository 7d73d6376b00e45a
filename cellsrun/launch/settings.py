"""Launcher settings: where things live and what runs, from flags > env > cellsrun.toml > defaults.

The working dir (``home``) holds everything of one installation::

    <home>/cellsrun.toml        persisted settings (written by `cellsrun start` when flags are given)
    <home>/supervisord.conf     rendered from etc/ at each start
    <home>/run/                 supervisord.sock (0700), supervisord.pid, cells.fifo
    <home>/logs/                cells.out and its archives, supervisord's own logs

Every value, from a flag, the environment or cellsrun.toml, passes the same converters
(:mod:`cellsrun.datatypes`) and bounds; a working dir another user controls is refused
(:mod:`cellsrun.launch.ownership`).
"""

from __future__ import annotations

import os
import shutil
import sys

from cellsrun import datatypes as dt
from cellsrun import defaults
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
    web          also serve the page (`cellsrun web`) as the program cells-logs-web (default false)
    web_listen   the page's HOST:PORT (default 127.0.0.1:8035)
    stamp        the rotator begins each line with its arrival time (`rotate --stamp`; default
                 false); refused with the production log mode (see :meth:`check`)
    """

    FIELDS = ("log", "command", "demo", "keep_days", "max_total", "compress", "startsecs", "stopwaitsecs",
              "web", "web_listen", "stamp")

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
        self.web = False
        self.web_listen = defaults.WEB_LISTEN
        self.stopwaitsecs = defaults.STOPWAITSECS
        self.stamp = defaults.STAMP

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

    def check(self) -> None:
        """Refuse settings that cannot go together, or that supervisord cannot run as meant
        (the page on port 0), wherever each came from (UsageError):
        what starts programs calls it (start, config --supervisor), not stop or status, which
        must work whatever the environment says."""
        if self.web and dt.listen_address(self.web_listen)[1] == 0:
            raise UsageError(
                f"--web-listen {self.web_listen} (from a flag or {self.settings_file}): port 0 picks a "
                "free port, which supervisord's page would keep to itself (status could not say "
                "where to log in); pick a port, e.g. --web-listen 127.0.0.1:8035")
        if self.stamp and self.json_logs:
            raise UsageError(
                f"--stamp cannot go with --log {PRODUCTION} (from a flag, $PYDIO_LOGS_LEVEL or "
                f"{self.settings_file}): a stamp before a JSON line would break it, and JSON lines "
                "carry their own time; drop one (--no-stamp, or another --log)")

    # -- persistence -----------------------------------------------------------------------

    def load_file(self) -> None:
        """Apply cellsrun.toml, if there is one; each value is checked as its flag is."""
        import tomllib
        try:
            with open(self.settings_file, "rb") as f:
                data = tomllib.load(f)
        except (FileNotFoundError, NotADirectoryError):
            return  # nothing saved yet (or no working dir: `start` says so when creating it)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read {self.settings_file}: {e}") from e
        for key, value in data.items():
            if key not in self.FIELDS:
                raise UsageError(f"{self.settings_file}: unknown setting {key!r}")
            try:
                setattr(self, key, _convert(key, value))
            except ValueError as e:
                raise UsageError(f"{self.settings_file}: {key} = {_shown(value)}: {e}") from None

    def save_file(self) -> None:
        """Write every persisted field to cellsrun.toml (atomically, mode 0640), as TOML that
        reads back to the same values (any Unicode included)."""
        import tomli_w
        text = ("# cellsrun settings; flags and environment variables override them\n"
                + tomli_w.dumps({key: getattr(self, key) for key in self.FIELDS}))
        tmp = self.settings_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.settings_file)


def _whole(value) -> str:
    """An integer from a TOML file, as the text its flag's converter takes."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{_shown(value)} is not a whole number")
    return str(value)


def _convert(key: str, value):
    """A value of cellsrun.toml through the converter of its flag; ValueError names it."""
    if key == "command":
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            raise ValueError("must be a list of strings, e.g. [\"/usr/local/bin/cells\", \"start\"]")
        from cellsrun.launch.supervisor_conf import quote_arg
        for arg in value:
            try:
                quote_arg(arg)
            except UsageError as e:
                raise ValueError(str(e)) from None
        return value
    if key in ("demo", "web", "stamp"):
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if key == "web_listen":
        if not isinstance(value, str):
            raise ValueError("must be a string HOST:PORT, e.g. \"127.0.0.1:8035\"")
        dt.listen_address(value)
        return value
    if key == "log":
        return dt.log_mode(value)
    if key == "compress":
        return dt.compression(value)
    if key == "max_total":
        return dt.byte_size(value if isinstance(value, str) else _whole(value))
    convert = {"keep_days": dt.keep_days, "startsecs": dt.seconds, "stopwaitsecs": dt.seconds}[key]
    return convert(_whole(value))


def _shown(value) -> str:
    import json
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def locate(home: str | None, env=os.environ, must_exist: bool = False) -> Settings:
    """The paths of a working dir (defaults only, nothing read yet), refused when supervisord
    could not hold them (UsageError), when the working dir is not a directory (UsageError),
    or, with ``must_exist``, when it does not exist (RuntimeFailure: nothing to look at)."""
    s = Settings(home or default_home(env), env.get("CELLS_LOG_DIR") or None)
    from cellsrun.launch.supervisor_conf import check_path
    check_path(s.home, "the working dir")
    check_path(s.log_dir, "the log dir")
    if os.path.exists(s.home) and not os.path.isdir(s.home):
        raise UsageError(f"the working dir {s.home} is not a directory (see --home)")
    if must_exist and not os.path.isdir(s.home):
        from cellsrun.errors import RuntimeFailure
        raise RuntimeFailure(f"the working dir {s.home} does not exist: nothing was started there "
                             "(see --home and $CELLS_WORKING_DIR)")
    return s


def resolve(home: str | None, flags: dict, env=os.environ, trusted=(), must_exist: bool = False) -> Settings:
    """Settings from flags > env > cellsrun.toml > defaults.

    ``flags``: the fields the user gave on the command line (only those); when any is given,
    the caller saves the result so that the next `cellsrun start` remembers it.
    ``trusted``: uids that may own the working dir besides the caller and root
    (:mod:`cellsrun.launch.ownership`).
    """
    s = locate(home, env, must_exist)
    from cellsrun.launch.ownership import check_working_dir
    check_working_dir(s.home, s.settings_file, s.run_dir, s.log_dir, trusted)
    s.load_file()
    if env.get("PYDIO_LOGS_LEVEL"):
        try:
            s.log = dt.log_mode(env["PYDIO_LOGS_LEVEL"])
        except ValueError as e:
            raise UsageError(f"PYDIO_LOGS_LEVEL: {e}") from None
    for key, value in flags.items():
        setattr(s, key, value)
    if len(s.socket) > 100:
        raise UsageError(f"working dir {s.home} is too deep: the socket path {s.socket} "
                         "exceeds the 100-byte limit of unix sockets")
    return s
