"""Fetching workers: page sessions from the API into Arrow batches of their new events.

Each worker starts from the digests stored for its session (read through the sync's
`RecordFile`, which opens the database for the moment of the read) and adds those it
builds, so duplicates never reach the record. When the file is busy at that moment,
the session is fetched without them and its events are compared with the record
when they join ("compare"). A page whose exact body was stored before is not even
decoded. Workers hand pages to the writer (`joining`) through the inbox.

Sessions start one at a time and more run at once only while pages keep workers
waiting on the network (`pacing.Pacer`, up to `concurrency`): on a fast network the
work is CPU-bound and more threads would only contend. The workers run at a lower
CPU priority than the writer.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol

from toolkit.config import SessionRef
from toolkit.ingest.client import Client, RateGate
from toolkit.ingest.events import Batch, build_batch, known_page
from toolkit.ingest.options import SyncOptions
from toolkit.ingest.pacing import Pacer
from toolkit.store import database as db
from toolkit.store.digests import KnownDigests
from toolkit.store.spool import PageRow


class StoredState(Protocol):
    """What a worker reads the stored state through (`store.handle.RecordFile`)."""

    def read(self, read: Callable[..., Any], *args: Any) -> Any:
        """Run a read; None if the file is busy."""


class Fetched(NamedTuple):
    """A page as a worker hands it to the writer."""

    batch: Batch
    row: PageRow | None  # to list in stored_pages once its events are committed
    waited: float  # seconds waiting for the answer to begin
    worked: float  # seconds reading, decoding and building it


def work(
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


def fetch_session(
    ref: SessionRef,
    clients: list[Client],
    record: StoredState,
    options: SyncOptions,
    gate: RateGate,
    inbox: queue.Queue,
    stop: threading.Event,
) -> None:
    """Worker: page one session, hashing each page into a batch of its new events."""
    put(inbox, ("start", ref, datetime.now(timezone.utc)), stop)
    try:
        if not clients:
            clients.append(
                Client(options.base_url, options.token, options.policy, gate, options.sleep)
            )
        client = clients[0]
        stored = record.read(db.stored_pages, ref.org_id, ref.session_id)
        if stored is None:  # the file is busy: compare the events when they join
            put(inbox, ("compare", ref, None), stop)
            stored = {}
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
                    seen = _digests(record, ref, inbox, stop)
                batch = build_batch(page.items, seen)
                # a page with a reject is checked again next time
                if not batch.rejects and page.digest not in listed:
                    listed.add(page.digest)
                    row = (page.digest, page.next, batch.received)
            wait = client.waited - waited
            worked = time.perf_counter() - began - wait
            put(inbox, ("page", ref, Fetched(batch, row, wait, worked)), stop)
            began, waited = time.perf_counter(), client.waited  # not the wait to hand it over
        put(inbox, ("done", ref, None), stop)
    except Exception as exc:  # every failure is reported to the writer, which records it
        put(inbox, ("error", ref, exc), stop)


WORKER_NICENESS = 19  # bench/README.md: paced fresh sync 11.3-12.4 s at nice 0, 10.7-11.7 at 19


def yield_cpu_to_writer() -> None:
    """Lower the calling worker thread's CPU priority, once per thread (Linux; elsewhere nothing).

    At equal priority the workers take the cores the writer's database work needs,
    and on two cores a sync measured slower so, even with one worker. A niced thread
    still gets any CPU nobody else wants, and it runs as fast as the network allows
    when latency, not CPU, is the limit.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):  # not permitted (seccomp, containers): no matter
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)


def _digests(
    record: StoredState, ref: SessionRef, inbox: queue.Queue, stop: threading.Event
) -> KnownDigests:
    seen = record.read(db.stored_digests, ref.org_id, ref.session_id)
    if seen is None:  # the file is busy: compare the events when they join
        put(inbox, ("compare", ref, None), stop)
        return KnownDigests()
    return seen


def put(inbox: queue.Queue, message: tuple, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            inbox.put(message, timeout=0.2)
            return
        except queue.Full:
            continue


def drain(inbox: queue.Queue) -> None:
    while True:
        try:
            inbox.get_nowait()
        except queue.Empty:
            return


class Launcher:
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

    def page(self, fetched: Fetched) -> None:
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
