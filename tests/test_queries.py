"""The query helpers answer a records officer's questions about the hand-written meeting."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import toolkit
from tests.helpers import JSON_VALUES, ORG, SESSION, T0, clear_events, envelope, insert_events
from tests.scenario import (
    HOSTILE,
    OTHER_SESSION,
    _question,
    _user,
    build_database,
    scenario_event_ids,
)
from toolkit.analysis.queries import parse_every
from toolkit.analysis.query import SESSION_VIEWS, names_read_once, session_read_once
from toolkit.errors import UsageError
from toolkit.store import ledger
from toolkit.store.records import EVENT_TYPES

INJECTION = "x' OR '1'='1"


def at(minute: int, second: int = 0) -> datetime:
    """A moment of the meeting, 2026-01-01 00:MM:SS UTC."""
    return datetime(2026, 1, 1, 0, minute, second, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = build_database(tmp_path_factory.mktemp("queries") / "compliance.duckdb")
    connection = toolkit.connect(path, read_only=True)
    yield connection
    connection.close()


def by(frame: pl.DataFrame, key: str) -> dict[str, dict]:
    """The frame's rows as dicts, keyed by one column."""
    return {row[key]: row for row in frame.iter_rows(named=True)}


def test_sessions_lists_each_session_with_its_counts_and_whether_it_is_settled(con) -> None:
    rows = by(toolkit.sessions(con), "session_id")
    main, quiet = rows[SESSION], rows[OTHER_SESSION]
    assert (main["event_count"], main["actor_count"], main["question_count"]) == (30, 6, 3)
    assert (main["reply_count"], main["poll_count"], main["poll_answer_count"]) == (2, 2, 8)
    assert (main["first_event_at"], main["last_event_at"]) == (at(0), at(15, 50))
    assert main["is_settled"] is True and main["last_status"] == "ok"
    assert quiet["is_settled"] is False and quiet["sync_count"] == 0


def test_timeline_counts_events_per_minute_and_type(con) -> None:
    frame = toolkit.timeline(con, SESSION, every="1m")
    second_minute = frame.filter(pl.col("bucket_at") == at(2))
    assert dict(second_minute.select("event_type", "event_count").iter_rows()) == {
        "qaaQuestion": 2,
        "qaaQuestionAction": 3,
        "qaaQuestionReply": 2,
    }
    assert frame["event_count"].sum() == 30


def test_timeline_in_wider_buckets_adds_up_to_the_same_events(con) -> None:
    frame = toolkit.timeline(con, SESSION, every="1h")
    assert frame["bucket_at"].unique().to_list() == [at(0)]
    assert frame["event_count"].sum() == 30


@pytest.mark.parametrize("every", ["1 minute", "0m", "5x", "1m; DROP TABLE events", "", "99999s"])
def test_timeline_refuses_a_bucket_width_it_cannot_read(con, every: str) -> None:
    with pytest.raises(UsageError, match="bucket width"):
        toolkit.timeline(con, SESSION, every=every)


def test_bucket_widths_are_read_as_seconds() -> None:
    assert [parse_every(w) for w in ("30s", "1m", "15m", "2h", "1d")] == [
        30,
        60,
        900,
        7200,
        86400,
    ]


def test_user_activity_counts_what_each_user_did(con) -> None:
    users = by(toolkit.user_activity(con, SESSION), "user_id")
    assert users["u-alice"]["questions_asked"] == 1 and users["u-alice"]["poll_answers"] == 3
    assert users["u-carol"]["upvotes"] == 1 and users["u-carol"]["replies"] == 1
    assert users["u-carol"]["display_name"] == "Carol (unverified)"
    assert users["u-mod"]["moderation_actions"] == 4 and users["u-mod"]["deletions"] == 1
    assert users["u-host"]["display_name"] == "Hannah Host"
    assert users["u-mallory"]["display_name"] == HOSTILE


def test_user_activity_counts_anonymous_posts_under_anonymous_unless_revealed(con) -> None:
    masked = by(toolkit.user_activity(con, SESSION), "user_id")
    assert "u-bob" not in masked
    assert masked["anonymous"]["questions_asked"] == 1
    assert masked["anonymous"]["display_name"] is None
    revealed = by(toolkit.user_activity(con, SESSION, reveal_anonymous=True), "user_id")
    assert "anonymous" not in revealed
    assert revealed["u-bob"]["event_count"] == 4 and revealed["u-bob"]["deletions"] == 1


def test_user_activity_without_a_session_covers_every_session(con) -> None:
    users = by(toolkit.user_activity(con), "user_id")
    assert users["u-alice"]["questions_asked"] == 2 and users["u-alice"]["session_count"] == 2


def test_qa_questions_show_author_status_votes_flags_and_moderation(con) -> None:
    questions = by(toolkit.qa_questions(con, SESSION), "question_id")
    q1 = questions["q1"]
    assert (q1["author"], q1["asked_at"], q1["status"], q1["upvotes"]) == (
        "Alice",
        at(1),
        "public",
        1,
    )
    assert q1["moderation_count"] == 2 and q1["moderated_by"] == "u-host, u-mod"
    assert q1["moderation_actions"] == "approve by u-mod; answer by u-host"
    assert questions["q3"]["profanity_count"] == 1
    assert list(questions) == ["q1", "q2", "q3"]


def test_qa_questions_mask_the_anonymous_author_unless_revealed(con) -> None:
    q2 = by(toolkit.qa_questions(con, SESSION), "question_id")["q2"]
    assert (q2["author"], q2["author_user_id"], q2["posted_by_user_id"]) == (
        "anonymous",
        None,
        None,
    )
    assert q2["deleted_by"] == "anonymous (the author)"
    shown = by(toolkit.qa_questions(con, SESSION, reveal_anonymous=True), "question_id")["q2"]
    assert (shown["posted_by_user_id"], shown["deleted_by"]) == ("u-bob", "u-bob")


def test_deleted_by_is_the_actor_of_the_first_deleted_version(con) -> None:
    q3 = by(toolkit.qa_questions(con, SESSION), "question_id")["q3"]
    assert (q3["is_deleted"], q3["deleted_by"], q3["deleted_at"]) == (True, "u-mod", at(6))
    assert q3["author_user_id"] == "u-mallory"


def test_question_replies_show_guest_names_as_unverified(con) -> None:
    replies = by(toolkit.question_replies(con, SESSION), "reply_id")
    assert replies["r2"]["author"] == "Carol (unverified)"
    assert replies["r1"]["author"] == "Hannah Host" and replies["r1"]["question_id"] == "q1"


def test_moderation_log_lists_actions_status_changes_and_moderator_deletions(con) -> None:
    log = toolkit.moderation_log(con, SESSION)
    steps = set(log.select("actor_user_id", "action", "question_id").iter_rows())
    assert steps == {
        ("u-mod", "approve", "q1"),
        ("u-mod", "status in-review -> public", "q1"),
        ("u-host", "answer", "q1"),
        ("u-mod", "delete question", "q3"),
    }
    assert log["moderated_at"].is_sorted()


def test_moderation_log_leaves_out_upvotes_and_self_deletions(con) -> None:
    log = toolkit.moderation_log(con, SESSION)
    assert "upvote" not in log["action"].to_list()
    assert "q2" not in log["question_id"].to_list()


def test_deleted_content_lists_every_deleted_item_with_who_deleted_it(con) -> None:
    deleted = by(toolkit.deleted_content(con, SESSION), "item_id")
    assert set(deleted) == {"q2", "q3", "a5"}
    assert (deleted["q3"]["kind"], deleted["q3"]["deleted_by"]) == ("question", "u-mod")
    assert (deleted["a5"]["kind"], deleted["a5"]["deleted_by"]) == ("poll_answer", "u-carol")
    assert deleted["a5"]["text"] == "Yes" and deleted["a5"]["deleted_at"] == at(12, 30)
    assert (deleted["q2"]["author"], deleted["q2"]["deleted_by"]) == (
        "anonymous",
        "anonymous (the author)",
    )


def test_poll_results_count_only_current_answers_not_deleted_or_rejected(con) -> None:
    results = toolkit.poll_results(con, "p1")
    assert results.select("option_title", "votes", "respondents").rows() == [
        ("Yes", 1, 1),
        ("No", 0, 1),
        (HOSTILE, 0, 1),
    ]
    assert results["poll_title"].unique().to_list() == ["Approve the minutes of March?"]


def test_poll_results_without_a_poll_cover_every_poll(con) -> None:
    assert toolkit.poll_results(con)["poll_id"].unique().to_list() == ["p1"]


def test_polls_overview_counts_resets_rejections_deletions_and_late_edits(con) -> None:
    p1 = by(toolkit.polls_overview(con, SESSION), "poll_id")["p1"]
    assert (p1["answer_count"], p1["respondent_count"], p1["stored_answer_count"]) == (1, 1, 6)
    assert (p1["rejected_answer_count"], p1["deleted_answer_count"]) == (1, 1)
    assert (p1["reset_count"], p1["edits_after_answers"], p1["activation_count"]) == (1, 1, 1)
    assert (p1["created_by"], p1["option_count"]) == ("u-host", 3)


def test_poll_history_shows_the_reset_and_the_edit_after_answers(con) -> None:
    history = toolkit.poll_history(con, SESSION, "p1")
    assert history.select("changes", "answers_before", "is_edit_after_answers").rows() == [
        ("created", 0, False),
        ("results reset", 3, False),
        ("wording edited", 6, True),
    ]


def test_poll_responses_show_what_each_respondent_answered(con) -> None:
    answers = by(toolkit.poll_responses(con, SESSION), "poll_answer_id")
    assert (answers["a4"]["respondent"], answers["a4"]["chosen_options"]) == ("u-alice", "Yes")
    assert answers["a1"]["is_current_result"] is False
    assert answers["t2"]["respondent"] == "anonymous"
    assert answers["t2"]["answer_text"] == "More coffee"


def test_rejected_answers_name_the_reviewer(con) -> None:
    rejected = toolkit.rejected_answers(con, SESSION)
    assert rejected.select("poll_answer_id", "respondent", "reviewed_by_user_id").rows() == [
        ("a6", "u-mallory", "u-mod"),
    ]


def test_sync_history_lists_the_runs_of_the_session(con) -> None:
    runs = toolkit.sync_history(con, SESSION)
    assert runs.select("sync_id", "status", "events_new").rows() == [(1, "ok", 35)]


def test_unknown_types_and_rejected_items_are_reported(con) -> None:
    assert toolkit.unknown_event_types(con, SESSION)["event_type"].to_list() == ["mysteryWidget"]
    assert toolkit.rejected_items(con, SESSION)["reason"].to_list() == ["item is not an object"]
    assert toolkit.rejected_items(con, OTHER_SESSION).is_empty()


def test_audit_summary_gives_headline_figures_and_the_digest(con) -> None:
    row = toolkit.audit_summary(con, SESSION).row(0, named=True)
    assert (row["event_count"], row["duration_seconds"], row["deleted_item_count"]) == (30, 950, 3)
    assert (row["moderation_count"], row["unknown_event_count"]) == (5, 1)
    assert row["rejected_item_count"] == 1
    assert row["event_digest"] == toolkit.event_digest(con, SESSION)


def test_event_digest_is_sha256_of_the_sorted_ids_joined_by_line_feeds(con) -> None:
    expected = hashlib.sha256("\n".join(sorted(scenario_event_ids())).encode()).hexdigest()
    assert toolkit.event_digest(con, SESSION) == expected


def test_event_digest_agrees_with_its_sql_definition(con) -> None:
    row = con.execute(
        "SELECT sha256(string_agg(event_id, chr(10) ORDER BY event_id)) FROM events "
        "WHERE session_id = ?",
        [SESSION],
    ).fetchall()
    assert toolkit.event_digest(con, SESSION) == row[0][0]


def test_event_digest_of_a_session_without_events_is_the_digest_of_nothing(con) -> None:
    assert toolkit.event_digest(con, "no-such-session") == hashlib.sha256(b"").hexdigest()


HELPERS_BY_SESSION = [
    toolkit.timeline,
    toolkit.qa_questions,
    toolkit.question_replies,
    toolkit.moderation_log,
    toolkit.deleted_content,
    toolkit.polls_overview,
    toolkit.poll_history,
    toolkit.poll_responses,
    toolkit.rejected_answers,
    toolkit.sync_history,
    toolkit.audit_summary,
    toolkit.user_activity,
    toolkit.unknown_event_types,
    toolkit.rejected_items,
]


@pytest.mark.parametrize("helper", HELPERS_BY_SESSION, ids=lambda h: h.__name__)
def test_a_quoted_session_id_is_bound_so_it_matches_nothing(con, helper) -> None:
    assert helper(con, INJECTION).is_empty()


def test_a_quoted_poll_id_is_bound_so_it_matches_nothing(con) -> None:
    assert toolkit.poll_results(con, INJECTION).is_empty()


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_any_session_id_text_is_a_value_never_sql(con, session_id: str) -> None:
    if session_id not in (SESSION, OTHER_SESSION):
        assert toolkit.qa_questions(con, session_id).is_empty()
        assert toolkit.event_digest(con, session_id) == hashlib.sha256(b"").hexdigest()


def test_helpers_answer_an_empty_database_with_empty_frames(tmp_path: Path) -> None:
    con = toolkit.connect(tmp_path / "empty.duckdb")
    try:
        assert toolkit.sessions(con).is_empty()
        assert toolkit.user_activity(con).is_empty()
        assert toolkit.poll_results(con).is_empty()
        assert all(helper(con, SESSION).is_empty() for helper in HELPERS_BY_SESSION)
    finally:
        con.close()


PROPERTIES = st.sampled_from(
    [
        "createdAtMs",
        "modifiedAtMs",
        "isDeleted",
        "isAnonymous",
        "questionId",
        "replyId",
        "pollId",
        "pollAnswerId",
        "pollResultId",
        "activePollResultId",
        "activePollId",
        "userId",
        "user",
        "options",
        "questions",
        "questionAnswers",
        "approval",
        "action",
        "status",
        "text",
        "title",
    ]
)
TYPES = st.sampled_from([*EVENT_TYPES, "somethingNew"])
ANALYSIS_VIEWS = [
    "event_activity",
    "resource_lifecycle",
    "user_names",
    "session_activity",
    "poll_changes",
    "poll_answer_rejections",
    "poll_answer_contents",
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = toolkit.connect(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb")
    yield connection
    connection.close()


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20")), deadline=None)
@given(
    st.lists(
        st.tuples(TYPES, st.dictionaries(PROPERTIES, JSON_VALUES, max_size=6)),
        min_size=1,
        max_size=6,
    )
)
def test_every_analysis_view_and_helper_reads_any_json_without_an_error(scratch, drafts) -> None:
    clear_events(scratch)
    insert_events(
        scratch,
        [envelope({**data, "type": kind}, T0 + n * 1000) for n, (kind, data) in enumerate(drafts)],
    )
    for view in ANALYSIS_VIEWS:
        scratch.execute(f"SELECT * FROM {view}").fetchall()
    for helper in HELPERS_BY_SESSION:
        helper(scratch, SESSION)
    toolkit.poll_results(scratch)


def named_question(question_id: str, user_id: str, name: str, at_ms: int) -> dict:
    data = _question(question_id, "Who am I?", _user(user_id, name), at_ms, at_ms)
    return envelope(data, at_ms, user=user_id)


def test_names_read_once_serves_one_snapshot_then_the_view_again(tmp_path: Path) -> None:
    con = toolkit.connect(tmp_path / "names.duckdb")
    insert_events(con, [named_question("q1", "u-ann", "Ann", T0)])
    with names_read_once(con):
        insert_events(con, [named_question("q2", "u-ann", "Ann Lee", T0 + 1000)])
        # the helpers read the snapshot taken on entering: the older name
        assert toolkit.user_activity(con, SESSION)["display_name"].to_list() == ["Ann"]
    assert toolkit.user_activity(con, SESSION)["display_name"].to_list() == ["Ann Lee"]
    assert con.sql("SELECT * FROM duckdb_tables() WHERE temporary").fetchall() == []


def test_names_read_once_drops_its_table_on_an_error_and_leaves_a_taken_name(
    tmp_path: Path,
) -> None:
    con = toolkit.connect(tmp_path / "names.duckdb")
    insert_events(con, [named_question("q1", "u-ann", "Ann", T0)])
    with pytest.raises(ZeroDivisionError), names_read_once(con):
        _ = 1 / 0
    assert con.sql("SELECT * FROM duckdb_tables() WHERE temporary").fetchall() == []
    con.execute("CREATE TEMP TABLE user_names (user_id VARCHAR, display_name VARCHAR)")
    with names_read_once(con):
        assert con.sql("SELECT count(*) FROM user_names").fetchall() == [(0,)]
    assert con.sql("SELECT count(*) FROM temp.user_names").fetchall() == [(0,)]


def test_names_read_once_works_on_a_read_only_connection(tmp_path: Path) -> None:
    path = tmp_path / "names.duckdb"
    writer = toolkit.connect(path)
    insert_events(writer, [named_question("q1", "u-ann", "Ann", T0)])
    writer.close()
    con = toolkit.connect(path, read_only=True)  # as the report command opens it
    with names_read_once(con):
        temporary = "SELECT table_name FROM duckdb_tables() WHERE temporary"
        assert con.sql(temporary).fetchall() == [("user_names",)]
        assert toolkit.user_activity(con, SESSION)["display_name"].to_list() == ["Ann"]
    assert con.sql(temporary).fetchall() == []


def answers(con: duckdb.DuckDBPyConnection, session: str, reveal: bool) -> dict[str, pl.DataFrame]:
    """What each helper a session's report calls answers about `session`."""
    masked = ("qa_questions", "question_replies", "moderation_log", "deleted_content")
    masked += ("poll_responses", "rejected_answers", "user_activity")
    out = {n: getattr(toolkit, n)(con, session, reveal_anonymous=reveal) for n in masked}
    out |= {n: getattr(toolkit, n)(con, session) for n in ("polls_overview", "poll_history")}
    out["poll_results"] = toolkit.poll_results(con, session_id=session)
    return out


@pytest.mark.parametrize("reveal", [False, True])
def test_session_read_once_answers_each_helper_as_the_views_do(con, reveal: bool) -> None:
    for session in (SESSION, OTHER_SESSION):
        before = answers(con, session, reveal)
        with session_read_once(con, session):
            temporary = con.sql("SELECT table_name FROM duckdb_tables() WHERE temporary")
            # every snapshot is made: one missing a column a view after it reads would not be
            assert {*SESSION_VIEWS, "user_names"} == set(temporary.pl()[:, 0])
            during = answers(con, session, reveal)
        for name, frame in before.items():  # same rows, same order, same types
            assert_frame_equal(during[name], frame)
    assert con.sql("SELECT * FROM duckdb_tables() WHERE temporary").fetchall() == []


# audit_summary as one SQL over the session_activity view, before it read the store
SUMMARY_FROM_THE_VIEW = """
SELECT s.session_org_id, s.session_id, s.first_event_at, s.last_event_at,
    date_diff('second', s.first_event_at, s.last_event_at) AS duration_seconds, s.event_count,
    coalesce(a.actor_count, 0) AS actor_count, coalesce(a.question_count, 0) AS question_count,
    coalesce(a.reply_count, 0) AS reply_count, coalesce(a.upvote_count, 0) AS upvote_count,
    coalesce(a.poll_count, 0) AS poll_count, coalesce(a.poll_answer_count, 0) AS poll_answer_count,
    coalesce(a.moderation_count, 0) AS moderation_count,
    coalesce(a.deleted_item_count, 0) AS deleted_item_count,
    coalesce(a.unknown_event_count, 0) AS unknown_event_count,
    s.sync_count, s.last_sync_at, s.last_status, s.last_error, s.last_ok_sync_at,
    s.is_settled, s.resync_after, m.title, m.host_email, m.host_display_name,
    m."start" AS scheduled_start, m."end" AS scheduled_end
FROM session_status AS s
LEFT JOIN session_activity AS a
    ON a.session_org_id = s.session_org_id AND a.session_id = s.session_id
LEFT JOIN meetings AS m ON m.session_id = s.session_id
WHERE s.session_id = $session_id
"""


def test_audit_summary_reads_the_stored_counts_only_while_they_are_current(
    tmp_path: Path,
) -> None:
    con = toolkit.connect(build_database(tmp_path / "summary.duckdb"))
    for refreshed in (False, True, "stale"):
        if refreshed is True:
            ledger.refresh_sessions_activity(con, [(ORG, SESSION), (ORG, OTHER_SESSION)])
        if refreshed == "stale":  # a count behind the events: computed again, not read
            con.execute("UPDATE session_activity_store SET question_count = 99")
            con.execute("UPDATE session_activity_store SET event_count = event_count - 1")
            # ... and its events not marked as counted: the view computes them too
            con.execute("DELETE FROM derived_marks WHERE source = 'events'")
        for session in (SESSION, OTHER_SESSION, "no-such-session"):
            summary = toolkit.audit_summary(con, session)
            expected = con.sql(SUMMARY_FROM_THE_VIEW, params={"session_id": session}).pl()
            assert_frame_equal(summary.drop("rejected_item_count", "event_digest"), expected)
    con.close()
