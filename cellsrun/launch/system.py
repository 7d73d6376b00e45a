"""The machine's own supervisord, when its configuration runs a working dir's programs.

`cellsrun config --supervisor` prints [program:] blocks for a supervisord the machine
already runs (Debian's reads /etc/supervisor/conf.d/). `status`, `stop`, `start` and
`restart` then act through that supervisord instead of starting one of their own. It is
looked for, in this order:

1. the configuration given with ``--supervisor-conf``;
2. the usual places: /etc/supervisor/supervisord.conf (Debian, Ubuntu), /etc/supervisord.conf;
3. the supervisord that runs a process of the working dir (psutil), by the ``-c`` of its
   command line (without one, supervisord's own search list from its working directory).

A configuration counts when one of its [program:] blocks — in the main file or in a file
its [include] names — has ``CELLSRUN_HOME="<home>"`` in its ``environment=``, as the
printed blocks do; which block is the service and which the rotator is read from their
commands (`cellsrun exec` / `cellsrun rotate --input`). Every file whose blocks are used
must be owned by root (or the caller) and not writable by group or others, since their
``user=`` decides who may own the working dir; else RuntimeFailure.

cellsrun talks to that supervisord on the unix socket of its [unix_http_server] only.
"""

from __future__ import annotations

import glob
import os
import re
import shlex

from cellsrun.defaults import HOME_MARKER
from cellsrun.errors import RuntimeFailure

USUAL_CONFS = ("/etc/supervisor/supervisord.conf", "/etc/supervisord.conf")
# supervisord's own search list when started without -c (relative ones from its cwd)
SEARCH_LIST = ("../etc/supervisord.conf", "../supervisord.conf", "supervisord.conf", "etc/supervisord.conf",
               "/etc/supervisord.conf", "/etc/supervisor/supervisord.conf")
_EXPANSION = re.compile(r"%\((here|ENV_[A-Za-z_][A-Za-z0-9_]*)\)s")


class SystemSupervisor:
    """Where the system's supervisord listens and what it calls this working dir's programs.

    conf     its main configuration file
    socket   its unix socket (None: it has none, so cellsrun cannot talk to it)
    service  the service's name for supervisorctl / XML-RPC (e.g. ``cells``, ``grp:cells``)
    rotator  the rotator's name
    web      the page's name (`cellsrun web`), if the blocks have one
    user     the ``user=`` of the blocks (None: they run as supervisord's user)
    blocks   the file that holds the blocks (where `config --supervisor` output went)
    """

    def __init__(self, conf: str, socket: str | None, service: str, rotator: str, user: str | None,
                 blocks: str, web: str | None = None):
        self.conf, self.socket, self.service, self.rotator = conf, socket, service, rotator
        self.user, self.blocks, self.web = user, blocks, web

    @property
    def uid(self) -> int | None:
        """The uid of ``user`` (None when there is none, or no such user)."""
        if not self.user:
            return None
        import pwd
        try:
            return int(self.user) if self.user.isdigit() else pwd.getpwnam(self.user).pw_uid
        except KeyError:
            return None


def find(home: str, conf: str | None = None, members=None, own_pid: int | None = None) -> SystemSupervisor | None:
    """The system supervisord that runs the working dir ``home``, or None (see the module).

    ``conf``: given by the operator (must exist, and must run ``home``); ``members``: the
    working dir's processes (a callable: :func:`cellsrun.launch.orphans.members`), to find the
    supervisord that runs them when no usual configuration does; ``own_pid``: the
    working dir's own supervisord, never a system one."""
    if conf:
        if not os.path.isfile(conf):
            raise RuntimeFailure(f"--supervisor-conf {conf}: no such file")
        found = read(conf, home)
        if found is None:
            raise RuntimeFailure(f"--supervisor-conf {conf}: none of its [program:] blocks (nor those of "
                                 f"the files it includes) runs the working dir {home}")
        return found
    for candidate in USUAL_CONFS:
        if os.path.isfile(candidate):
            found = _guess(candidate, home)
            if found is not None:
                return found
    for pid in {m.owner for m in (members() if members else ()) if m.owner and m.owner != own_pid}:
        candidate = conf_of(pid)
        if candidate:
            found = _guess(candidate, home)
            if found is not None:
                return found
    return None


def _guess(conf: str, home: str) -> SystemSupervisor | None:
    """:func:`read` for a configuration nobody named: one we cannot read is not ours."""
    try:
        return read(conf, home)
    except _Unreadable:
        return None


class _Unreadable(RuntimeFailure):
    pass


def conf_of(pid: int) -> str | None:
    """The configuration file of the running supervisord ``pid``, from its command line."""
    import psutil
    try:
        proc = psutil.Process(pid)
        argv, cwd = proc.cmdline(), proc.cwd()
    except psutil.Error:
        return None
    for i, arg in enumerate(argv):
        for flag in ("-c", "--configuration"):
            if arg == flag and i + 1 < len(argv):
                return os.path.join(cwd, argv[i + 1])
            if arg.startswith(flag + "=") or (flag == "-c" and arg.startswith("-c") and len(arg) > 2):
                return os.path.join(cwd, arg.split("=", 1)[1] if "=" in arg else arg[2:])
    for candidate in SEARCH_LIST:
        path = os.path.join(cwd, candidate)
        if os.path.isfile(path):
            return path
    return None


def read(conf: str, home: str) -> SystemSupervisor | None:
    """The blocks of ``home`` in ``conf`` and the files it includes, or None."""
    conf = os.path.abspath(conf)
    main = _parse(conf)
    here = os.path.dirname(conf)
    socket = None
    if main.has_option("unix_http_server", "file"):
        socket = _expand(main.get("unix_http_server", "file"), here)
    files = [conf]
    if main.has_option("include", "files"):
        for pattern in _expand(main.get("include", "files"), here).split():
            files += sorted(glob.glob(os.path.join(here, pattern)))
    groups = {}
    parsed = []
    for path in files:
        try:
            parser = main if path == conf else _parse(path)
        except _Unreadable:
            continue  # another program's file we may not read: not the one that runs home
        parsed.append((path, parser))
        for section in parser.sections():
            if section.startswith("group:") and parser.has_option(section, "programs"):
                for name in parser.get(section, "programs").split(","):
                    groups[name.strip()] = section[len("group:"):]
    roles, user, blocks = {}, None, None
    for path, parser in parsed:
        for section in parser.sections():
            if not section.startswith("program:") or not _runs(parser, section, home):
                continue
            why = _untrusted(path)
            if why:
                raise RuntimeFailure(f"the supervisord configuration {path} runs {home}, but {why}")
            role = _role(parser.get(section, "command", fallback=""))
            if role:
                name = section[len("program:"):]
                roles[role] = f"{groups[name]}:{name}" if name in groups else name
                user = parser.get(section, "user", fallback=None) or user
                blocks = path
    if not {"service", "rotator"} <= set(roles):
        return None
    return SystemSupervisor(conf, socket, roles["service"], roles["rotator"], user, blocks, roles.get("web"))


def _parse(path: str):
    import configparser
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f, path)
    except (OSError, UnicodeDecodeError, configparser.Error) as e:
        raise _Unreadable(f"cannot read the supervisord configuration {path}: {e}") from e
    return parser


def _expand(value: str, here: str) -> str:
    def one(m):
        key = m.group(1)
        return here if key == "here" else os.environ.get(key[len("ENV_"):], "")
    return _EXPANSION.sub(one, value).replace("%%", "%")


def _runs(parser, section: str, home: str) -> bool:
    """The block's environment says CELLSRUN_HOME=<home>."""
    env = parser.get(section, "environment", fallback="")
    if HOME_MARKER not in env:
        return False
    from supervisor.datatypes import dict_of_key_value_pairs
    try:
        pairs = dict_of_key_value_pairs(env.replace("%%", "%"))
    except ValueError:
        return False
    return pairs.get(HOME_MARKER) == home


def _role(command: str) -> str | None:
    try:
        words = shlex.split(command.replace("%%", "%"))
    except ValueError:
        return None
    if "rotate" in words and "--input" in words:
        return "rotator"
    if "exec" in words and "--output" in words:
        return "service"
    if "web" in words and "--listen" in words:
        return "web"
    return None


def _untrusted(path: str) -> str | None:
    from cellsrun.launch.ownership import untrusted
    return untrusted(path)
