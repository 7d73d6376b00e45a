"""The page's JSON API: entries (newest first, by cursor), one entry's detail, the volume
picture, exports (CSV, NDJSON; streamed) and live events (server-sent, from the browser's follow).

Every handler reads the files on the request through the browser's own code (query, reader,
follow; newest for paging backwards): no copy of the logs is kept. Reading handlers are plain
functions, run by Starlette in its thread pool, so a slow disk never blocks the event loop.
A bad parameter or handle is a :class:`ApiError` (400 with a JSON ``error``).
"""

from __future__ import annotations

import os
import queue
import threading
import time

from starlette.responses import StreamingResponse

from cellsrun.browse import volume
from cellsrun.browse.entries import LEVELS
from cellsrun.browse.gzindex import GzIndexCache
from cellsrun.browse.files import Unreadable
from cellsrun.browse.newest import Newest, Position, StalePosition, forward_from, line_at, live_end
from cellsrun.browse.query import build_query
from cellsrun.browse.reader import Reader, follow, select_files
from cellsrun.web import export
from cellsrun.web.jsonsafe import SafeJSONResponse, encode as encode_json
from cellsrun.web.signing import BadHandle

FILTERS = ("q", "day", "since", "until", "around", "minutes", "level", "service", "user", "ip")
MAX_VALUE = 2000          # characters of one parameter
MAX_TERMS = 20
MAX_LIMIT = 1000
MSG_CUT = 500             # characters of a message in a row (the detail has it whole)
MAX_STREAMS = 8           # live event streams at once
BATCH = 200               # entries per event
READ_BLOCK = 1 << 20      # bytes read at once: the terminal's 8 MiB, times the requests served
                          # at once, would not fit the server's 80 MiB


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def row(e, entry_id: str | None = None) -> dict:
    """An entry as a table row (message cut to MSG_CUT characters)."""
    msg = e.msg
    return {"id": entry_id, "ts": e.ts, "level": e.level, "ip": e.ip, "user": e.user,
            "service": e.service, "msg": msg[:MSG_CUT], "cut": len(msg) > MSG_CUT}


def detail(e) -> dict:
    """Every field: a JSON line's own keys, or a console line's parsed fields under Cells' keys."""
    fields = e.obj if e.obj is not None else (e.as_object() if e.kind == "console" else {"msg": e.msg})
    return {"ts": e.ts, "ts_text": e.ts_text, "level": e.level, "logger": e.logger,
            "service": e.service, "ip": e.ip, "user": e.user, "msg": e.msg, "kind": e.kind,
            "fields": fields, "raw": e.raw}


class Api:
    """The handlers, over one log dir (``directory``/``name`` and its archives)."""

    def __init__(self, directory: str, name: str, signer, clock=time.time):
        self.dir = directory
        self.name = name
        self.signer = signer
        self.clock = clock
        self.gz_cache = GzIndexCache()
        self.volume = volume.VolumeCounter(self.gz_cache, READ_BLOCK)
        self.streams = threading.BoundedSemaphore(MAX_STREAMS)

    def reader(self, q, warnings: list | None = None) -> Reader:
        """The browser's reader for ``q``, its warnings (files skipped) kept in ``warnings``
        (else on the server's stderr, as `cellsrun logs` prints them)."""
        return Reader(q, warn=warnings.append if warnings is not None else None, block=READ_BLOCK)

    # -- parameters -------------------------------------------------------------------------

    EXTRA_FILTERS: tuple = ()  # parameters every route takes besides FILTERS (a subclass's)
    LONG_PARAMS: tuple = ()    # parameters bounded by LONG_BOUND instead of MAX_VALUE
    LONG_BOUND = MAX_VALUE

    def params(self, request, allowed=()) -> dict:
        """The query parameters, checked: known names, bounded sizes; ``q`` as a list."""
        out: dict = {"q": []}
        for key, value in request.query_params.multi_items():
            if key not in FILTERS and key not in allowed and key not in self.EXTRA_FILTERS:
                raise ApiError(400, f"unknown parameter {key!r}")
            bound = self.LONG_BOUND if key in self.LONG_PARAMS else MAX_VALUE
            if len(value) > bound:
                raise ApiError(400, f"parameter {key!r} is too long (at most {bound} characters)")
            if key == "q":
                if value.strip():
                    out["q"].append(value)
            elif key in out:
                raise ApiError(400, f"parameter {key!r} given twice")
            else:
                out[key] = value
        if len(out["q"]) > MAX_TERMS:
            raise ApiError(400, f"too many search terms (at most {MAX_TERMS})")
        return out

    def query(self, p: dict):
        text = p.get("minutes")
        minutes = None  # build_query's default; given without around, build_query refuses it
        if text is not None:
            try:
                minutes = float(text)
            except ValueError:
                minutes = -1.0
            if not 0 <= minutes <= 1440:  # also refuses nan and inf
                raise ApiError(400, f"invalid minutes {text!r} (a number from 0 to 1440)")
        try:
            return build_query(self.clock(), terms=p["q"], day=p.get("day"), since=p.get("since"),
                               until=p.get("until"), around=p.get("around"), minutes=minutes,
                               level=p.get("level"), service=p.get("service") or None,
                               user=p.get("user") or None, ip=p.get("ip") or None)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        except (OverflowError, OSError):  # e.g. the day after 9999-12-31
            raise ApiError(400, "a time of the filter is out of range (years 1 to 9998)") from None

    @staticmethod
    def int_param(p: dict, key: str, default: int, low: int, high: int) -> int:
        text = p.get(key)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise ApiError(400, f"invalid {key} {text!r} (a whole number)") from None
        if not low <= value <= high:
            raise ApiError(400, f"invalid {key} {text!r} (from {low} to {high})")
        return value

    def files(self, q):
        """The files the query needs, as `cellsrun logs` selects them (whatever they are: a
        file that is not regular, or cannot be read, is skipped with a warning when read)."""
        if not os.path.isdir(self.dir):
            raise ApiError(503, f"the log directory {self.dir} does not exist (is the rotator running?)")
        try:
            days = q.day_range()
        except (ValueError, OverflowError, OSError):
            raise ApiError(400, "a time of the filter is out of range (years 1 to 9998)") from None
        try:
            return select_files(self.dir, self.name, *days)
        except OSError as e:
            raise ApiError(503, f"cannot list the log directory {self.dir}: {e.strerror or e}") from None

    def position(self, kind: str, handle: str):
        try:
            return self.signer.read_position(kind, handle)
        except BadHandle as e:
            raise ApiError(400, str(e)) from None

    # -- handlers ---------------------------------------------------------------------------

    def entries(self, request):
        """GET /api/entries: a page of matches, newest first (from the newest, or before a
        ``cursor``, or before the entry ``before``: the page trims its oldest rows while Live
        is on, and goes on from the oldest it kept)."""
        began = time.perf_counter()
        p = self.params(request, ("cursor", "before", "limit"))
        q = self.query(p)
        limit = self.int_param(p, "limit", 100, 1, MAX_LIMIT)
        if p.get("cursor") and p.get("before"):
            raise ApiError(400, "give a cursor or before, not both")
        start = (self.position("cursor", p["cursor"]) if p.get("cursor") else
                 self.position("entry", p["before"]) if p.get("before") else None)
        files = self.files(q)
        newest = Newest(self.reader(q), self.gz_cache, slim=MSG_CUT + 1)  # rows only: bounded
        try:
            page = newest.page(files, start, limit)
        except StalePosition as e:
            raise ApiError(409, f"{e}; reload the page") from None
        if page.head is None and start is None:
            page = page._replace(head=live_end(os.path.join(self.dir, self.name), self.gz_cache))
        return SafeJSONResponse({
            "entries": [row(e, self.signer.position("entry", pos)) for pos, e in page.entries],
            "next": self.signer.position("cursor", page.next) if page.next else None,
            "head": self.signer.position("head", page.head) if page.head else None,
            "warnings": newest.warnings, "dir": self.dir, "files": len(files)},
            headers={"Server-Timing": f"read;dur={(time.perf_counter() - began) * 1000:.1f}"})

    def entry(self, request):
        """GET /api/entry?id=: one entry (a line, or a piece of a line over 1 MiB), every
        field and the raw line."""
        p = self.params(request, ("id",))
        pos = self.position("entry", p.get("id", ""))
        files = select_files(self.dir, self.name, None, None) if os.path.isdir(self.dir) else []
        try:
            e = line_at(files, pos, self.gz_cache)
        except StalePosition as e:
            raise ApiError(409, f"{e}; reload the page") from None
        except FileNotFoundError:
            raise ApiError(409, f"{pos.name} is gone since this view was loaded; reload the page") from None
        except (OSError, Unreadable) as e:
            why = (e.strerror or str(e)) if isinstance(e, OSError) else str(e)
            raise ApiError(409, f"cannot read {os.path.join(self.dir, pos.name)}: {why}") from None
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        return SafeJSONResponse(detail(e))

    def stats(self, request):
        """GET /api/stats: entries per minute, hour or day by level, for the filter."""
        p = self.params(request, ("tz",))
        q = self.query(p)
        offset = self.int_param(p, "tz", 0, -1440, 1440)
        files = self.files(q)
        counts = self.volume.count(self.reader(q, []), files)
        size, bars = volume.buckets(counts.minutes, offset, q.since, q.until)
        return SafeJSONResponse({"bucket": size, "levels": LEVELS, "bars": bars, "partial": counts.partial,
                             "total": sum(sum(c) for _, c in bars), "warnings": counts.warnings})

    def export(self, request, fmt: str):
        """GET /api/export.csv | .ndjson: every match, oldest first, streamed. (A file skipped
        is told on the server's stderr: the body is the export alone; the page shows the
        warnings of the same filter.)"""
        p = self.params(request, ("tz",))
        q = self.query(p)
        offset = self.int_param(p, "tz", 0, -1440, 1440) if "tz" in p else None
        files = self.files(q)
        body = export.stream(self.reader(q).entries(files), fmt, offset)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
        return StreamingResponse(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="cells-logs-{stamp}.{fmt}"'})

    async def events(self, request):
        """GET /api/events?from=HEAD: new matching entries as server-sent events: ``entries``
        (rows, each with its id), ``warning`` (a file not followed, and why: following goes
        on), ``problem`` (following stopped)."""
        import anyio
        p = self.params(request, ("from",))
        q = self.query(p)
        head = self.follow_start(p)
        if not self.streams.acquire(blocking=False):
            raise ApiError(429, f"too many live views open (at most {MAX_STREAMS})")
        handoff: queue.Queue = queue.Queue(maxsize=BATCH * 5)
        stop = threading.Event()
        threading.Thread(target=self._follow, args=(q, head, handoff, stop), daemon=True,
                         name="cellsrun-web-follow").start()

        async def stream():
            try:
                yield "retry: 86400000\n\n"
                beat = time.monotonic()
                while True:
                    batch = []
                    while len(batch) < BATCH:
                        try:
                            batch.append(handoff.get_nowait())
                        except queue.Empty:
                            break
                    rows = [item for item in batch if isinstance(item, dict)]
                    if rows:
                        yield f"event: entries\ndata: {encode_json(rows).decode()}\n\n"
                    for kind, text in (item for item in batch if isinstance(item, tuple)):
                        yield f"event: {kind}\ndata: {encode_json({'error': text}).decode()}\n\n"
                        if kind == "problem":
                            return
                    if not batch:
                        if time.monotonic() - beat > 10:
                            beat = time.monotonic()
                            yield ": keep-alive\n\n"
                        await anyio.sleep(0.1)
            finally:
                stop.set()
                self.streams.release()
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    def follow_start(self, p: dict):
        """Where the event stream starts: the ``from`` handle's position (None: the live end)."""
        return self.position("head", p["from"]) if p.get("from") else None

    def _follow(self, q, head, handoff: queue.Queue, stop: threading.Event) -> None:
        """The follow thread of one event stream: the browser's follow loop over the live
        file, each match handed over as a row with its id (blocking while the stream is
        behind: backpressure); a warning of the loop (a new live file that is not regular) as
        a ``warning`` event, and the reason it stopped as a ``problem``."""
        def put(item) -> None:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.5)
                    return
                except queue.Full:
                    continue

        live = os.path.join(self.dir, self.name)

        def emit(e, ino, offset) -> None:
            put(row(e, self.signer.position("entry", Position(self.name, ino, offset))))

        reader = Reader(q, warn=lambda text: put(("warning", text)), block=READ_BLOCK)
        try:
            while not os.path.lexists(live):
                if stop.wait(0.5):
                    return
            offset = 0
            current = os.lstat(live).st_ino
            if head is not None and head.ino != current:
                # rotated since the page was read: the rest of the renamed file first
                forward_from(select_files(self.dir, self.name, None, None), head, reader, self.gz_cache,
                             lambda e, pos: put(row(e, self.signer.position("entry", pos))))
            elif head is not None:
                offset = head.offset
            else:
                end = live_end(live, self.gz_cache)
                offset = end.offset if end is not None else 0
            follow(live, reader, offset, emit, poll=0.25, stop=stop.is_set, positions=True)
        except (OSError, ValueError, Unreadable) as e:
            why = (e.strerror or str(e)) if isinstance(e, OSError) else str(e)
            put(("problem", f"live view stopped: cannot follow {live}: {why}"))
