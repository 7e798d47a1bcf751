"""The `meetings` table: meeting instances found by `discover`, kept up to date.

One row per instance (`session_id`). Finding a meeting again updates what the API
says of it now and `last_discovered_at`; `first_discovered_at` keeps the first time.
Only the fields of a List Meetings item are stored (`raw` is the item): never a
token, which never reaches this layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from toolkit.store.transactions import transaction

# item field -> column, for the text columns read from a List Meetings item
FIELDS = {
    "meetingSeriesId": "meeting_series_id",
    "scheduledMeetingId": "scheduled_meeting_id",
    "title": "title",
    "hostEmail": "host_email",
    "hostDisplayName": "host_display_name",
    "hostUserId": "host_user_id",
    "siteUrl": "site_url",
    "scheduledType": "scheduled_type",
}
_TEXT = ["session_id", "session_org_id", *FIELDS.values(), "start_text", "end_text", "base_url"]
_SET = ", ".join(f"{c} = f.{c}" for c in ["session_org_id", *FIELDS.values(), "base_url"])
_COLUMNS = ", ".join(["session_id", "session_org_id", *FIELDS.values(), "base_url"])


@dataclass(frozen=True)
class UpsertCounts:
    """How many meetings a discovery stored for the first time, and how many it found again."""

    new: int
    known: int


def upsert_meetings(
    con: duckdb.DuckDBPyConnection,
    org_id: str,
    items: Sequence[dict[str, Any]],
    base_url: str,
    now: datetime | None = None,
) -> UpsertCounts:
    """Store discovered meeting instances, updating those already stored.

    Args:
        con: a writable connection.
        org_id: the org that owns the meetings (the compliance API's `sessionOrgId`).
        items: List Meetings items, each with a string `id`; the last of a repeated id wins.
        base_url: the API base they came from.
        now: the discovery time (defaults to the clock).

    Returns:
        How many were new and how many known.
    """
    unique = {item["id"]: item for item in items}
    if not unique:
        return UpsertCounts(0, 0)
    found = _table(org_id, list(unique.values()), base_url, now or datetime.now(timezone.utc))
    con.register("_found_meetings", found)
    try:
        with transaction(con):
            return _merge(con)
    finally:
        con.unregister("_found_meetings")


def _merge(con: duckdb.DuckDBPyConnection) -> UpsertCounts:
    row = con.execute(
        "SELECT count(*) FILTER (WHERE m.session_id IS NULL), count(m.session_id) "
        "FROM _found_meetings f LEFT JOIN meetings m USING (session_id)"
    ).fetchone()
    new, known = (int(v) for v in row or (0, 0))
    con.execute(
        f'UPDATE meetings SET {_SET}, "start" = TRY_CAST(f.start_text AS TIMESTAMPTZ), '
        '"end" = TRY_CAST(f.end_text AS TIMESTAMPTZ), last_discovered_at = f.seen_at, '
        "raw = f.raw FROM _found_meetings f WHERE meetings.session_id = f.session_id"
    )
    con.execute(
        f'INSERT INTO meetings ({_COLUMNS}, "start", "end", first_discovered_at, '
        f"last_discovered_at, raw) SELECT {_COLUMNS}, TRY_CAST(start_text AS TIMESTAMPTZ), "
        "TRY_CAST(end_text AS TIMESTAMPTZ), seen_at, seen_at, raw FROM _found_meetings "
        "WHERE session_id NOT IN (SELECT session_id FROM meetings)"
    )
    return UpsertCounts(new, known)


def _table(org_id: str, items: list[dict[str, Any]], base_url: str, now: datetime) -> pa.Table:
    """The items as an Arrow table of the columns to store (times as text, cast in SQL)."""
    columns: dict[str, list[Any]] = {name: [] for name in _TEXT}
    for item in items:
        values = {
            "session_id": item["id"],
            "session_org_id": org_id,
            "start_text": _text(item.get("start")),
            "end_text": _text(item.get("end")),
            "base_url": base_url,
        }
        values.update({column: _text(item.get(key)) for key, column in FIELDS.items()})
        for name in _TEXT:
            columns[name].append(values[name])
    arrays = {name: pa.array(values, pa.string()) for name, values in columns.items()}
    arrays["raw"] = pa.array([orjson.dumps(i).decode() for i in items], pa.string())
    arrays["seen_at"] = pa.array([now] * len(items), pa.timestamp("us", tz="UTC"))
    return pa.table(arrays)


def _text(value: Any) -> str | None:
    """A field as text; None for a missing one (a number or flag becomes its JSON)."""
    if value is None:
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def stored_meetings(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every stored meeting as (org id, session id), oldest start first."""
    rows = con.execute(
        'SELECT session_org_id, session_id FROM meetings ORDER BY "start" NULLS LAST, session_id'
    ).fetchall()
    return [(str(org), str(sid)) for org, sid in rows]
