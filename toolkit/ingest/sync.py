"""Sync: page sessions from the API into the record, appending only new events.

Workers (`fetching`) page the sessions and build Arrow batches of their new events;
the calling thread (`joining`) is the only writer. The database file is opened only
while a group of pages commits, then closed, so a notebook or a report reading the
record is never kept out for longer than a commit; when a reader keeps the file
open, what was fetched waits durably in the sync's spool (`store.spool`) and joins
the record at the next join, writable open or sync. One sync per file at a time: a
second one waits `SyncOptions.wait` seconds for the first, then stops (exit 5).

`sync_sessions` also accepts a writable connection the caller keeps open; then
nothing is released between commits (the caller holds the file anyway).
"""

from __future__ import annotations

import gc
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from toolkit import config
from toolkit.config import SessionRef
from toolkit.errors import EXIT_API, EXIT_OK, DatabaseLockedError
from toolkit.ingest.client import RateGate
from toolkit.ingest.fetching import Launcher, drain, fetch_session, work, yield_cpu_to_writer
from toolkit.ingest.http import check_environment
from toolkit.ingest.joining import FINAL_PATIENCE, Joiner
from toolkit.ingest.options import SyncOptions, SyncResult
from toolkit.ingest.pacing import Pacer
from toolkit.store import spool as spooling
from toolkit.store.handle import HeldRecord, RecordFile
from toolkit.store.locks import FileLock

__all__ = ["SyncOptions", "SyncResult", "exit_code", "status_rows", "sync_sessions"]

Target = duckdb.DuckDBPyConnection | str | Path | None


def sync_sessions(
    target: Target,
    refs: Sequence[SessionRef],
    options: SyncOptions,
    on_progress: Callable[[SyncResult], None] | None = None,
) -> list[SyncResult]:
    """Sync each session into the record; never raises for one session's API failure.

    Args:
        target: the database file (its path; None: `SLIDO_DB` or the default), opened
            only to commit; or a writable connection from `toolkit.connect`, kept.
        refs: the sessions to sync (duplicates are synced once).
        options: base URL, token, concurrency, retry policy.
        on_progress: called on the writer thread after each page with the running result.

    Returns:
        One SyncResult per session, in the order given; `status` is ok, partial or
        failed, and `waiting` counts events kept in the spool because the file was busy.

    Raises:
        DatabaseLockedError: another sync of the same file ran for longer than `options.wait`.
        StorageError: the disk or the file refused (full, read-only, no permission).
        UsageError: the base URL, the proxy the environment names for it, or the CA
            bundle would not do (before anything is fetched).
    """
    refs = list(dict.fromkeys(refs))
    check_environment(options.base_url)  # a bad proxy or CA bundle: before any run opens
    workers = max(1, min(options.concurrency, len(refs) or 1))
    if isinstance(target, duckdb.DuckDBPyConnection):
        record: RecordFile | HeldRecord = HeldRecord(target, workers)
        lock = None  # the caller's connection keeps every other writer out
    else:
        record = RecordFile(config.db_path(target), on_rebuild=options.on_rebuild)
        lock = _one_sync_at_a_time(record.path, options.wait)
    spool = spooling.Spool(record.path)
    try:
        with _fewer_gc_passes(), _system_arrow_memory():
            return _sync_all(record, spool, refs, options, on_progress, workers)
    finally:
        spool.close()
        record.close()
        if lock is not None:
            lock.release()


def _one_sync_at_a_time(path: Path, wait: float) -> FileLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = spooling.sync_lock(path)
    if not lock.acquire(wait):
        raise DatabaseLockedError(
            f"another sync (PID {lock.holder()}) is writing {path}; wait for it to "
            "finish (--wait SECONDS)"
        )
    return lock


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
def _system_arrow_memory() -> Iterator[None]:
    """Take the sync's Arrow buffers from the system allocator (unless the environment
    names one): pyarrow's default, mimalloc, kept freed memory in huge pages, 65 MB
    more of a 250k sync's peak for the same work, which DuckDB's share of the memory
    budget now gets (bench/README.md, "The sync's memory: evictions")."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        yield
        return
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


def _sync_all(
    record: RecordFile | HeldRecord,
    spool: spooling.Spool,
    refs: list[SessionRef],
    options: SyncOptions,
    on_progress: Callable[[SyncResult], None] | None,
    workers: int,
) -> list[SyncResult]:
    # pages: enough to cover a commit; more only holds more batches in memory while
    # the workers wait for the writer
    inbox: queue.Queue[tuple[str, SessionRef, Any]] = queue.Queue(
        maxsize=32 + 4 * max(1, options.concurrency)
    )
    stop = threading.Event()
    gate = RateGate(sleep=options.sleep, clock=options.clock)
    pool = ThreadPoolExecutor(workers, "sync", initializer=yield_cpu_to_writer)
    sessions: queue.SimpleQueue[SessionRef | None] = queue.SimpleQueue()
    fetch = partial(
        fetch_session, record=record, options=options, gate=gate, inbox=inbox, stop=stop
    )
    pacer = Pacer(workers, options.paced)
    launcher = Launcher(refs, sessions, lambda: pool.submit(work, sessions, fetch, stop), pacer)
    joiner = Joiner(record, spool, options, on_progress)
    try:
        results = _write_all(joiner, refs, inbox, launcher)
    except BaseException as exc:  # Ctrl-C, a full disk: record the truth, then stop
        stop.set()
        drain(inbox)
        launcher.close()
        pool.shutdown(wait=False)
        joiner.abandon(exc)
        raise
    launcher.close()
    pool.shutdown(wait=True)
    return [results[ref] for ref in refs]


def _write_all(
    joiner: Joiner,
    refs: Sequence[SessionRef],
    inbox: queue.Queue,
    launcher: Launcher,
) -> dict[SessionRef, SyncResult]:
    """The writer's loop: hand each message to the joiner until every session ended."""
    results: dict[SessionRef, SyncResult] = {}
    while len(results) < len(refs):
        kind, ref, payload = inbox.get()
        if kind == "start":
            joiner.start(ref, payload)
        elif kind == "compare":
            joiner.compare(ref)
        elif kind == "page":
            launcher.page(payload)
            joiner.page(ref, payload)
        else:  # done, or error with the exception
            launcher.ended()
            results[ref] = joiner.end(ref, payload)
    joiner.join(final=True, wait=max(FINAL_PATIENCE, joiner.options.wait))
    return results


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
