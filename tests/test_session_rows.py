"""A session's events read from its own rows of `events` (toolkit.store.session_rows).

The oracle is `events` filtered by the session id: `session_events(sid)` must give the
same rows whatever the spans and their mark, and `session_status_of(sid)` the row
`session_status` gives the session.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

import duckdb

from toolkit.analysis import queries as q
from toolkit.store import ledger, session_rows

from .helpers import ORG, SESSION, T0, envelope, insert_events

SECOND = "abcdef0123456789abcdef0123456789_I_000000000000000002"
NO_EVENTS = "abcdef0123456789abcdef0123456789_I_000000000000000009"


def add(con: duckdb.DuckDBPyConnection, at: int, per_session: int = 3) -> None:
    """Events of both sessions, interleaved as concurrent workers store them."""
    events = [
        envelope({"type": "qaa", "enabled": bool(i % 2)}, at + i, session=session)
        for i in range(per_session)
        for session in (SESSION, SECOND)
    ]
    insert_events(con, events)


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """What a sync's end does: the per-session stores refreshed, their mark moved."""
    ledger.refresh_sessions_activity(con, [])


def read_alike(con: duckdb.DuckDBPyConnection, session_id: str) -> None:
    """The session's events through its spans are exactly its rows of `events`."""
    spanned = con.execute(
        "SELECT * FROM session_events(?) ORDER BY event_id", [session_id]
    ).fetchall()
    stored = con.execute(
        "SELECT * FROM events WHERE session_id = ? ORDER BY event_id", [session_id]
    ).fetchall()
    assert spanned == stored
    ids = "\n".join(row[0] for row in stored)
    assert q.event_digest(con, session_id) == hashlib.sha256(ids.encode()).hexdigest()


def test_a_sessions_events_come_from_its_spans_and_the_rows_past_them(con):
    add(con, T0)
    refresh(con)
    add(con, T0 + 100)
    refresh(con)
    add(con, T0 + 200)  # past the mark: a sync under way, or one killed
    spans = con.execute(
        "SELECT session_id, count(*) FROM session_rows GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert spans == [(SESSION, 2), (SECOND, 2)]
    for session_id in (SESSION, SECOND, NO_EVENTS):
        read_alike(con, session_id)
    assert con.execute("SELECT count(*) FROM session_events(?)", [SESSION]).fetchone() == (9,)


def test_spans_start_again_when_their_mark_no_longer_counts_its_rows(con):
    add(con, T0)
    refresh(con)
    # a mark counting other rows (rows removed by other means): spans computed anew
    con.execute("UPDATE derived_marks SET rows_covered = 1 WHERE source = 'session_rows'")
    con.execute("INSERT INTO session_rows VALUES (?, 0, 0)", [NO_EVENTS])
    add(con, T0 + 100)
    end, rows = con.execute("SELECT max(rowid) + 1, count(*) FROM events").fetchone()
    session_rows.extend(con, end, rows)
    spans = con.execute("SELECT session_id, row_start FROM session_rows ORDER BY ALL")
    assert spans.fetchall() == [(SESSION, 0), (SECOND, 1)]
    for session_id in (SESSION, SECOND, NO_EVENTS):
        read_alike(con, session_id)


def test_a_file_without_spans_reads_every_session_from_the_rows_past_no_mark(con):
    add(con, T0)
    refresh(con)
    # as a file written before session_rows: no spans, no mark
    con.execute("DELETE FROM session_rows")
    con.execute("DELETE FROM derived_marks WHERE source = 'session_rows'")
    for session_id in (SESSION, SECOND):
        read_alike(con, session_id)
    refresh(con)  # the next sync's end spans everything
    assert con.execute("SELECT count(*) FROM session_rows").fetchone() == (2,)
    for session_id in (SESSION, SECOND):
        read_alike(con, session_id)


def test_session_status_of_gives_the_session_status_row_of_the_session(con):
    add(con, T0)
    refresh(con)
    add(con, T0 + 100)
    started = datetime(2026, 1, 2, tzinfo=timezone.utc)
    for session_id in (SESSION, NO_EVENTS):  # a run that stored nothing
        run = ledger.start_run(con, ORG, session_id, "http://127.0.0.1/v1", started)
        ledger.finish_run(con, run, "failed", "HTTP 404")
    for session_id in (SESSION, SECOND, NO_EVENTS, "never-seen"):
        of = con.execute("SELECT * FROM session_status_of(?)", [session_id]).fetchall()
        view = con.execute(
            "SELECT * FROM session_status WHERE session_id = ?", [session_id]
        ).fetchall()
        assert of == view
    never = con.execute("SELECT count(*) FROM session_status_of('never-seen')").fetchone()
    assert never == (0,)


def test_one_sessions_read_skips_the_row_groups_of_the_others(con):
    # a row group of each of three sessions, then a few more events of the first
    for number, rows in ((1, 122_880), (2, 122_880), (3, 122_880), (1, 10)):
        con.execute(
            """
            INSERT INTO events BY NAME
            SELECT printf('%064d', $n * 1000000 + i) AS event_id,
                make_timestamptz($at * 1000) AS event_at, $org AS session_org_id,
                's' || $n AS session_id, 'u' AS actor_user_id, 'qaa' AS event_type,
                '{}' AS data, 1 AS sync_id
            FROM range($rows) AS t(i)
            """,
            {"n": number, "at": T0, "org": ORG, "rows": rows},
        )
        refresh(con)
    con.execute("CHECKPOINT")

    def scanned(session_id: str) -> list[tuple[int, int]]:
        plan = con.execute(
            f"EXPLAIN ANALYZE SELECT count(*) FROM session_events('{session_id}')"
        ).fetchall()[0][1]
        found = re.findall(r"Row Groups Scanned: (\d+) / (\d+)", plan)
        return [(int(done), int(total)) for done, total in found if total == "4"]  # events

    # s2's one span: its own row group; the rows past the mark: none
    assert sorted(scanned("s2")) == [(0, 4), (1, 4)]
    assert con.execute("SELECT count(*) FROM session_events('s2')").fetchone() == (122_880,)
    # s1's two spans, far apart: its two row groups, not those between
    assert sorted(scanned("s1")) == [(0, 4), (2, 4)]
    assert con.execute("SELECT count(*) FROM session_events('s1')").fetchone() == (122_890,)
