"""Update: what a scheduled job runs to keep the record current.

Discover the last N days, store the meetings, then sync every discovered session
that is not stored yet or not settled, and re-sync every stored session that is not
settled (events may still be arriving: see `session_status`). Run twice in a row,
the second run finds the same meetings, has nothing to sync and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from toolkit.config import SessionRef
from toolkit.ingest.discovery import Discovery
from toolkit.ingest.sync import SyncOptions, SyncResult, sync_sessions
from toolkit.store.database import connect
from toolkit.store.meetings import UpsertCounts, upsert_meetings

NEW = "new"
UNSETTLED = "not settled"


@dataclass
class UpdateResult:
    """What an update found and did: the discovery, the meetings stored, the syncs."""

    discovery: Discovery
    meetings: UpsertCounts
    reasons: dict[SessionRef, str] = field(default_factory=dict)
    results: list[SyncResult] = field(default_factory=list)

    @property
    def new_events(self) -> int:
        """Events stored by this update's syncs."""
        return sum(r.new for r in self.results)


def plan_update(con: duckdb.DuckDBPyConnection, found: Discovery) -> dict[SessionRef, str]:
    """The sessions to sync and why: discovered and not stored, or stored and not settled.

    Returns:
        Each session to sync with its reason (`new` or `not settled`), discovered
        ones first (oldest first), then the other stored ones.
    """
    rows = con.execute(
        "SELECT session_org_id, session_id, is_settled FROM session_status "
        "ORDER BY first_event_at NULLS LAST, session_id"
    ).fetchall()
    settled = {(str(org), str(sid)): bool(ok) for org, sid, ok in rows}
    chosen: dict[SessionRef, str] = {}
    for item in found.items:
        ref = SessionRef(found.org_id, item["id"])
        known = settled.get((ref.org_id, ref.session_id))
        if known is None:
            chosen[ref] = NEW
        elif not known:
            chosen[ref] = UNSETTLED
    for (org, sid), ok in settled.items():
        if not ok:
            chosen.setdefault(SessionRef(org, sid), UNSETTLED)
    return chosen


def update(
    path: Path,
    found: Discovery,
    base_url: str,
    options: SyncOptions,
    on_progress: Callable[[SyncResult], None] | None = None,
) -> UpdateResult:
    """Store what discovery found, then sync what `plan_update` chooses.

    The file is held only to store the meetings and plan; the sync then opens it
    per commit like any other, so readers are not locked out while it runs.

    Args:
        path: the database file.
        found: the discovery of the period.
        base_url: the API base the meetings came from.
        options: how to sync (base URL, token, concurrency, retries, `wait`).
        on_progress: sync progress callback.

    Returns:
        The discovery, the meetings' counts, and one result per session synced.
    """
    con = connect(path, wait=options.wait)
    try:
        counts = upsert_meetings(con, found.org_id, found.items, base_url)
        reasons = plan_update(con, found)
    finally:
        con.close()
    results = sync_sessions(path, list(reasons), options, on_progress) if reasons else []
    return UpdateResult(found, counts, reasons, results)
