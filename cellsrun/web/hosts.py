"""The page over several log directories — a collector's one per host — as `cellsrun logs`
shows them: `cellsrun web --dir '/var/log/cells/*'`.

Each host's directory is read as the page reads one (:class:`~cellsrun.web.api.Api`: its
files, regular only, :class:`~cellsrun.browse.newest.Newest` pages backwards), and the hosts'
pages are merged newest first, a host's own order kept. A row carries its ``host``; the
``host`` parameter keeps one host. Handles name a position per host: the cursor (where each
host's next page starts; a host read to its start drops out), the live head, an entry's id.

Paging stays exact when a host's page was cut short by the time budget: only the entries at or
after the oldest time such a host has shown are given out, the rest wait for the next request
(which then reads on from that host's ``next``).
"""

from __future__ import annotations

import copy
import heapq
import os
import threading
import time

from starlette.responses import StreamingResponse

from cellsrun.browse.files import Unreadable
from cellsrun.browse.newest import Newest, Position, StalePosition, line_at, live_end
from cellsrun.browse.reader import Reader, follow, select_files
from cellsrun.errors import RuntimeFailure
from cellsrun.web import export
from cellsrun.web.api import MSG_CUT, READ_BLOCK, Api, ApiError, detail, row
from cellsrun.web.jsonsafe import SafeJSONResponse
from cellsrun.web.signing import MAX_HOSTS_LEN, BadHandle

HANDLES = ("cursor", "from", "id")  # parameters holding a handle (a position per host: longer)
_OLDEST = float("-inf")


class HostsApi(Api):
    """The API over the directories that ``dirs`` (the --dir values: directories, globs)
    name: the same routes as :class:`Api`, each row with its host. The values are expanded
    again on each request, so a host that starts sending to the collector appears without a
    restart; a directory gone since is skipped with a warning."""

    # As Api's parameters, plus ``host``; a handle may be as long as a position per host.
    EXTRA_FILTERS = ("host",)
    LONG_PARAMS = HANDLES
    LONG_BOUND = MAX_HOSTS_LEN

    def __init__(self, dirs: list[str], name: str, signer, clock=time.time):
        self.patterns = list(dirs)
        self._apis: dict[str, Api] = {}  # directory -> its Api (sharing this one's caches)
        first = self.hosts
        super().__init__(first[0].directory if first else "", name, signer, clock)

    @property
    def hosts(self) -> list:
        """The hosts (:class:`cellsrun.browse.merge.Host`) the --dir values name now."""
        from cellsrun import logdirs
        from cellsrun.browse.merge import hosts_of
        try:
            return hosts_of(logdirs.expand(self.patterns))
        except RuntimeFailure:  # a glob that matches nothing (yet)
            return []

    def one(self, host) -> Api:
        api = self._apis.get(host.directory)
        if api is None:
            api = Api(host.directory, self.name, self.signer, self.clock)
            api.gz_cache, api.volume = self.gz_cache, self.volume
            self._apis[host.directory] = api
        return api

    def files_of(self, host, q, warnings: list | None = None) -> list:
        """A host's files for ``q`` (see :meth:`Api.files`); none, with a warning, when its
        directory is gone."""
        try:
            return self.one(host).files(q)
        except ApiError as e:
            if e.status != 503:
                raise
            if warnings is not None:
                warnings.append(str(e))
            return []

    # -- parameters -------------------------------------------------------------------------

    def chosen(self, p: dict, hosts: list) -> list:
        """The ``hosts`` the ``host`` parameter keeps (all without it)."""
        name = p.get("host")
        if not name:
            return hosts
        kept = [h for h in hosts if h.name == name]
        if not kept:
            raise ApiError(400, f"unknown host {name!r}")
        return kept

    def handle(self, kind: str, text: str, hosts: list) -> dict:
        try:
            got = self.signer.read_host_positions(kind, text)
        except BadHandle as e:
            raise ApiError(400, str(e)) from None
        names = {h.name for h in hosts}
        gone = [h for h in got if h not in names]
        if gone:
            raise ApiError(409, f"host {gone[0]!r} is no longer there; reload the page")
        return got

    def top(self, files) -> object:
        """Where a host's first page starts: the end of the complete lines of its newest plain
        file (the live file, or a collector's day file still being written), so that lines
        written while the pages are read come in through Live, not into a later page."""
        if files and not files[-1].compressed:
            return live_end(files[-1].path, self.gz_cache)
        return None

    # -- handlers ---------------------------------------------------------------------------

    def entries(self, request):
        """GET /api/entries: a page of every host's matches, newest first, merged by time."""
        began = time.perf_counter()
        p = self.params(request, ("cursor", "before", "limit"))
        q = self.query(p)
        limit = self.int_param(p, "limit", 100, 1, 1000)
        every = self.hosts
        hosts = self.chosen(p, every)
        if p.get("cursor") and p.get("before"):
            raise ApiError(400, "give a cursor or before, not both")
        # An entry's id holds where every host goes on after it (see below): "before" an entry
        # is a cursor too.
        cursor = (self.handle("cursor", p["cursor"], every) if p.get("cursor") else
                  self.handle("entry", p["before"], every) if p.get("before") else None)
        # A live row's id knows only its own host's place: the others go on from their newest
        # entry at or before that row's time.
        narrow = None
        if p.get("before") and None in cursor.values():
            narrow = self.time_of(*next(iter(cursor.items())), every)
        warnings: list[str] = []
        heads, pages, total_files = {}, {}, 0
        for rank, h in enumerate(hosts):
            if cursor is not None and h.name not in cursor:
                continue  # read to its start
            files = self.files_of(h, q, warnings)
            total_files += len(files)
            if cursor is None:
                start = heads[h.name] = self.top(files)
            else:
                start = cursor[h.name]
            hq = q
            if start is None and narrow is not None:
                hq = copy.copy(q)
                hq.until = narrow if q.until is None else min(q.until, narrow)
            newest = Newest(self.reader(hq), self.gz_cache, slim=MSG_CUT + 1)  # rows only: bounded
            newest.warnings = warnings
            try:
                page = newest.page(files, start, limit)
            except StalePosition as e:
                raise ApiError(409, f"{h.name}: {e}; reload the page") from None
            pages[h.name] = (rank, start, page)
        # A host whose page ended early (time budget) may hold entries newer than what the
        # others gave: nothing older than the last entry it gave is given out now.
        floor = _OLDEST
        for _, _, page in pages.values():
            if page.next is not None and len(page.entries) < limit:
                floor = max(floor, _when(page.entries[-1][1]) if page.entries else float("inf"))
        streams = [[(-_when(e), rank, i, name, pos, e) for i, (pos, e) in enumerate(page.entries)]
                   for name, (rank, _, page) in pages.items()]
        taken = []
        for item in heapq.merge(*streams):
            if len(taken) == limit or -item[0] < floor:
                break
            taken.append(item)
        # Each row's id: its own host's position first (the detail reads it), then where each
        # host would go on if the page ended with this row (the page's "before").
        going = {name: start for name, (_, start, _) in pages.items()}
        used = {name: 0 for name in pages}
        ids = []
        for item in taken:
            used[item[3]] += 1
            going[item[3]] = item[4]
            ids.append(self.signer.host_positions("entry", {item[3]: item[4], **going}))
        nxt = {}
        for name, (_, start, page) in pages.items():
            k = used[name]
            if k == len(page.entries):
                if page.next is not None:
                    nxt[name] = page.next
            else:  # before the oldest entry given out (or where this page began)
                nxt[name] = page.entries[k - 1][0] if k else start
        return SafeJSONResponse({
            "entries": [dict(row(item[5], handle), host=item[3]) for item, handle in zip(taken, ids)],
            "next": self.signer.host_positions("cursor", nxt) if nxt else None,
            "head": self.signer.host_positions("head", heads) if cursor is None else None,
            "warnings": warnings, "dir": ", ".join(h.directory for h in hosts),
            "hosts": [h.name for h in every], "files": total_files},
            headers={"Server-Timing": f"read;dur={(time.perf_counter() - began) * 1000:.1f}"})

    def time_of(self, name: str, pos, every: list) -> float | None:
        """The time of the entry at ``pos`` in host ``name``'s files (409 if it is gone)."""
        directory = next(h.directory for h in every if h.name == name)
        try:
            return line_at(select_files(directory, self.name, None, None), pos, self.gz_cache).ts
        except (StalePosition, OSError, ValueError, Unreadable) as e:
            raise ApiError(409, f"{name}: {e}; reload the page") from None

    def entry(self, request):
        """GET /api/entry?id=: one entry, every field, the raw line and its host."""
        p = self.params(request, ("id",))
        every = self.hosts
        got = self.handle("entry", p.get("id", ""), every)
        name, pos = next(iter(got.items()), (None, None))
        if pos is None:
            raise ApiError(400, "invalid entry id")
        directory = next(h.directory for h in every if h.name == name)
        files = select_files(directory, self.name, None, None) if os.path.isdir(directory) else []
        try:
            e = line_at(files, pos, self.gz_cache)
        except StalePosition as e:
            raise ApiError(409, f"{name}: {e}; reload the page") from None
        except FileNotFoundError:
            raise ApiError(409, f"{name}: {pos.name} is gone since this view was loaded; reload the page") from None
        except (OSError, Unreadable) as e:
            why = (e.strerror or str(e)) if isinstance(e, OSError) else str(e)
            raise ApiError(409, f"cannot read {os.path.join(directory, pos.name)}: {why}") from None
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        return SafeJSONResponse(dict(detail(e), host=name))

    def stats(self, request):
        """GET /api/stats: the hosts' entries per minute, hour or day by level, added up."""
        from cellsrun.browse import volume
        from cellsrun.browse.entries import LEVELS
        p = self.params(request, ("tz",))
        q = self.query(p)
        offset = self.int_param(p, "tz", 0, -1440, 1440)
        minutes: dict[int, list[int]] = {}
        partial, warnings = False, []
        for h in self.chosen(p, self.hosts):
            counted = self.volume.count(self.reader(q, []), self.files_of(h, q, warnings))
            partial = partial or counted.partial
            warnings += [w for w in counted.warnings if w not in warnings]
            for minute, counts in counted.minutes.items():
                into = minutes.setdefault(minute, [0] * len(counts))
                for i, c in enumerate(counts):
                    into[i] += c
        size, bars = volume.buckets(minutes, offset, q.since, q.until)
        return SafeJSONResponse({"bucket": size, "levels": LEVELS, "bars": bars, "partial": partial,
                             "total": sum(sum(c) for _, c in bars), "warnings": warnings})

    def export(self, request, fmt: str):
        """GET /api/export.csv | .ndjson: every host's matches, oldest first, merged by time."""
        from cellsrun.browse.merge import Merge
        p = self.params(request, ("tz",))
        q = self.query(p)
        offset = self.int_param(p, "tz", 0, -1440, 1440) if "tz" in p else None
        hosts = self.chosen(p, self.hosts)
        pairs = Merge(hosts, q, name=self.name, warn=lambda text: None, block=READ_BLOCK).entries()
        body = export.stream(pairs, fmt, offset, hosts=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
        return StreamingResponse(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="cells-logs-{stamp}.{fmt}"'})

    def follow_start(self, p: dict):
        """(the hosts followed, {host: head position}) for :meth:`_follow`."""
        every = self.hosts
        return self.chosen(p, every), (self.handle("head", p["from"], every) if p.get("from") else {})

    def _follow(self, q, start, handoff, stop) -> None:
        """The event stream's follow (see :meth:`Api._follow`), one thread per host: from the
        head the page was read at, each match handed over with its host."""
        hosts, heads = start
        others = [h.name for h in hosts]
        threads = [threading.Thread(target=self._follow_host, args=(h, heads.get(h.name), q, handoff, stop, others),
                                    daemon=True, name=f"cellsrun-web-follow {h.name}") for h in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _follow_host(self, host, head, q, handoff, stop, others) -> None:
        from cellsrun.browse.merge import follow_days
        import queue as _queue

        def put(item) -> None:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.5)
                    return
                except _queue.Full:
                    continue

        def emit(e, ino, offset) -> None:
            # The file by inode (locate finds a renamed one by it); the other hosts: None (a
            # page "before" this row reads them up to its time).
            here = {host.name: Position(self.name, ino, offset)}
            handle = self.signer.host_positions("entry", {**here, **{n: None for n in others if n != host.name}})
            put(dict(row(e, handle), host=host.name))

        reader = Reader(q, warn=lambda text: put(("warning", f"{host.name}: {text}")), block=READ_BLOCK)
        live = os.path.join(host.directory, self.name)
        try:
            if os.path.lexists(live):
                offset = head.offset if head is not None and _ino(live) == head.ino else 0
                follow(live, reader, offset, emit, poll=0.25, stop=stop.is_set, positions=True)
            else:
                files = select_files(host.directory, self.name, None, None)
                path = files[-1].path if files and not files[-1].compressed else None
                offset = head.offset if head is not None and path and _ino(path) == head.ino else 0
                follow_days(host.directory, self.name, reader, path, offset, emit, 0.25, stop.is_set,
                            positions=True)
        except (OSError, ValueError, Unreadable) as e:
            if not stop.is_set():
                why = (e.strerror or str(e)) if isinstance(e, OSError) else str(e)
                put(("problem", f"live view stopped: cannot follow {host.name}: {why}"))


def _ino(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _when(e) -> float:
    return e.ts if e.ts is not None else _OLDEST
