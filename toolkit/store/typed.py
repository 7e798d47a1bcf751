"""Typed storage: each new event's `data` parsed once, in the transaction that stores it.

The tables (`sql/05_typed_tables.sql`) hold what the history and analysis views
used to parse from `events.data` at every query: one table per documented event
type, with the properties `event_fields` reads beside its history view's columns
(an event of a type not documented stays in `events` alone, parsed when read).
They are filled by the statements of `fill/*.sql`, which read a relation named
`_new_events` (the columns of `events`, holding exactly the rows just added): a
temporary table (`staged`) of the rows an insert or an append adds, or of a
rebuild's slice of `events` (`toolkit.store.rebuild`). Filling in the inserting
transaction means a reader never sees an event without its typed rows, even after a
kill.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache

import duckdb

from toolkit.store.records import EVENT_TYPES
from toolkit.store.sqlfiles import fill_files

SOURCE = "_new_events"  # the relation each fill statement reads
# the typed tables and the sessions' numbers they refer to, emptied by a rebuild
TABLES = (
    "session_keys",
    "typed_session_events",
    "typed_qaa_events",
    "typed_qaa_question_events",
    "typed_qaa_question_reply_events",
    "typed_qaa_question_action_events",
    "typed_poll_events",
    "typed_poll_answer_events",
    "typed_poll_answer_review_events",
    "typed_active_poll_events",
    "typed_other_events",
)
EXTRA = ("session_keys", "other")  # fill/*.sql beside the documented types' own


@cache
def fill_statements() -> dict[str, str]:
    """The fill statement of each documented event type."""
    return fill_files(EVENT_TYPES)


@cache
def other_statements() -> dict[str, str]:
    """The statements numbering the new sessions (`session_keys`, run first) and
    storing the events of undocumented types (`other`)."""
    return fill_files(EXTRA)


@cache
def fill_digest() -> str:
    """A digest of the fill statements: stored rows computed by other ones are stale."""
    digest = hashlib.sha256()
    for name, text in sorted({**fill_statements(), **other_statements()}.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:16]


def fill(con: duckdb.DuckDBPyConnection, types: Iterable[str]) -> None:
    """Add the typed rows of the events in `_new_events`.

    Args:
        con: a connection inside the transaction that stored those events.
        types: the event types present there; the fills of the others are skipped.
    """
    statements, extra = fill_statements(), other_statements()
    con.execute(extra["session_keys"])
    for event_type in sorted(set(types) & set(EVENT_TYPES)):
        con.execute(statements[event_type])
    if set(types) - set(EVENT_TYPES):
        con.execute(extra["other"])


def stored_types(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The event types of the rows in `_new_events`."""
    rows = con.execute(f"SELECT DISTINCT event_type FROM {SOURCE}").fetchall()
    return {row[0] for row in rows}


@contextmanager
def staged(
    con: duckdb.DuckDBPyConnection, select: str, params: list[object] | None = None
) -> Iterator[None]:
    """`_new_events` as a temporary table of the rows `select` gives, for the block;
    their typed rows are filled as it ends (not if it fails), and the table dropped.

    Call inside a transaction. The fills read a table, not an Arrow one: each scan of
    an Arrow table takes the interpreter lock, which a sync's workers hold most of the
    time (bench/README.md, "The writer beside the fetching").
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SOURCE} AS {select}", params or None)
    yield
    fill(con, stored_types(con))
    con.execute(f"DROP TABLE {SOURCE}")
