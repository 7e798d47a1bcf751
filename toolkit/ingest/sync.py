"""Sync: page sessions from the API into the database, appending only new events.

Workers (one per concurrent session) fetch, decode and hash pages into Arrow
batches, leaving out the events the session already has: each worker starts from
the digests stored for its session and adds those it builds, so duplicates never
reach the database. A page whose exact body was stored before (`stored_pages`) is
not even decoded: a re-sync of unchanged pages costs little more than the transfer.
The calling thread is the single database writer. Pages are committed in groups
together with the run's counters, so a kill loses at most the group in flight and
a re-run stores exactly what is missing.

Sessions start one at a time and more run at once only while pages keep workers
waiting on the network (`pacing.Pacer`, up to `concurrency`): on a fast network the
work is CPU-bound and more threads would only contend. The workers run at a lower CPU
priority than the writer, and each finished session's counts for `sessions()` are
computed on a cursor of their own while the writer goes on. DuckDB runs on one thread
meanwhile: its statements here are small, and more threads cost CPU the fetch needs.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.config import Secret, SessionRef
from toolkit.errors import EXIT_API, EXIT_OK, ApiError, ToolkitError
from toolkit.ingest.auth import TokenSource
from toolkit.ingest.client import Client, RateGate, RetryPolicy
from toolkit.ingest.events import Batch, build_batch, known_page, rejects_table
from toolkit.ingest.http import check_environment
from toolkit.ingest.pacing import Pacer
from toolkit.store import database as db
from toolkit.store.digests import KnownDigests

PageRow = tuple[bytes, str | None, int]  # a page to list in stored_pages: digest, next, items


@dataclass
class SyncResult:
    """The outcome of one session's sync, as recorded in `sync_runs`."""

    org_id: str
    session_id: str
    sync_id: int = 0
    pages: int = 0
    received: int = 0
    new: int = 0
    rejected: int = 0
    status: str = "running"
    error: str | None = None
    exit_code: int = EXIT_OK

    @property
    def duplicates(self) -> int:
        """Items received that were already stored (or repeated within the sync)."""
        return self.received - self.new - self.rejected


@dataclass
class SyncOptions:
    """How to sync: where, with what token, how many sessions at once, how to retry."""

    base_url: str
    token: Secret | TokenSource  # a source may renew the token after a 401
    concurrency: int = 1  # at most; see `paced`
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    recheck: bool = False  # decode every page, even those whose body was stored before
    paced: bool = True  # fewer sessions at once while the network keeps nobody waiting
    commit_rows: int = 4096  # about 16 pages: a kill loses at most this group
    commit_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


class _Fetched(NamedTuple):
    """A page as a worker hands it to the writer."""

    batch: Batch
    row: PageRow | None  # to list in stored_pages once its events are committed
    waited: float  # seconds waiting for the answer to begin
    worked: float  # seconds reading, decoding and building it


@dataclass
class _Pending:
    """A session's pages received but not yet committed."""

    result: SyncResult
    batches: list[Batch] = field(default_factory=list)
    listed: list[PageRow] = field(default_factory=list)  # to list once their events commit
    # events stored at the end of the sync, once compared with the database: those of
    # other sessions, and those perhaps seen before (see `Batch.to_compare`)
    deferred: list[pa.Table] = field(default_factory=list)
    rows: int = 0
    since: float = field(default_factory=time.monotonic)


def sync_sessions(
    con: duckdb.DuckDBPyConnection,
    refs: Sequence[SessionRef],
    options: SyncOptions,
    on_progress: Callable[[SyncResult], None] | None = None,
) -> list[SyncResult]:
    """Sync each session into the database; never raises for one session's API failure.

    Args:
        con: a writable connection from `toolkit.connect`.
        refs: the sessions to sync (duplicates are synced once).
        options: base URL, token, concurrency, retry policy.
        on_progress: called on the writer thread after each page with the running result.

    Returns:
        One SyncResult per session, in the order given; `status` is ok, partial or failed.

    Raises:
        UsageError: the base URL, the proxy the environment names for it, or the CA
            bundle would not do (before anything is fetched).
    """
    refs = list(dict.fromkeys(refs))
    check_environment(options.base_url)  # a bad proxy or CA bundle: before any run opens
    db.close_abandoned_runs(con)
    with _fewer_gc_passes(), _one_database_thread(con):
        return _sync_all(con, refs, options, on_progress)


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic GC less often: pages allocate many short-lived objects, no cycles."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 50_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def _one_database_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run DuckDB on one thread during the sync, then restore the database's setting.

    The sync's statements are small (a commit holds a few thousand rows) and run
    beside the fetch workers' Python, which is what limits a sync. With a thread
    per core, DuckDB spent about 1.4 CPU-s more per million events on the same work
    and a fresh sync took longer (bench/README.md, "DuckDB's threads").
    """
    before = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):  # the connection failed: nothing to restore
            con.execute(f"SET threads = {int(before)}")


def _sync_all(
    con: duckdb.DuckDBPyConnection,
    refs: list[SessionRef],
    options: SyncOptions,
    on_progress: Callable[[SyncResult], None] | None,
) -> list[SyncResult]:
    # pages: enough to cover a commit (~14 ms, ~20 pages built meanwhile); more only
    # holds more batches in memory while the workers wait for the writer
    inbox: queue.Queue[tuple[str, SessionRef, Any]] = queue.Queue(
        maxsize=32 + 4 * max(1, options.concurrency)
    )
    stop = threading.Event()
    gate = RateGate(sleep=options.sleep, clock=options.clock)
    pending: dict[SessionRef, _Pending] = {}
    workers = max(1, min(options.concurrency, len(refs) or 1))
    pool = ThreadPoolExecutor(workers, "sync", initializer=_yield_cpu_to_writer)
    # a cursor per worker, made on this thread (the connection is not thread-safe):
    # a worker borrows one to read its session's stored digests
    cursors: queue.Queue[duckdb.DuckDBPyConnection] = queue.Queue()
    for _ in range(workers):
        cursors.put(con.cursor())
    sessions: queue.SimpleQueue[SessionRef | None] = queue.SimpleQueue()
    fetch = partial(
        _fetch_session, cursors=cursors, options=options, gate=gate, inbox=inbox, stop=stop
    )
    pacer = Pacer(workers, options.paced)
    launcher = _Launcher(refs, sessions, lambda: pool.submit(_work, sessions, fetch, stop), pacer)
    try:
        with _Refresher(con) as refresher:
            results = _write_all(
                con, refs, options, inbox, on_progress, pending, refresher, launcher
            )
    except BaseException as exc:  # Ctrl-C or a database error: record the truth, then stop
        stop.set()
        _drain(inbox)
        launcher.close()
        pool.shutdown(wait=False)
        _abandon(con, pending, exc)
        raise
    launcher.close()
    pool.shutdown(wait=True)
    while not cursors.empty():
        cursors.get().close()
    return [results[ref] for ref in refs]


def _abandon(
    con: duckdb.DuckDBPyConnection, pending: dict[SessionRef, _Pending], exc: BaseException
) -> None:
    """Close the runs an interrupt cut short, keeping what they received."""
    interrupted = isinstance(exc, KeyboardInterrupt | duckdb.InterruptException)
    why = "interrupted" if interrupted else f"stopped by {exc!r}"
    for state in pending.values():
        if state.result.status != "running":
            continue
        try:
            _flush(con, state)
            _close(con, state.result, ApiError(f"{why}; the pages received are kept"))
        except Exception:  # noqa: S112  the database itself failed: the next sync closes it
            continue
    with contextlib.suppress(Exception):
        _store_deferred(con, pending.values())


def _work(
    sessions: queue.SimpleQueue[SessionRef | None],
    fetch: Callable[[SessionRef, list[Client]], None],
    stop: threading.Event,
) -> None:
    """A worker thread: fetch the sessions it is handed, one after another, until None.

    The worker's one client (one requests session, its connections kept alive from
    one session to the next) is made by its first session, which reports its failure.
    """
    clients: list[Client] = []
    try:
        while (ref := sessions.get()) is not None and not stop.is_set():
            fetch(ref, clients)
    finally:
        for client in clients:
            client.close()


def _fetch_session(
    ref: SessionRef,
    clients: list[Client],
    cursors: queue.Queue[duckdb.DuckDBPyConnection],
    options: SyncOptions,
    gate: RateGate,
    inbox: queue.Queue,
    stop: threading.Event,
) -> None:
    """Worker: page one session, hashing each page into a batch of its new events."""
    _put(inbox, ("start", ref, datetime.now(timezone.utc)), stop)
    try:
        if not clients:
            clients.append(
                Client(options.base_url, options.token, options.policy, gate, options.sleep)
            )
        client = clients[0]
        stored = _read(cursors, db.stored_pages, ref)
        known = {} if options.recheck else stored
        listed = set(stored)  # each page is listed once
        seen: KnownDigests | None = None  # read when a page must be decoded
        began, waited = time.perf_counter(), client.waited
        for page in client.iter_pages(ref.org_id, ref.session_id, known):
            if stop.is_set():
                return
            row: PageRow | None = None
            if page.digest in known:
                batch = known_page(known[page.digest].items)
            else:
                if seen is None:
                    seen = _read(cursors, db.stored_digests, ref)
                batch = build_batch(page.items, seen)
                # a page with a reject is checked again next time
                if not batch.rejects and page.digest not in listed:
                    listed.add(page.digest)
                    row = (page.digest, page.next, batch.received)
            wait = client.waited - waited
            worked = time.perf_counter() - began - wait
            _put(inbox, ("page", ref, _Fetched(batch, row, wait, worked)), stop)
            began, waited = time.perf_counter(), client.waited  # not the wait to hand it over
        _put(inbox, ("done", ref, None), stop)
    except Exception as exc:  # every failure is reported to the writer, which records it
        _put(inbox, ("error", ref, exc), stop)


WORKER_NICENESS = 19  # bench/README.md: paced fresh sync 11.3-12.4 s at nice 0, 10.7-11.7 at 19


def _yield_cpu_to_writer() -> None:
    """Lower the calling worker thread's CPU priority, once per thread (Linux; elsewhere nothing).

    At equal priority the workers take the cores the writer's database work needs,
    and on two cores a sync measured slower so, even with one worker. A niced thread
    still gets any CPU nobody else wants, and it runs as fast as the network allows
    when latency, not CPU, is the limit.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):  # not permitted (seccomp, containers): no matter
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)


def _read(
    cursors: queue.Queue[duckdb.DuckDBPyConnection],
    read: Callable[[duckdb.DuckDBPyConnection, str, str], Any],
    ref: SessionRef,
) -> Any:
    """Run a read of the session's stored state on a borrowed cursor."""
    cursor = cursors.get()
    try:
        return read(cursor, ref.org_id, ref.session_id)
    finally:
        cursors.put(cursor)


def _put(inbox: queue.Queue, message: tuple, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            inbox.put(message, timeout=0.2)
            return
        except queue.Full:
            continue


def _drain(inbox: queue.Queue) -> None:
    while True:
        try:
            inbox.get_nowait()
        except queue.Empty:
            return


class _Launcher:
    """Hands sessions to worker threads, one at first, then as many at once as the pacer says.

    A worker thread fetches sessions one after another, so a thread is added only when
    more sessions run at once than ever before in this sync: while one runs at a time,
    one thread (and the memory its allocations hold) does all. Used on the writer's
    thread only: it hears of every page and every session's end.
    """

    def __init__(
        self,
        refs: Sequence[SessionRef],
        sessions: queue.SimpleQueue[SessionRef | None],
        spawn: Callable[[], object],
        pacer: Pacer,
    ) -> None:
        self._waiting = deque(refs)
        self._sessions = sessions
        self._spawn = spawn
        self._pacer = pacer
        self._running = 0
        self._threads = 0
        self._fill()

    def page(self, fetched: _Fetched) -> None:
        """A page arrived: count its wait and work, start sessions if now allowed."""
        self._pacer.record(fetched.waited, fetched.worked)
        self._fill()

    def ended(self) -> None:
        """A session's worker finished: start the next if allowed."""
        self._running -= 1
        self._fill()

    def close(self) -> None:
        """Let every worker thread end once it is done with its session."""
        for _ in range(self._threads):
            self._sessions.put(None)

    def _fill(self) -> None:
        while self._waiting and self._running < self._pacer.target():
            self._running += 1
            self._sessions.put(self._waiting.popleft())
            if self._threads < self._running:  # the others are all busy
                self._threads += 1
                self._spawn()


class _Refresher:
    """Per-session counts for `sessions()`, computed on a thread and cursor of their own.

    A session's counts read all its events (about 2 s of the writer's time per
    million); computed beside the writer, they overlap the other sessions' inserts.
    They only write `session_activity_store`, which the writer never touches, so the
    two transactions cannot conflict. Leaving the block waits for the last session
    and raises the first error met; on an error in the block it stops at once.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._cursor = con.cursor()  # made here: the connection is not thread-safe
        self._queue: queue.SimpleQueue[SessionRef | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sync-counts", daemon=True)

    def __enter__(self) -> _Refresher:
        self._thread.start()
        return self

    def submit(self, ref: SessionRef) -> None:
        """Refresh the session's counts once its events are committed."""
        self._queue.put(ref)

    def _run(self) -> None:
        while (ref := self._queue.get()) is not None:
            if self._error is None:
                try:
                    db.refresh_session_activity(self._cursor, ref.org_id, ref.session_id)
                except BaseException as exc:  # reported by __exit__ on the writer's thread
                    self._error = exc

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:  # Ctrl-C or a database error: do not wait for the counts
            with contextlib.suppress(duckdb.Error, RuntimeError):
                self._cursor.interrupt()
        self._queue.put(None)
        self._thread.join()
        self._cursor.close()
        if kind is None and self._error is not None:
            raise self._error


def _write_all(
    con: duckdb.DuckDBPyConnection,
    refs: Sequence[SessionRef],
    options: SyncOptions,
    inbox: queue.Queue,
    on_progress: Callable[[SyncResult], None] | None,
    pending: dict[SessionRef, _Pending],
    refresher: _Refresher,
    launcher: _Launcher,
) -> dict[SessionRef, SyncResult]:
    """Writer: the only thread that stores events (session counts: `_Refresher`)."""
    results: dict[SessionRef, SyncResult] = {}
    while len(results) < len(refs):
        kind, ref, payload = inbox.get()
        if kind == "start":
            result = SyncResult(ref.org_id, ref.session_id)
            result.sync_id = db.start_run(
                con, ref.org_id, ref.session_id, options.base_url, started_at=payload
            )
            pending[ref] = _Pending(result)
            continue
        state = pending[ref]
        if kind == "page":
            launcher.page(payload)
            _buffer(con, state, payload, options)
            if on_progress:
                on_progress(state.result)
            continue
        launcher.ended()
        _flush(con, state)
        _close(con, state.result, payload)
        # per-session counts for `sessions()`, so it need not read every event's data
        refresher.submit(ref)
        results[ref] = state.result
        if on_progress:
            on_progress(state.result)
    _store_deferred(con, pending.values())
    return results


def _buffer(
    con: duckdb.DuckDBPyConnection,
    state: _Pending,
    page: _Fetched,
    options: SyncOptions,
) -> None:
    batch, row = page.batch, page.row
    state.batches.append(batch)
    if row is not None:
        state.listed.append(row)
    # duplicates cost the database nothing: a re-sync commits its counters by time
    state.rows += batch.events.num_rows + len(batch.rejects)
    state.result.pages += 1
    state.result.received += batch.received
    due = time.monotonic() - state.since >= options.commit_seconds
    if state.rows >= options.commit_rows or due:
        _flush(con, state)


def _flush(con: duckdb.DuckDBPyConnection, state: _Pending) -> None:
    """Commit the buffered pages and the run's counters in one transaction."""
    batches, pages, listed = state.batches, len(state.batches), state.listed
    state.batches, state.listed, state.rows, state.since = [], [], 0, time.monotonic()
    if not pages:
        return
    table = pa.Table.from_batches([b.events for b in batches])
    # events to compare with the database at the end of the sync, when every
    # session's own events are committed: those perhaps seen before, and those of
    # another session (an API fault)
    later = [pa.Table.from_batches([b.to_compare]) for b in batches if b.to_compare is not None]
    rejects = [r for b in batches for r in b.rejects]
    received = sum(b.received for b in batches)
    result = state.result
    own = pc.and_(
        pc.equal(table["session_id"], result.session_id),
        pc.equal(table["session_org_id"], result.org_id),
    )
    if table.num_rows and not pc.all(own).as_py():
        later.append(table.filter(pc.invert(own)))
        table = table.filter(own)
    if later:
        state.deferred += later
        listed = []  # their pages are complete only once the deferred events are stored
    with db.transaction(con):
        new = db.insert_new_events(con, table, result.sync_id)
        db.append_rejects(con, rejects_table(rejects), result.sync_id)
        db.record_pages(con, result.org_id, result.session_id, listed, result.sync_id)
        db.add_progress(con, result.sync_id, db.PageCounts(pages, received, new, len(rejects)))
    state.result.new += new
    state.result.rejected += len(rejects)


def _store_deferred(con: duckdb.DuckDBPyConnection, states: Iterable[_Pending]) -> None:
    """Store the deferred events not stored yet, counted as new for their run."""
    for state in states:
        if not state.deferred:
            continue
        table, state.deferred = pa.concat_tables(state.deferred), []
        with db.transaction(con):
            new = db.append_events(con, table, state.result.sync_id)
            db.add_progress(con, state.result.sync_id, db.PageCounts(new=new))
        state.result.new += new


def _close(con: duckdb.DuckDBPyConnection, result: SyncResult, error: Exception | None) -> None:
    if error is None:
        result.status = "ok"
    else:
        result.status = "partial" if result.pages else "failed"
        result.error = str(error) if isinstance(error, ToolkitError) else _unexpected(error)
        result.exit_code = getattr(error, "exit_code", EXIT_API)
    db.finish_run(con, result.sync_id, result.status, result.error)


def _unexpected(error: Exception) -> str:
    return f"unexpected {type(error).__name__}: {error}"


def exit_code(results: Sequence[SyncResult]) -> int:
    """The CLI's exit status for a set of results: the most serious one (3 before 4)."""
    codes = {r.exit_code for r in results if r.status != "ok"}
    for code in (3, EXIT_API):
        if code in codes:
            return code
    return max(codes, default=EXIT_OK)


def status_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per session: stored events, last sync and outcome, settled or when to re-sync."""
    cur = con.execute(
        """
        SELECT session_org_id, session_id, event_count, last_event_at, last_sync_at,
               last_status, is_settled, resync_after, last_error
        FROM session_status ORDER BY session_org_id, session_id
        """
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def unknown_types(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Event types the views do not know yet (kept in `events`), with their counts."""
    return [
        (str(kind), int(count))
        for kind, count in con.execute(
            "SELECT event_type, event_count FROM unknown_event_types ORDER BY event_type"
        ).fetchall()
    ]
