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

import inspect
from collections.abc import Callable
from typing import cast

import duckdb

from toolkit.store import derived, typed
from toolkit.store.transactions import transaction

Progress = Callable[[int, int], None]  # (events done, events in all)
Staged = Callable[[int, int, str], None]  # the same, and the pass's name (`staged`)
AnyProgress = Progress | Staged  # what a caller may pass: either is called for each pass
# the passes an upgrade reports, each from 0 events done: named to a callback that takes
# a third argument (the CLI's bars), so one whose pass restarts is not taken as hung
TYPED_STAGE = "rebuilding typed storage"
STORES_STAGE = "recomputing per-session stores"
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


def ensure_current(con: duckdb.DuckDBPyConnection, on_progress: AnyProgress | None = None) -> bool:
    """Rebuild the typed storage unless it is current (a writable connection), and
    fill the derived storage unless it is (a file from before it: one pass).

    Returns:
        True if the typed storage was rebuilt.
    """
    if not is_current(con):
        rebuild(con, on_progress)
        return True
    if not derived.is_current(con):
        derived.fill(con, staged(on_progress, STORES_STAGE))
    return False


def staged(on_progress: AnyProgress | None, stage: str) -> Progress | None:
    """`on_progress` told `stage` as a third argument, when it takes one."""
    if on_progress is None:
        return None
    try:
        inspect.signature(on_progress).bind(0, 0, stage)
    except (TypeError, ValueError):  # two arguments only, or no signature to read
        return cast(Progress, on_progress)
    report = cast(Staged, on_progress)
    return lambda done, total: report(done, total, stage)


def rebuild(con: duckdb.DuckDBPyConnection, on_progress: AnyProgress | None = None) -> int:
    """Empty the typed tables and fill them again from `events`; return the events read.

    Each slice is its own transaction, so memory stays bounded; the digest is
    cleared first and set last, so a rebuild that is killed is started again by
    the next writable open. Call with no other transaction open.

    Args:
        con: a writable connection.
        on_progress: called with (events done, events in all) after each slice, then
            again from 0 as the per-session stores are recomputed (`staged`).
    """
    sizes = con.execute("SELECT count(*), coalesce(max(rowid) + 1, 0) FROM events").fetchall()
    total, end = sizes[0]
    _run(con, _clear_statements())
    done = 0
    report = staged(on_progress, TYPED_STAGE) or (lambda _done, _total: None)
    report(0, total)
    for start in range(0, end, SLICE_ROWS):
        done += _fill_slice(con, start, start + SLICE_ROWS)
        report(done, total)
    # before the digest: a rebuild killed here is started again
    derived.fill(con, staged(on_progress, STORES_STAGE))
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
