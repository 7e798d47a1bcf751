"""Rebuilding the typed storage from `events` alone, and keeping it current on open.

`events` is the record; every typed table is a function of it, and so is the derived
storage computed from them (`toolkit.store.derived`), filled again at a rebuild's
end. `rebuild()` empties them and fills them again slice by slice (in the order the events were
stored, so each session's rows stay together as an incremental fill leaves
them). `typed_state` says which fill statements the stored rows were computed
with: a file from before typed storage (schema 5), a file whose rebuild was
killed, or one written by other fill statements is rebuilt on its next writable
open (`ensure_current`), and refused by a read-only one.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from toolkit.store import derived, typed
from toolkit.store.transactions import transaction

Progress = Callable[[int, int], None]  # (events done, events in all)
KIND = "typed"
SLICE_ROWS = 100_000  # events parsed per transaction: about 30 MB of `data` in memory


def stored_digest(con: duckdb.DuckDBPyConnection) -> str | None:
    """The fill digest the typed rows were computed with; None if unknown or rebuilding."""
    rows = con.execute("SELECT digest FROM typed_state WHERE kind = ?", [KIND]).fetchall()
    return rows[0][0] if rows else None


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the typed rows were computed with this release's fill statements.

    The derived storage (`toolkit.store.derived`) need not be: its views add every
    typed row it lacks, so a read-only open answers right without it, only slower.
    """
    return stored_digest(con) == typed.fill_digest()


def ensure_current(con: duckdb.DuckDBPyConnection, on_progress: Progress | None = None) -> bool:
    """Rebuild the typed storage unless it is current (a writable connection), and
    fill the derived storage unless it is (a file from before it: one pass).

    Returns:
        True if the typed storage was rebuilt.
    """
    if not is_current(con):
        rebuild(con, on_progress)
        return True
    if not derived.is_current(con):
        derived.fill(con, on_progress)
    return False


def rebuild(con: duckdb.DuckDBPyConnection, on_progress: Progress | None = None) -> int:
    """Empty the typed tables and fill them again from `events`; return the events read.

    Each slice is its own transaction, so memory stays bounded; the digest is
    cleared first and set last, so a rebuild that is killed is started again by
    the next writable open. Call with no other transaction open.

    Args:
        con: a writable connection.
        on_progress: called with (events done, events in all) after each slice.
    """
    sizes = con.execute("SELECT count(*), coalesce(max(rowid) + 1, 0) FROM events").fetchall()
    total, end = sizes[0]
    _run(con, _clear_statements())
    done = 0
    report = on_progress or (lambda _done, _total: None)
    report(0, total)
    for start in range(0, end, SLICE_ROWS):
        done += _fill_slice(con, start, start + SLICE_ROWS)
        report(done, total)
    derived.fill(con)  # before the digest: a rebuild killed here is started again
    _run(
        con,
        [
            ("DELETE FROM typed_state WHERE kind = ?", [KIND]),
            ("INSERT INTO typed_state VALUES (?, ?, now())", [KIND, typed.fill_digest()]),
        ],
    )
    return done


def _clear_statements() -> list[tuple[str, list[object]]]:
    statements: list[tuple[str, list[object]]] = [
        ("DELETE FROM typed_state WHERE kind = ?", [KIND]),
        ("INSERT INTO typed_state VALUES (?, NULL, now())", [KIND]),
    ]
    return statements + [(f"DELETE FROM {table}", []) for table in typed.TABLES]


def _fill_slice(con: duckdb.DuckDBPyConnection, start: int, stop: int) -> int:
    """Fill the typed rows of the events with rowid in [start, stop); return how many."""
    select = """
        SELECT event_id, event_at, session_org_id, session_id, actor_user_id,
            event_type, CAST(data AS VARCHAR) AS data
        FROM events WHERE rowid >= ? AND rowid < ?
    """
    with transaction(con), typed.staged(con, select, [start, stop]):
        count = con.execute(f"SELECT count(*) FROM {typed.SOURCE}").fetchall()[0][0]
    return int(count)


def _run(con: duckdb.DuckDBPyConnection, statements: list[tuple[str, list[object]]]) -> None:
    with transaction(con):
        for sql, params in statements:
            con.execute(sql, params)
