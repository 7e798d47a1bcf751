"""The writer: pages join the record in short transactions; what cannot join waits in the spool.

The calling thread is the only one that writes. It buffers each session's pages and
joins them as a group when enough rows or seconds have gathered: it opens the file
(`RecordFile.writing`, a short wait), joins the spooled groups first, then those in
memory, and closes the file. The counts of the sessions that ended are refreshed
at the final join, all at once (until then a reader computes them itself). So the
file is held only while a group commits, and readers get in between.

When the file stays busy (a reader that never closes it), the groups are written to
the sync's spool (`store.spool`) instead, durable, and join at the next chance: a
later join of this sync, or the next writable open or sync. A kill loses at most
the groups in memory, which the next sync fetches again.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from toolkit.config import SessionRef
from toolkit.errors import EXIT_API, DatabaseLockedError, StorageError, ToolkitError
from toolkit.ingest.events import EVENT_SCHEMA, Batch, rejects_table
from toolkit.ingest.fetching import Fetched
from toolkit.ingest.options import SyncOptions, SyncResult
from toolkit.store import ledger
from toolkit.store import spool as spooling
from toolkit.store.handle import HeldRecord, RecordFile
from toolkit.store.spool import Group, PageRow, RunFacts, Spool

FINAL_PATIENCE = 2.0  # seconds the last join waits for a reader before leaving events spooled


@dataclass
class _Joined:
    """What a join did: groups joined (with their new events, from the spool or not) or kept."""

    joined: list[tuple[Group, int, bool]] = field(default_factory=list)
    kept: list[Group] = field(default_factory=list)  # spooled: the file was busy
    why: str | None = None
    refreshed: bool = False  # the counts of every session that ended are current


@dataclass
class _Session:
    """A session's pages received but not joined yet, and its run."""

    result: SyncResult
    run: RunFacts
    batches: list[Batch] = field(default_factory=list)
    listed: list[PageRow] = field(default_factory=list)  # to list once their events join
    # events stored at the end of the sync, once compared with the record: those of
    # other sessions, and those perhaps seen before (see `Batch.to_compare`)
    deferred: list[pa.Table] = field(default_factory=list)
    compare: bool = False  # the stored digests could not be read: compare at join time
    finished: tuple[str, str | None] | None = None  # the outcome, until it has joined
    ended: bool = False


class Joiner:
    """Joins the pages the workers fetched to the record, a group at a time."""

    def __init__(
        self,
        record: RecordFile | HeldRecord,
        spool: Spool,
        options: SyncOptions,
        on_progress: Callable[[SyncResult], None] | None,
    ):
        self.record, self.spool, self.options = record, spool, options
        self.on_progress = on_progress
        self.sessions: dict[SessionRef, _Session] = {}
        self._rows, self._since = 0, time.monotonic()
        self._refresh: list[tuple[str, str]] = []  # sessions that ended, to count at the end
        self._committer = ThreadPoolExecutor(1, "sync-commit")
        self._inflight: Future[_Joined] | None = None

    def start(self, ref: SessionRef, started_at: datetime) -> None:
        """A worker began a session: its run starts at its first join."""
        run = RunFacts(
            uuid.uuid4().hex, ref.org_id, ref.session_id, self.options.base_url, started_at
        )
        self.sessions[ref] = _Session(SyncResult(ref.org_id, ref.session_id), run)

    def compare(self, ref: SessionRef) -> None:
        """The session's stored state could not be read: its events are compared at join."""
        self.sessions[ref].compare = True

    def page(self, ref: SessionRef, page: Fetched) -> None:
        """Buffer a page; join when the group is due."""
        state = self.sessions[ref]
        state.batches.append(page.batch)
        if page.row is not None:
            state.listed.append(page.row)
        self._rows += page.batch.events.num_rows + len(page.batch.rejects)
        state.result.pages += 1
        state.result.received += page.batch.received
        if self.on_progress:
            self.on_progress(state.result)
        if self._due():
            self.join()

    def end(self, ref: SessionRef, error: BaseException | None) -> SyncResult:
        """A session's worker finished (or failed): its outcome joins with its last group."""
        state = self.sessions[ref]
        _outcome(state.result, error)
        state.finished = (state.result.status, state.result.error)
        state.ended = True
        if self.on_progress:
            self.on_progress(state.result)
        if self._due():
            self.join()
        return state.result

    def _due(self) -> bool:
        old = time.monotonic() - self._since >= self.options.commit_seconds
        idle = self._inflight is None or self._inflight.done()
        eager = idle and self._rows >= self.options.eager_rows
        return self._rows >= self.options.commit_rows or old or eager

    def join(self, final: bool = False, wait: float | None = None) -> None:
        """Join what is waiting (spool first, then memory); spool it if the file is busy.

        A join runs on the committer thread while this one takes the next pages (the
        database releases the interpreter lock), one at a time: a join waits for the
        one before. The final join runs here, after it, and raises what either raised.
        """
        groups = [g for ref in self.sessions if (g := self._group(ref)) is not None]
        if final:  # after every session's own events: those it served of other sessions
            groups += [g for s in self.sessions.values() if (g := _deferred(s)) is not None]
        self._rows, self._since = 0, time.monotonic()
        self.collect()
        if final:
            self._committer.shutdown()
            self._apply(self._commit(groups, wait, refresh=True))
        else:
            self._inflight = self._committer.submit(self._commit, groups, wait, False)

    def collect(self) -> None:
        """Wait for the join in progress, if any, and count what it joined (or raise)."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            self._apply(inflight.result())

    def _commit(self, groups: list[Group], wait: float | None, refresh: bool) -> _Joined:
        """Join the spool's groups and these; with `refresh`, every session's counts too."""
        done = _Joined()
        try:
            with self.record.writing(wait) as con:
                done.joined += [(g, new, True) for g, new in self.spool.join(con)]
                news = spooling.join_groups(con, groups)
                done.joined += [(g, new, False) for g, new in zip(groups, news, strict=True)]
                if refresh:  # all at once: cheaper than one by one (`refresh_sessions_activity`)
                    # the workers are done: the counts and the closing checkpoint may
                    # use every core (the file's handle set one for the sync)
                    con.execute("RESET threads")
                    ended = [g.run for g, _, _ in done.joined if g.finished is not None]
                    keys = self._refresh + [(r.org_id, r.session_id) for r in ended]
                    ledger.refresh_sessions_activity(con, keys)
                    self._refresh, done.refreshed = [], True
        except DatabaseLockedError as exc:  # "database X is locked by another process (PID)"
            for group in groups:
                self.spool.write(group)
            done.kept, done.why = groups, str(exc).split(";", 1)[0]
        return done

    def _apply(self, done: _Joined) -> None:
        """Count a join's outcome in the sessions' results (on the writer's thread)."""
        for group, new, spooled in done.joined:
            self._joined(group, new, spooled, done.refreshed)
        for group in done.kept:
            result = self._state(group.run).result
            result.waiting += group.events.num_rows
            result.why_waiting = done.why

    def _state(self, run: RunFacts) -> _Session:
        return next(s for s in self.sessions.values() if s.run.run_key == run.run_key)

    def _joined(self, group: Group, new: int, spooled: bool, refreshed: bool) -> None:
        state = self._state(group.run)
        state.run.sync_id = group.run.sync_id
        state.result.sync_id = group.run.sync_id or 0
        state.result.new += new
        state.result.rejected += group.rejects.num_rows if group.rejects is not None else 0
        if spooled:
            state.result.waiting -= group.events.num_rows
            if not state.result.waiting:
                state.result.why_waiting = None
        if group.finished is not None and not refreshed:
            self._refresh.append((group.run.org_id, group.run.session_id))

    def _group(self, ref: SessionRef) -> Group | None:
        """The session's buffered pages as one group, emptying the buffer."""
        state = self.sessions[ref]
        batches, listed = state.batches, state.listed
        state.batches, state.listed = [], []
        events = pa.Table.from_batches([b.events for b in batches], schema=EVENT_SCHEMA)
        later = [pa.Table.from_batches([b.to_compare]) for b in batches if b.to_compare is not None]
        own = pc.and_(
            pc.equal(events["session_id"], ref.session_id),
            pc.equal(events["session_org_id"], ref.org_id),
        )
        if events.num_rows and not pc.all(own).as_py():
            later.append(events.filter(pc.invert(own)))
            events = events.filter(own)
        if later:
            state.deferred += later
            listed = []  # their pages are complete only once the deferred events are stored
        rejects = [r for b in batches for r in b.rejects]
        group = Group(
            run=state.run,
            events=events,
            rejects=rejects_table(rejects) if rejects else None,
            listed=listed,
            pages=len(batches),
            received=sum(b.received for b in batches),
            compare=state.compare,
            finished=state.finished,
        )
        state.finished = None
        return None if not batches and group.finished is None else group

    def abandon(self, exc: BaseException) -> None:
        """Record the truth after an interrupt or a failure: runs cut short, what they kept."""
        why = _why(exc)
        with contextlib.suppress(Exception):  # the join in progress ends first (or failed)
            self.collect()
        for state in self.sessions.values():
            if not state.ended:
                state.result.status = "partial" if state.result.pages else "failed"
                state.result.error = why
                state.finished = (state.result.status, why)
        with contextlib.suppress(Exception):  # the record itself failed: the next sync closes
            self.join(final=True, wait=0.0)
            return
        for state in self.sessions.values():  # no room for the events: their outcomes only
            state.batches, state.listed, state.deferred = [], [], []
            state.finished = (state.result.status, state.result.error)
        with contextlib.suppress(Exception):
            self.join(final=True, wait=0.0)


def _deferred(state: _Session) -> Group | None:
    """A session's deferred events as a group, compared with the record as they join."""
    if not state.deferred:
        return None
    events, state.deferred = pa.concat_tables(state.deferred).cast(EVENT_SCHEMA), []
    return Group(run=state.run, events=events, compare=True)


def _why(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted; the pages received are kept"
    if isinstance(exc, StorageError):
        return f"{exc}"
    return f"stopped by {exc!r}; the pages received are kept"


def _outcome(result: SyncResult, error: BaseException | None) -> None:
    if error is None:
        result.status = "ok"
        return
    result.status = "partial" if result.pages else "failed"
    result.error = str(error) if isinstance(error, ToolkitError) else _unexpected(error)
    result.exit_code = getattr(error, "exit_code", EXIT_API)


def _unexpected(error: BaseException) -> str:
    return f"unexpected {type(error).__name__}: {error}"
