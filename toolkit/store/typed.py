"""Typed storage: each new event's `data` parsed once, in the transaction that stores it.

The tables (`sql/05_typed_tables.sql`) hold what the history and analysis views
used to parse from `events.data` at every query: one table per documented event
type, with the properties `event_fields` reads beside its history view's columns
(an event of a type not documented stays in `events` alone, parsed when read).
They are filled by the statements of `fill/*.sql`, which read a relation named
`_new_events` (the columns of `events`, holding exactly the rows just added): the
Arrow batch of an insert, a temporary table of the deduplicated rows of an append,
or a rebuild's slice of `events` (`toolkit.store.rebuild`). Filling in the inserting
transaction means a reader never sees an event without its typed rows, even after a
kill.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from importlib import resources

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.store.records import EVENT_TYPES

SOURCE = "_new_events"  # the relation each fill statement reads
# the typed tables, emptied by a rebuild
TABLES = (
    "typed_session_events",
    "typed_qaa_events",
    "typed_qaa_question_events",
    "typed_qaa_question_reply_events",
    "typed_qaa_question_action_events",
    "typed_poll_events",
    "typed_poll_answer_events",
    "typed_poll_answer_review_events",
    "typed_active_poll_events",
)


@cache
def fill_statements() -> dict[str, str]:
    """The fill statement of each documented event type."""
    folder = resources.files("toolkit.store") / "fill"
    return {name: (folder / f"{name}.sql").read_text(encoding="utf-8") for name in EVENT_TYPES}


@cache
def fill_digest() -> str:
    """A digest of the fill statements: stored rows computed by other ones are stale."""
    digest = hashlib.sha256()
    for name, text in sorted(fill_statements().items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:16]


def batch_types(batch: pa.RecordBatch | pa.Table) -> set[str]:
    """The event types present in a batch (only their fills need to run)."""
    return {t for t in pc.unique(batch.column("event_type")).to_pylist() if t is not None}


def fill(con: duckdb.DuckDBPyConnection, types: Iterable[str]) -> None:
    """Add the typed rows of the events in `_new_events`.

    Args:
        con: a connection inside the transaction that stored those events.
        types: the event types present there; the fills of the others are skipped.
    """
    statements = fill_statements()
    for event_type in sorted(set(types) & set(EVENT_TYPES)):
        con.execute(statements[event_type])


def stored_types(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The event types of `_new_events` when it is a table, not a batch at hand."""
    rows = con.execute(f"SELECT DISTINCT event_type FROM {SOURCE}").fetchall()
    return {row[0] for row in rows}
