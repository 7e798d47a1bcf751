"""Small helpers shared by tests: build envelopes and store hand-written events."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from toolkit.ingest.events import EVENT_SCHEMA
from toolkit.store import database as db
from toolkit.store import rebuild

ORG = "a1111111-1a11-111a-1a11-1a1111a1111a"
SESSION = "abcdef0123456789abcdef0123456789_I_000000000000000001"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms

# any JSON value, small, with integers beyond 64 bits: what a hostile `data` may hold
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


def envelope(
    data: dict[str, Any], at_ms: int, user: str = "u-host", session: str = SESSION, org: str = ORG
) -> dict[str, Any]:
    """An event as the API serves it: the envelope around one `data` snapshot."""
    data = {"sessionId": session, **data}
    return {
        "createdAtMs": at_ms,
        "sessionId": session,
        "sessionOrgId": org,
        "userId": user,
        "data": data,
    }


def event_id(event: dict[str, Any]) -> str:
    """The contract's event id: sha256 of the canonical JSON."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def insert_events(con: Any, events: list[dict[str, Any]], sync_id: int = 1) -> None:
    """Store events through the store, as a sync does: `events` and their typed rows."""
    columns: dict[str, list[Any]] = {name: [] for name in EVENT_SCHEMA.names}
    for ev in events:
        columns["event_id"].append(event_id(ev))
        columns["event_at"].append(int(ev["createdAtMs"]))
        columns["session_org_id"].append(ev["sessionOrgId"])
        columns["session_id"].append(ev["sessionId"])
        columns["actor_user_id"].append(ev["userId"])
        columns["event_type"].append(ev["data"]["type"])
        columns["data"].append(json.dumps(ev["data"]))
        columns["envelope_extra"].append(None)
    table = pa.table(
        {name: pa.array(values, EVENT_SCHEMA.field(name).type) for name, values in columns.items()}
    )
    with db.transaction(con):
        db.insert_new_events(con, [(table, sync_id)])


def clear_events(con: Any) -> None:
    """Remove every stored event, and so (rebuilt from none) every typed row."""
    con.execute("DELETE FROM events")
    rebuild.rebuild(con)
