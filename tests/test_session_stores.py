"""Per-session stores (toolkit.store.session_stores): `session_activity` read from the
store sync keeps, computed for the sessions with events since its last refresh.

The oracle is the view as it was before the store (REFERENCE): computed over every
event, its moderation steps from event_activity's windows. Refreshed or not, rebuilt,
or read from a file whose stores other SQL computed, the view must answer exactly that.
"""

from __future__ import annotations

import duckdb
import pytest

from toolkit.store import database as db
from toolkit.store import derived, ledger, rebuild, session_stores

from .helpers import SESSION, T0, envelope, insert_events
from .scenario import OTHER_SESSION, all_events, other_session_events

# session_activity as it was computed before the store, over every event
REFERENCE = """
SELECT * FROM (
    WITH fields AS (
        SELECT f.session_org_id, f.session_id, f.actor_user_id, f.event_type,
            f.resource_id, f.action, f.is_deleted
        FROM event_fields AS f
    ),
    per_event AS (
        SELECT
            f.session_org_id,
            f.session_id,
            count(*) AS event_count,
            count(DISTINCT f.actor_user_id) AS actor_count,
            count(*) FILTER (
                WHERE f.event_type = 'qaaQuestionAction' AND f.action = 'upvote'
            ) AS upvote_count,
            count(*) FILTER (
                WHERE f.event_type IN ('qaaQuestionAction', 'pollAnswerReview')
                    AND f.action IS DISTINCT FROM 'upvote'
                    AND f.action IS DISTINCT FROM 'removeUpvote'
            ) AS action_count,
            count(*) FILTER (
                WHERE f.resource_id IS NULL
                    AND f.event_type NOT IN (
                        'qaaQuestionAction', 'pollAnswerReview', 'activePoll', 'session', 'qaa'
                    )
            ) AS unknown_event_count
        FROM fields AS f
        GROUP BY f.session_org_id, f.session_id
    ),
    per_resource AS (
        SELECT f.session_org_id, f.session_id, f.event_type, f.resource_id,
            bool_or(f.is_deleted) AS ever_deleted
        FROM fields AS f
        WHERE f.resource_id IS NOT NULL
            AND f.event_type IN ('qaaQuestion', 'qaaQuestionReply', 'poll', 'pollAnswer')
        GROUP BY f.session_org_id, f.session_id, f.event_type, f.resource_id
    ),
    resources AS (
        SELECT r.session_org_id, r.session_id,
            count(*) FILTER (WHERE r.event_type = 'qaaQuestion') AS question_count,
            count(*) FILTER (WHERE r.event_type = 'qaaQuestionReply') AS reply_count,
            count(*) FILTER (WHERE r.event_type = 'poll') AS poll_count,
            count(*) FILTER (WHERE r.event_type = 'pollAnswer') AS poll_answer_count,
            count(*) FILTER (WHERE r.ever_deleted) AS deleted_item_count
        FROM per_resource AS r
        GROUP BY r.session_org_id, r.session_id
    ),
    ordered_steps AS (
        SELECT a.session_org_id, a.session_id, count(*) AS step_count
        FROM event_activity AS a
        WHERE a.event_type IN ('qaaQuestion', 'qaaQuestionReply', 'pollAnswer')
            AND a.is_moderation
        GROUP BY a.session_org_id, a.session_id
    )
    SELECT
        e.session_org_id,
        e.session_id,
        CAST(e.event_count AS BIGINT) AS event_count,
        CAST(e.actor_count AS BIGINT) AS actor_count,
        CAST(coalesce(r.question_count, 0) AS BIGINT) AS question_count,
        CAST(coalesce(r.reply_count, 0) AS BIGINT) AS reply_count,
        CAST(e.upvote_count AS BIGINT) AS upvote_count,
        CAST(coalesce(r.poll_count, 0) AS BIGINT) AS poll_count,
        CAST(coalesce(r.poll_answer_count, 0) AS BIGINT) AS poll_answer_count,
        CAST(e.action_count + coalesce(o.step_count, 0) AS BIGINT) AS moderation_count,
        CAST(coalesce(r.deleted_item_count, 0) AS BIGINT) AS deleted_item_count,
        CAST(e.unknown_event_count AS BIGINT) AS unknown_event_count
    FROM per_event AS e
    LEFT JOIN resources AS r
        ON r.session_org_id = e.session_org_id AND r.session_id = e.session_id
    LEFT JOIN ordered_steps AS o
        ON o.session_org_id = e.session_org_id AND o.session_id = e.session_id
) ORDER BY ALL
"""

VIEW = "SELECT * FROM session_activity ORDER BY ALL"
STORE = "SELECT * FROM session_activity_store ORDER BY ALL"


def recent(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT * FROM recent_sessions() ORDER BY 1").fetchall()]


def reference(con) -> list[tuple]:
    return con.execute(REFERENCE).fetchall()


def test_the_view_answers_as_before_refreshed_or_not(con):
    insert_events(con, all_events())  # a sync's commits, before its end's refresh
    assert recent(con) == [SESSION]
    assert con.execute(VIEW).fetchall() == reference(con)
    assert len(reference(con)) == 1
    ledger.refresh_sessions_activity(con, [])  # the sessions since the mark: all here
    assert recent(con) == []
    assert con.execute(STORE).fetchall() == con.execute(VIEW).fetchall() == reference(con)
    insert_events(con, other_session_events(), sync_id=2)  # a killed sync's commit
    assert recent(con) == [OTHER_SESSION]
    assert con.execute(VIEW).fetchall() == reference(con)
    assert len(reference(con)) == 2 and len(con.execute(STORE).fetchall()) == 1
    ledger.refresh_sessions_activity(con, [])  # the next sync's end: the killed one's too
    assert recent(con) == []
    assert con.execute(STORE).fetchall() == con.execute(VIEW).fetchall() == reference(con)
    ledger.refresh_sessions_activity(con, [])  # a re-sync that adds nothing
    assert con.execute(STORE).fetchall() == reference(con)


POLL_RESULTS = "SELECT * FROM poll_results ORDER BY ALL"
# poll_results as it was computed before the store: the same query over the views
POLL_REFERENCE = "SELECT * FROM poll_results_in(false) ORDER BY ALL"
TWINS = (
    "polls",
    "poll_answers",
    "poll_answer_reviews",
    "poll_options",
    "poll_answer_parts",
    "poll_answer_options",
)


def test_poll_results_answer_as_before_refreshed_or_not(con):
    insert_events(con, all_events())
    assert con.execute(POLL_RESULTS).fetchall() == con.execute(POLL_REFERENCE).fetchall()
    ledger.refresh_sessions_activity(con, [])
    stored = con.execute("SELECT * FROM poll_results_store ORDER BY ALL").fetchall()
    assert stored == con.execute(POLL_RESULTS).fetchall() == con.execute(POLL_REFERENCE).fetchall()
    assert len(stored) == 3
    insert_events(con, other_session_events(), sync_id=2)
    assert con.execute(POLL_RESULTS).fetchall() == con.execute(POLL_REFERENCE).fetchall()


@pytest.mark.parametrize("view", TWINS)
def test_each_twin_over_the_recent_sessions_is_its_view_restricted_to_them(con, view):
    insert_events(con, all_events())
    ledger.refresh_sessions_activity(con, [])
    insert_events(con, other_session_events(), sync_id=2)
    for both in (False, True):  # recent: the other session (no polls), then both
        restricted = con.execute(
            f"SELECT * FROM {view} WHERE session_id IN "
            "(SELECT session_id FROM recent_sessions()) ORDER BY ALL"
        ).fetchall()
        assert con.execute(f"SELECT * FROM {view}_recent() ORDER BY ALL").fetchall() == restricted
        assert bool(restricted) == both
        con.execute("DELETE FROM derived_marks WHERE source = 'events'")


def test_a_rebuild_fills_the_store_and_its_mark_as_the_refreshes_did(con):
    insert_events(con, all_events())
    ledger.refresh_sessions_activity(con, [])
    insert_events(con, other_session_events(), sync_id=2)
    ledger.refresh_sessions_activity(con, [])
    marks = "SELECT * FROM derived_marks WHERE source = 'events'"
    stored, marked = con.execute(STORE).fetchall(), con.execute(marks).fetchall()
    rebuild.rebuild(con)
    assert con.execute(STORE).fetchall() == stored == reference(con)
    assert con.execute(marks).fetchall() == marked
    assert con.execute(POLL_RESULTS).fetchall() == con.execute(POLL_REFERENCE).fetchall()
    assert recent(con) == []


def test_a_mark_that_no_longer_counts_its_events_makes_every_session_recent(con):
    insert_events(con, all_events() + other_session_events())
    ledger.refresh_sessions_activity(con, [])
    con.execute("UPDATE derived_marks SET rows_covered = 1 WHERE source = 'events'")
    end, _rows, since = session_stores.since_mark(con)
    assert len(since) == 2 and end == con.execute("SELECT count(*) FROM events").fetchone()[0]


def test_a_read_only_open_of_stores_other_sql_computed_reads_none_of_them(tmp_path):
    path = tmp_path / "x.duckdb"
    con = db.connect(path)
    insert_events(con, all_events() + other_session_events())
    ledger.refresh_sessions_activity(con, [])
    expected = reference(con)
    # as another release left it: its own SQL, and its rows in the store
    con.execute("UPDATE session_activity_store SET question_count = 99")
    con.execute("UPDATE typed_state SET digest = 'other' WHERE kind = ?", [derived.KIND])
    con.execute("UPDATE schema_version SET sql_digest = ?", [f"{db.SCHEMA_VERSION}:0"])
    con.close()
    reader = db.connect(path, read_only=True)
    try:
        assert reader.execute(VIEW).fetchall() == expected  # computed, store unread
        assert reader.execute("SELECT count(*) FROM session_activity_store").fetchone() == (0,)
    finally:
        reader.close()
    con = db.connect(path)  # the upgrade: the stores computed again
    try:
        assert derived.is_current(con)
        assert con.execute(STORE).fetchall() == con.execute(VIEW).fetchall() == expected
        assert recent(con) == []
    finally:
        con.close()


# qaa_questions and poll_answers as they were computed before their stores: the latest
# version of each resource by a window over every version of the history view
CURRENT = {
    "qaa_questions": ("qaa_question_events", "question_id"),
    "poll_answers": ("poll_answer_events", "poll_answer_id"),
}


def current_reference(con, view: str) -> list[tuple]:
    history, key = CURRENT[view]
    columns = ", ".join(
        row[0] for row in con.execute(f"DESCRIBE {view}").fetchall()
    )  # the view's columns, in its order
    return con.execute(
        f"""
        SELECT {columns} FROM (
            SELECT h.*,
                min(h.event_at) OVER w AS first_event_at,
                max(h.event_at) OVER w AS last_event_at,
                CAST(count(*) OVER w AS BIGINT) AS version_count,
                row_number() OVER w AS version_rank
            FROM {history} AS h
            WINDOW w AS (
                PARTITION BY h.session_id, h.{key}, CASE WHEN h.{key} IS NULL THEN h.event_id END
                ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
                ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
            )
        ) WHERE version_rank = 1 ORDER BY ALL
        """
    ).fetchall()


def versions(at: int, session: str = SESSION) -> list[dict]:
    """Versions that test the order: no key (twice), no modifiedAtMs, a tie on it."""
    question = {"type": "qaaQuestion", "text": "v", "isDeleted": False}
    answer = {"type": "pollAnswer", "pollId": "p1", "options": ["o1"]}
    shapes = [
        {**question, "questionId": "q-edge", "modifiedAtMs": at},
        {**question, "questionId": "q-edge", "modifiedAtMs": at, "text": "tie, later event"},
        {**question, "questionId": "q-edge", "text": "no modifiedAtMs"},
        {**question, "text": "no questionId"},
        {**question, "text": "no questionId either"},
        {**answer, "pollAnswerId": "a-edge", "modifiedAtMs": at + 5},
        {**answer, "pollAnswerId": "a-edge", "modifiedAtMs": at, "isDeleted": True},
        {**answer, "text": "no pollAnswerId"},
    ]
    return [envelope(data, at + i, session=session) for i, data in enumerate(shapes)]


@pytest.mark.parametrize("view", CURRENT)
def test_stored_current_versions_answer_as_the_window_over_every_version(con, view):
    def answers_as_before() -> None:
        rows = con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall()
        assert rows == current_reference(con, view)

    insert_events(con, all_events() + versions(T0))
    answers_as_before()  # every session recent: computed
    ledger.refresh_sessions_activity(con, [])
    answers_as_before()  # every session from the store
    stored = con.execute(f"SELECT count(*) FROM {view}_store").fetchone()[0]
    assert stored == len(current_reference(con, view)) > 3
    # new versions of stored resources, and a killed sync's other session: recent again
    insert_events(con, versions(T0 + 10_000) + other_session_events(), sync_id=2)
    assert recent(con) == [SESSION, OTHER_SESSION]
    answers_as_before()
    ledger.refresh_sessions_activity(con, [])
    answers_as_before()
    rebuild.rebuild(con)  # typed rows again, so other rowids: the store filled again
    answers_as_before()
    assert recent(con) == []


def test_typed_rowids_survive_a_rebuild_checkpoints_and_a_reopen(tmp_path):
    """The current-version stores find their typed rows by rowid. DuckDB keeps a row's
    rowid through what typed tables go through (all rows deleted by a rebuild, new ones
    appended, checkpoints with whole row groups deleted, the file closed and opened):
    a release that renumbered rows would make the stored views read other rows."""
    path = tmp_path / "rowids.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT range AS v FROM range(300000)")
    con.execute("CHECKPOINT")
    con.execute("DELETE FROM t")
    con.execute("INSERT INTO t SELECT 1000000 + range FROM range(250000)")
    before = con.execute("SELECT rowid, v FROM t WHERE v % 9973 = 0 ORDER BY v").fetchall()
    assert con.execute("SELECT min(rowid) FROM t").fetchone() == (300000,)  # not renumbered
    con.execute("CHECKPOINT")
    con.execute("INSERT INTO t SELECT 2000000 + range FROM range(10)")
    con.execute("CHECKPOINT")
    con.close()
    con = duckdb.connect(str(path))
    after = con.execute(
        "SELECT rowid, v FROM t WHERE v % 9973 = 0 AND v < 2000000 ORDER BY v"
    ).fetchall()
    con.close()
    assert after == before and len(before) > 20


def test_stored_current_versions_hold_after_a_rebuild_and_a_reopen(tmp_path):
    path = tmp_path / "x.duckdb"
    con = db.connect(path)
    insert_events(con, all_events() + versions(T0))
    ledger.refresh_sessions_activity(con, [])
    rebuild.rebuild(con)
    con.execute("CHECKPOINT")
    con.close()
    con = db.connect(path, read_only=True)
    try:
        assert recent(con) == []
        for view in CURRENT:
            rows = con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall()
            assert rows == current_reference(con, view)
    finally:
        con.close()


def test_each_pass_of_an_upgrade_is_named_to_a_progress_that_takes_a_stage(tmp_path):
    path = tmp_path / "x.duckdb"
    con = db.connect(path)
    insert_events(con, all_events() + other_session_events())
    events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.execute("UPDATE typed_state SET digest = 'other' WHERE kind = ?", [derived.KIND])
    con.close()
    seen: list[tuple[str, int, int]] = []

    def record(done: int, total: int, stage: str) -> None:
        seen.append((stage, done, total))

    db.connect(path, on_rebuild=record).close()
    # only the stores were another release's: one pass, named as theirs
    assert {stage for stage, _, _ in seen} == {rebuild.STORES_STAGE}
    assert seen[0][1:] == (0, events) and seen[-1][1:] == (events, events)

    seen.clear()
    plain: list[tuple[int, int]] = []
    con = db.connect(path)
    try:
        rebuild.rebuild(con, record)
        rebuild.rebuild(con, lambda done, total: plain.append((done, total)))
    finally:
        con.close()
    # the typed rows, then the stores, each counted from 0 to every event
    order = [rebuild.TYPED_STAGE, rebuild.STORES_STAGE]
    stages = [stage for stage, _, _ in seen]
    assert sorted(set(stages), key=order.index) == order
    assert stages == sorted(stages, key=order.index)
    for stage in order:
        counts = [(done, total) for s, done, total in seen if s == stage]
        assert counts[0] == (0, events) and counts[-1] == (events, events)
    assert plain[-1] == (events, events) and plain.count((0, events)) == 2  # both passes
