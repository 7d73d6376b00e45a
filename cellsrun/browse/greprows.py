"""The reader's fast path over grep's output, for a query whose only filter is the full text.

grep's output is taken a block at a time: the rows of the lines the printer's ``quick`` takes
come out as one str per run of them, the other lines as entries, read with their context as
without the fast path. Once the query has offered ROWS_BEFORE lines to ``quick``, every other
block is made by a :class:`rowpool.RowWorker` on the other core while this process makes the
next one; blocks are yielded in their order (see :mod:`rowpool`).
"""

from __future__ import annotations

from cellsrun.browse import rowpool
from cellsrun.browse.entries import parse_line
from cellsrun.browse.grepscan import block_lines


class GrepRows:
    """Rows and entries of archives read through grep, for one query (``q``: its full text is
    its only filter); ``quick(line)``: the printer's row of a line, or None; ``timed(job, line,
    where, last_ts, day)``: the entry of a line with its time (the reader's)."""

    AHEAD = 4  # blocks made here while the worker makes one, at most

    def __init__(self, q, quick, timed):
        self.q = q
        self.quick = quick
        self.timed = timed
        self.offered = 0  # lines offered to quick so far (a worker starts past ROWS_BEFORE)
        # Which lines grep gave still need the full-text test before quick: none when the text
        # is one ASCII term without a newline (grep -F takes each line of it as a pattern of
        # its own). grep (-F -i, LC_ALL=C) gave only lines holding it in any ASCII case; those
        # bytes decode to themselves and str.lower() lowers them so: the line's lowered text
        # holds the term. (Saves a lowered copy of every line: ~7% of the time.)
        single = len(q.terms) == 1 and q.terms[0].isascii() and "\n" not in q.terms[0]
        self.check = None if single else q.matches_text
        self.worker = None  # a RowWorker; False when none is to be started (off, failed)

    def entries(self, job, day=None):
        """What one archive's grep job (``job``) gives: str rows and entries, in order."""
        try:
            yield from self._entries(job, day)
        finally:
            job.close()  # only now: the last block's odd lines may have read their context

    def _entries(self, job, day):
        # (The lines quick left always get the full-text test, whatever self.check says.)
        matches_text, direct = self.q.matches_text, job.direct
        last_ts = None
        pending = None  # the last line quick took: its time, read only if a later line needs it
        held = None  # (data, context) of the block the worker is making

        def emit(items, tail, data, context):
            nonlocal last_ts, pending
            lines = None
            for item in items:
                if item.__class__ is str:
                    yield item
                    continue
                i, last = item
                if last is not None:
                    pending = last
                if pending is not None:
                    last_ts, pending = parse_line(pending).ts, None
                if lines is None:
                    lines = block_lines(data, direct, context)
                e = self.timed(job, *lines[i], last_ts, day)
                last_ts = e.ts
                if matches_text(e.raw.lower()):
                    yield e  # (no other filter: Query.matches holds)
            if tail is not None:
                pending = tail

        def flush():
            """The worker's block, then the blocks made here since it was sent."""
            nonlocal held
            if held is not None:
                yield from emit(*self._from_worker(held[0], direct), *held)
                held = None
            for made in done:
                yield from emit(*made)
            done.clear()

        done = []  # blocks made here while the worker makes ``held``: (items, tail, data, context)
        blocks = job.blocks()
        while True:
            try:
                data, context = next(blocks)
            except StopIteration:
                break
            except Exception:  # a damaged archive (Unreadable), a read error: what came before it first
                yield from flush()
                raise
            if self.worker is None and self.offered >= rowpool.ROWS_BEFORE:
                self.worker = self._start() if rowpool.enabled() else False
            if self.worker and held is not None and self.worker.ready():
                yield from flush()  # the worker is free again: this block is for it
            if self.worker and held is None:
                try:
                    self.worker.send((b"d" if direct else b"g") + data)
                    held = (data, context)
                    continue
                except OSError:
                    self.close()
            # The worker is busy (it shares its core with grep): this one is made here, and
            # kept until the worker's is out, up to AHEAD blocks (memory stays bounded).
            done.append((*self._made_here(data, direct), data, context))
            if held is None or len(done) >= self.AHEAD:
                yield from flush()
        yield from flush()

    def _made_here(self, data: bytes, direct: bool):
        lines = block_lines(data, direct, where=False)
        self.offered += len(lines)
        return rowpool.make_rows(lines, self.quick, self.check)

    def _start(self):
        """A worker making rows as ``quick`` does; False when none can start (no fork)."""
        try:
            return rowpool.RowWorker(lambda msg: block_lines(msg[1:], msg[:1] == b"d", where=False),
                                     self.quick, self.check)
        except OSError:
            return False

    def _from_worker(self, data: bytes, direct: bool):
        """The worker's ``(items, tail)`` for ``data``; made here if the worker is gone."""
        try:
            return self.worker.take()
        except (OSError, EOFError, ValueError):
            self.close()
            return self._made_here(data, direct)

    def close(self) -> None:
        """Stop the worker, if one runs; none is started after this."""
        if self.worker:
            self.worker.close()
        self.worker = False
