"""``cellsrun rotate``: wire input, rotator, housekeeper and pump together, and run them."""

from __future__ import annotations

import datetime as _dt
import os
import select
import sys
import time

from cellsrun import defaults
from cellsrun.errors import RuntimeFailure, UsageError
from cellsrun.rotate.rotator import Rotator, Stall

STOP_GRACE = 10.0   # seconds a stop waits for a full disk to take the held bytes


class RotateSettings:
    """What ``cellsrun rotate`` does. Every field has the unit and default shown.

    (A plain class rather than a dataclass: importing dataclasses costs ~10 ms at a
    start, and the rotator starts often.)
    """

    def __init__(self, directory: str, *,
                 name: str = defaults.LIVE_NAME,  # the live file; archives are NAME.YYYY-MM-DD[.N][.gz]
                 input: str | None = None,    # a FIFO path (created 0600 if missing); None: stdin
                 keep_days: int = defaults.KEEP_DAYS,  # days of archives kept, by the date in their name; 0: all
                 max_total: int = 0,          # bytes all archives may use together; 0: no limit
                 compress: str = defaults.COMPRESS,  # "gzip" or "none"
                 format: str = "raw",         # "raw": bytes as they come; "json": one object a line
                 utc: bool = False,           # days in UTC rather than local time (TZ)
                 logger: str = "",            # "logger" of wrapped json lines; default: NAME's stem
                 max_line: int = defaults.MAX_LINE_BYTES,  # bytes; longer lines are cut into pieces
                 stamp: bool = False):        # begin each line with its arrival time (raw format only)
        self.directory = directory
        self.name = name
        self.input = input
        self.keep_days = keep_days
        self.max_total = max_total
        self.compress = compress
        self.format = format
        self.utc = utc
        self.logger = logger
        self.max_line = max_line
        self.stamp = stamp
        self.exit_with_parent = False  # under supervisord: end after the service when it dies


class WarnAndWait(Stall):
    """While the disk refuses writes: warn once on stderr, retry with a growing pause (at
    most 5 s), wake at once on a signal, and give up STOP_GRACE seconds after a stop."""

    def __init__(self, signals, path: str, err=sys.stderr):
        self.signals = signals
        self.path = path
        self.err = err
        self.since: float | None = None
        self.pause = 0.05

    def wait(self, error: OSError, pending: int) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
            held = f"holding {pending} bytes" if pending else "input left in the pipe"
            print(f"cellsrun rotate: warning: cannot write {self.path}: {error.strerror}; "
                  f"{held}, reading paused, retrying", file=self.err, flush=True)
        if self.signals.stop and now - self.since > STOP_GRACE:
            raise RuntimeFailure(f"stopped while {self.path} could not be written "
                                 f"({error.strerror}); {pending} bytes not written")
        p = select.poll()
        p.register(self.signals.rfd, select.POLLIN)
        if p.poll(self.pause * 1000):
            # A signal woke us: its flag is set; drain the wake-up fd, or every later poll
            # returns at once and this back-off spins until the disk has room again.
            self.signals.drain()
        self.pause = min(self.pause * 2, 5.0)

    def resumed(self) -> None:
        if self.since is not None:
            print(f"cellsrun rotate: writing {self.path} again after "
                  f"{time.monotonic() - self.since:.1f}s", file=self.err, flush=True)
        self.since = None
        self.pause = 0.05


def run_rotate(settings: RotateSettings, clock=None) -> int:
    """Run until end of input (exit 0) or TERM/INT (exit 0). Raises CellsrunError.

    Order matters: the lock on the directory is taken before anything in it is touched
    and before the input is opened, so a second rotator refused leaves both alone.
    """
    # Imported here, not at the top: the framed path pulls in msgspec only when asked for.
    from cellsrun.clock import Clock
    from cellsrun.rotationlog import format_rotated
    from cellsrun.rotate.dirlock import DirLock
    from cellsrun.rotate.housekeeper import Housekeeper
    from cellsrun.fifo import check_fifo_path
    from cellsrun.rotate.pump import Pump, Signals, open_input

    if settings.stamp and settings.format == "json":
        raise UsageError("--stamp cannot go with --format json: a stamp before a JSON object "
                         "would break it (in json format a wrapped line's \"ts\" already is its "
                         "arrival time)")
    if clock is None:
        clock = Clock(_dt.timezone.utc) if settings.utc else Clock()
    check_fifo_path(settings.input)
    directory = settings.directory

    def warn(text: str) -> None:
        print(f"cellsrun rotate: warning: {text}", file=sys.stderr, flush=True)

    signals = Signals()
    rotator = Rotator(directory, settings.name, clock,
                      stall=WarnAndWait(signals, os.path.join(directory, settings.name)), warn=warn)
    rotator.make_directory()
    lock = DirLock(directory, rotator.names.lock, settings.name, warn=warn)
    lock.acquire()
    try:
        signals.install()
        housekeeper = Housekeeper(directory, rotator.names, compress=settings.compress,
                                  keep_days=settings.keep_days, max_total=settings.max_total,
                                  today=clock.today, warn=warn)
        pending = housekeeper.recover()  # before open(): a leftover it archives is handed over below

        def archived(filename: str, how: str) -> None:
            # One line per archive in the rotator's own log (supervisord keeps it): when, and where to.
            stamp = _dt.datetime.fromtimestamp(clock.now(), clock.tz).astimezone(clock.tz)
            print(format_rotated(stamp, settings.name, filename, how=how), file=sys.stderr, flush=True)
            housekeeper.new_archive(filename)

        rotator.on_archive = archived
        rotator.open()
        fd, is_pipe = open_input(settings.input)
        if settings.exit_with_parent and settings.input:  # after the TERM handler and the input
            from cellsrun.parentdeath import FollowParent
            FollowParent(settings.input).install()
        housekeeper.start(pending)
        guard = None
        if settings.format == "json":
            from cellsrun.rotate.jsonguard import JsonGuard
            guard = JsonGuard(settings.logger or settings.name.split(".")[0], clock, settings.max_line)
        elif settings.stamp:
            from cellsrun.rotate.stamp import Stamper
            guard = Stamper(clock, day_end=lambda: rotator.next_rotation)
        pump = Pump(fd, is_pipe, rotator, clock, signals, guard=guard, max_line=settings.max_line,
                    lock=lock)
        try:
            how = pump.run()
        finally:
            rotator.close()
        if how == "eof":
            # like `cmd | gzip`: at end of input the work is done (a TERM cuts the wait short)
            housekeeper.wait_idle(should_stop=lambda: signals.stop)
        housekeeper.close()
        if pump.lock_lost:
            raise RuntimeFailure(f"stopped: another rotator took over {directory} while its lock "
                                 "file was missing")
    finally:
        lock.release()
    return 0
