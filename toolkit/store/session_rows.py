"""Where each session's events lie in `events`, so that reading one session's events
from the record itself skips the rest.

`events` is the record as received, stored in arrival order, with no session number:
a filter on a session id alone reads the ids of every row group (`event_digest` took
11 ms at 10M events, growing with the record). `session_rows`
(`sql/07_derived_tables.sql`) holds, per session and refresh of the per-session stores,
the first and last rowid of the session's events stored since the refresh before; the
table macro `session_events(sid)` (`sql/50_status.sql`) reads the rows those spans
cover and the rows past their mark, and DuckDB skips every row group outside them.

`extend` runs in the transaction that moves the stores' mark (a sync's end), from its
own mark, so a file from before this table gets every session's spans at its first
refresh. Events are only appended, so the rows past the mark are exactly the ones
since; a mark that no longer counts its rows starts the spans again from nothing.
"""

from __future__ import annotations

import duckdb

MARK = "session_rows"  # its row of derived_marks


def extend(con: duckdb.DuckDBPyConnection, end: int, rows: int) -> None:
    """Add the spans of the events from the mark up to rowid `end` (`rows` events
    before it) and move the mark there. Call inside a transaction."""
    marked = con.execute(
        "SELECT row_end, rows_covered FROM derived_marks WHERE source = ?", [MARK]
    ).fetchall()
    start, covered = marked[0] if marked else (0, 0)
    (before,) = con.execute("SELECT count(*) FROM events WHERE rowid < ?", [start]).fetchall()[0]
    if before != covered:  # rows removed under the mark: every span again
        con.execute("DELETE FROM session_rows")
        start = 0
    if end <= start:  # nothing new; a mark never moves back over spans it covers
        return
    con.execute(
        """
        INSERT INTO session_rows
        SELECT session_id, min(rowid), max(rowid)
        FROM events
        WHERE rowid >= $start AND rowid < $end
        GROUP BY session_id
        """,
        {"start": start, "end": end},
    )
    con.execute("DELETE FROM derived_marks WHERE source = ?", [MARK])
    con.execute("INSERT INTO derived_marks VALUES (?, ?, ?)", [MARK, end, rows])
