"""What a sync is asked to do (`SyncOptions`) and what it did per session (`SyncResult`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from toolkit.config import Secret
from toolkit.errors import EXIT_OK
from toolkit.ingest.auth import TokenSource
from toolkit.ingest.client import RetryPolicy

if TYPE_CHECKING:  # names for annotations: importing the store would load DuckDB
    from toolkit.store.rebuild import AnyProgress


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
    waiting: int = 0  # events fetched and kept in the spool, not joined to the record yet
    why_waiting: str | None = None  # why they could not join (the file was busy)

    @property
    def duplicates(self) -> int:
        """Items received that were already stored (or repeated within the sync)."""
        return self.received - self.new - self.rejected - self.waiting


@dataclass
class SyncOptions:
    """How to sync: where, with what token, how many sessions at once, how to retry."""

    base_url: str
    token: Secret | TokenSource  # a source may renew the token after a 401
    concurrency: int = 1  # at most; see `paced`
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    recheck: bool = False  # decode every page, even those whose body was stored before
    paced: bool = True  # fewer sessions at once while the network keeps nobody waiting
    # a group joins the record when it has this many rows or is this old, or when it has
    # `eager_rows` and the join before has ended (joins run beside the fetching, and
    # each has a fixed cost of tens of milliseconds); readers wait at most one join
    commit_rows: int = 65_536
    commit_seconds: float = 2.0
    eager_rows: int = 32_768
    wait: float = 0.0  # seconds to wait for another sync of the same file to finish
    # progress of the upgrade an older file needs at the sync's first open (its typed
    # storage rebuilt from `events`, its per-session stores recomputed), each pass from
    # 0 and named to a callback that takes a third argument; see `store.rebuild.staged`
    on_rebuild: AnyProgress | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
