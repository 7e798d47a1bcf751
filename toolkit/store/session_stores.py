"""Per-session stores of whole-record views, refreshed for the sessions a sync touched.

`session_activity` and `poll_results` computed over the whole record cost passes of
windows over every event (11.8 s and 5.4 s at 10M events), and `qaa_questions` and
`poll_answers` a window over every version (1.7 and 1.1 s), which the nested views
read again. Sync keeps their rows per session in `session_activity_store`
(`sql/00_tables.sql`), `poll_results_store`, and for the current versions only each
latest version's typed rowid and the span of its versions, `qaa_questions_store` and
`poll_answers_store` (`sql/07_derived_tables.sql`). The views (`sql/70_stored_views.sql`,
and `sql/20_current_views.sql` for the current versions) read those rows
for every session but the recent ones: the sessions with events at or past the
`events` row of `derived_marks` (the table macro `recent_sessions()`), which they
compute from the typed rows, restricted at each scan (`session_activity_in(true)`,
`poll_results_in(true)`). So the views never lag the record, and cost the stores plus
what was added since.

`ledger.refresh_sessions_activity` (a sync's end, a drained spool) recomputes the
stores of the sessions given and of every recent one behind (`since_mark`,
`recompute`, `recompute_ranges`), then moves the mark (`set_mark`); `fill()` recomputes
everything (a rebuild, or a file whose stores other SQL computed). Events are only
ever appended, so the rows at or past the mark are exactly the ones since; a mark that
no longer covers the rows it counted makes every session recent again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import duckdb

from toolkit.store import session_rows
from toolkit.store.sqlfiles import sql_files
from toolkit.store.transactions import transaction

MARK = "events"  # the source of the events' row of derived_marks
# each store: its table and the table macro computing its rows (an argument `false`:
# every session's)
STORES = (
    # first: the other stores' macros read the current views, which read these
    ("qaa_questions_store", "qaa_questions_in"),
    ("poll_answers_store", "poll_answers_in"),
    ("session_activity_store", "session_activity_in"),
    ("poll_results_store", "poll_results_in"),
)
Keys = list[tuple[str, str]]
CHUNK_EVENTS = 500_000  # events per pass of `recompute_ranges`: memory, not time


def digest() -> str:
    """A digest of the SQL that computes the stores' rows: rows computed by other SQL
    are recomputed (`toolkit.store.derived.is_current`)."""
    text = "\0".join(text for _name, text in sql_files())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def since_mark(con: duckdb.DuckDBPyConnection) -> tuple[int, int, Keys]:
    """(events' rowid end, events, the (org, session) pairs with events at or past the
    mark): every pair when there is no mark or it no longer counts its rows."""
    rows = con.execute(
        "SELECT row_end, rows_covered FROM derived_marks WHERE source = ?", [MARK]
    ).fetchall()
    start, covered = rows[0] if rows else (0, 0)
    end, count, before = con.execute(
        "SELECT coalesce(max(rowid) + 1, 0), count(*), count(*) FILTER (WHERE rowid < ?) "
        "FROM events",
        [start],
    ).fetchall()[0]
    if before != covered:
        start = 0
    recent = con.execute(
        "SELECT DISTINCT session_org_id, session_id FROM events WHERE rowid >= ? ORDER BY ALL",
        [start],
    ).fetchall()
    return max(int(end), int(start)), int(count), [(o, s) for o, s in recent]


def set_mark(con: duckdb.DuckDBPyConnection, end: int, rows: int) -> None:
    """Mark the events before rowid `end` (`rows` of them) as in the stores, and
    spanned by `session_rows` (`toolkit.store.session_rows`)."""
    with transaction(con):
        con.execute("DELETE FROM derived_marks WHERE source = ?", [MARK])
        con.execute("INSERT INTO derived_marks VALUES (?, ?, ?)", [MARK, end, rows])
        session_rows.extend(con, end, rows)


def recompute(con: duckdb.DuckDBPyConnection, session_id: str) -> None:
    """Recompute every store's rows of one session (of any org), in one transaction;
    its equality filter reaches each scan, so only its rows are read."""
    _recompute(con, "session_id = $s", {"s": session_id})


def recompute_ranges(
    con: duckdb.DuckDBPyConnection,
    session_ids: list[str] | None,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Recompute the stores' rows of these sessions (None: all), a range of session
    ids at a time (`chunks`), each in a transaction of its own.

    A range filter reaches each scan, as an equality does (a list does not), so a
    range reads only its sessions' rows, and each pass's memory stays bounded: one
    pass over a 4M-event record ran out of a sync's 192 MB (the answers' window).
    Sessions between two given ones are recomputed too, which is harmless.
    """
    ranges = chunks(con, session_ids)
    total = sum(n for _lo, _hi, n in ranges)
    done = 0
    report = on_progress or (lambda _done, _total: None)
    report(0, total)
    for low, high, events in ranges:
        _recompute(con, "session_id BETWEEN $lo AND $hi", {"lo": low, "hi": high})
        done += events
        report(done, total)


def chunks(
    con: duckdb.DuckDBPyConnection, session_ids: list[str] | None
) -> list[tuple[str, str, int]]:
    """The sessions (None: all with events) as ranges (first id, last id, events) of
    about CHUNK_EVENTS events each, in id order; a session is never split."""
    counts = con.execute(
        "SELECT session_id, count(*) FROM events GROUP BY session_id ORDER BY session_id"
    ).fetchall()
    wanted = None if session_ids is None else set(session_ids)
    ranges: list[tuple[str, str, int]] = []
    for session_id, events in counts:
        if wanted is not None and session_id not in wanted:
            continue
        if ranges and ranges[-1][2] + events <= CHUNK_EVENTS:
            low, _high, before = ranges[-1]
            ranges[-1] = (low, session_id, before + int(events))
        else:
            ranges.append((session_id, session_id, int(events)))
    return ranges


def _recompute(con: duckdb.DuckDBPyConnection, among: str, params: dict[str, object]) -> None:
    with transaction(con):
        for table, macro in STORES:
            # fixed SQL: the names are this module's constants, never a caller's text
            con.execute(f"DELETE FROM {table} WHERE {among}", params)
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT * FROM {macro}(false) WHERE {among}",
                params,
            )


def fill(
    con: duckdb.DuckDBPyConnection, on_progress: Callable[[int, int], None] | None = None
) -> None:
    """Recompute every store from the typed rows and mark all events as in them.

    The mark is removed first: a fill that fails or is killed leaves every session
    recent (computed by the views), never a store trusted half filled.
    """
    end, rows, _recent = since_mark(con)
    with transaction(con):
        con.execute("DELETE FROM derived_marks WHERE source = ?", [MARK])
        for table, _macro in STORES:
            con.execute(f"DELETE FROM {table}")
    recompute_ranges(con, None, on_progress)
    set_mark(con, end, rows)
