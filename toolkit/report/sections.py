"""The sections of a session's audit report, each built from the query helpers' frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from toolkit.analysis import queries as q
from toolkit.report.model import Section, Table, duration_text, facts, table_from_frame

DIGEST_RULE = (
    "SHA-256 of the session's event ids (each the SHA-256 of its event's canonical JSON), "
    "sorted ascending and joined with line feeds"
)


@dataclass(frozen=True)
class SessionData:
    """Every frame a session report draws on, fetched once."""

    summary: dict[str, Any]
    questions: pl.DataFrame
    replies: pl.DataFrame
    moderation: pl.DataFrame
    deleted: pl.DataFrame
    polls: pl.DataFrame
    results: pl.DataFrame
    answers: pl.DataFrame
    history: pl.DataFrame
    rejected: pl.DataFrame
    users: pl.DataFrame
    syncs: pl.DataFrame
    unknown: pl.DataFrame
    rejected_items: pl.DataFrame


def fetch_session(
    con: duckdb.DuckDBPyConnection, session_id: str, summary: dict[str, Any], reveal: bool
) -> SessionData:
    """Run every helper the report needs for one session."""
    return SessionData(
        summary=summary,
        questions=q.qa_questions(con, session_id, reveal),
        replies=q.question_replies(con, session_id, reveal),
        moderation=q.moderation_log(con, session_id, reveal),
        deleted=q.deleted_content(con, session_id, reveal),
        polls=q.polls_overview(con, session_id),
        results=q.poll_results(con, session_id=session_id),
        answers=q.poll_responses(con, session_id, reveal_anonymous=reveal),
        history=q.poll_history(con, session_id),
        rejected=q.rejected_answers(con, session_id, reveal),
        users=q.user_activity(con, session_id, reveal),
        syncs=q.sync_history(con, session_id),
        unknown=q.unknown_event_types(con, session_id),
        rejected_items=q.rejected_items(con, session_id),
    )


def _count(df: pl.DataFrame, column: str) -> int:
    """Rows where a boolean column is true."""
    return int(df.get_column(column).fill_null(False).sum()) if df.height else 0


def _total(df: pl.DataFrame, column: str) -> int:
    return int(df.get_column(column).sum()) if df.height else 0


def overview_section(data: SessionData, by_type: pl.DataFrame) -> Section:
    """Who, when, how much: the session's headline figures and its events by type."""
    s = data.summary
    figures = facts(
        [
            ("Session", s["session_id"]),
            ("Organisation", s["session_org_id"]),
            ("First event", s["first_event_at"]),
            ("Last event", s["last_event_at"]),
            ("Duration", duration_text(s["duration_seconds"])),
            ("Events stored", s["event_count"]),
            ("Distinct actors", s["actor_count"]),
            ("Questions", s["question_count"]),
            ("Replies", s["reply_count"]),
            ("Upvotes", s["upvote_count"]),
            ("Polls", s["poll_count"]),
            ("Poll answers", s["poll_answer_count"]),
            ("Moderation steps", s["moderation_count"]),
            ("Deleted items", s["deleted_item_count"]),
        ]
    )
    types = table_from_frame(
        "events_by_type",
        "Events by type",
        by_type,
        {"event_type": "Event type", "event_count": "Events"},
    )
    return Section("overview", "Overview", facts=figures, tables=(types,))


QUESTION_COLUMNS = {
    "asked_at": "Asked at",
    "question_id": "Question",
    "author": "Author",
    "posted_by_user_id": "Posted by (user id)",
    "is_anonymous": "Anonymous",
    "text": "Text",
    "status": "Status",
    "archived_status": "Archived",
    "upvotes": "Upvotes",
    "reply_count": "Replies",
    "profanity_count": "Profanity flags",
    "moderation_actions": "Moderation decisions",
    "is_deleted": "Deleted",
    "deleted_by": "Deleted by",
    "deleted_at": "Deleted at",
}
REPLY_COLUMNS = {
    "replied_at": "Replied at",
    "reply_id": "Reply",
    "question_id": "Question",
    "author": "Author",
    "is_anonymous": "Anonymous",
    "text": "Text",
    "is_deleted": "Deleted",
    "deleted_by": "Deleted by",
    "deleted_at": "Deleted at",
}
MODERATION_COLUMNS = {
    "moderated_at": "At",
    "actor_user_id": "Actor",
    "actor_name": "Actor name",
    "action": "Action",
    "question_id": "Question",
    "reply_id": "Reply",
    "question_text": "Question text",
}


def qa_section(data: SessionData, reveal: bool) -> Section:
    """Every question and reply, with authors, moderation decisions and deletions."""
    questions, replies = data.questions, data.replies
    figures = facts(
        [
            ("Questions", questions.height),
            ("Anonymous questions", _count(questions, "is_anonymous")),
            ("Deleted questions", _count(questions, "is_deleted")),
            ("Questions flagged for profanity", int((questions["profanity_count"] > 0).sum())),
            ("Replies", replies.height),
            ("Deleted replies", _count(replies, "is_deleted")),
            ("Q&A moderation steps", data.moderation.height),
        ]
    )
    text = (
        "Anonymous posts are shown with the real actor, from the event envelope's userId."
        if reveal
        else "Authors of anonymous posts are shown as 'anonymous'; the record holds the real actor."
    )
    tables = (
        table_from_frame("questions", "Questions", questions, QUESTION_COLUMNS),
        table_from_frame("replies", "Replies", replies, REPLY_COLUMNS),
        table_from_frame(
            "moderation_log",
            "Moderation log",
            data.moderation,
            MODERATION_COLUMNS,
            "Question actions other than upvotes, status changes, and deletions "
            "by someone other than the poster.",
        ),
    )
    return Section("qa", "Questions and answers", text, figures, tables)


POLL_COLUMNS = {
    "title": "Poll",
    "poll_id": "Poll id",
    "poll_type": "Type",
    "question_type": "Question type",
    "created_at": "Created at",
    "created_by": "Created by",
    "answer_count": "Counted answers",
    "respondent_count": "Respondents",
    "rejected_answer_count": "Rejected answers",
    "deleted_answer_count": "Deleted answers",
    "reset_count": "Resets",
    "edits_after_answers": "Edits after answers",
    "is_locked": "Locked",
    "is_deleted": "Deleted",
}
RESULT_COLUMNS = {
    "question_title": "Question",
    "option_title": "Option",
    "is_correct": "Correct",
    "votes": "Votes",
    "respondents": "Respondents",
    "percent_of_respondents": "% of respondents",
}
ANSWER_COLUMNS = {
    "poll_title": "Poll",
    "poll_answer_id": "Answer",
    "answered_at": "Answered at",
    "respondent": "Respondent",
    "chosen_options": "Chose",
    "answer_text": "Text",
    "is_current_result": "In current result",
    "is_deleted": "Deleted",
    "is_rejected": "Rejected",
}
CHANGE_COLUMNS = {
    "poll_id": "Poll id",
    "changed_at": "Changed at",
    "changed_by": "Changed by",
    "changes": "Changes",
    "title": "Title after",
    "answers_before": "Answers before",
    "is_edit_after_answers": "Edit after answers",
}
REJECTED_COLUMNS = {
    "poll_title": "Poll",
    "poll_answer_id": "Answer",
    "respondent": "Respondent",
    "chosen_options": "Chose",
    "answer_text": "Text",
    "reviewed_by_user_id": "Rejected by",
    "reviewed_at": "Rejected at",
    "rejected_question_ids": "Rejected survey questions",
}


def polls_section(data: SessionData) -> Section:
    """Each poll with its options and results, answers, resets, rejections and edits."""
    polls = data.polls
    figures = facts(
        [
            ("Polls", polls.height),
            ("Poll answers stored", _total(polls, "stored_answer_count")),
            ("Answers counted in current results", _total(polls, "answer_count")),
            ("Result resets", _total(polls, "reset_count")),
            ("Rejected answers", data.rejected.height),
            ("Deleted answers", _total(polls, "deleted_answer_count")),
            ("Edits after answers arrived", _total(polls, "edits_after_answers")),
        ]
    )
    tables = [table_from_frame("polls", "Polls", polls, POLL_COLUMNS)]
    tables.extend(_result_tables(data))
    changes = data.history.filter(pl.col("version_number") > 1)
    tables += [
        table_from_frame("poll_answers", "Poll answers", data.answers, ANSWER_COLUMNS),
        table_from_frame(
            "poll_changes",
            "Poll changes",
            changes,
            CHANGE_COLUMNS,
            "Every version after the first: resets, edits, locks, deletions.",
        ),
        table_from_frame("rejected_answers", "Rejected answers", data.rejected, REJECTED_COLUMNS),
    ]
    return Section("polls", "Polls", facts=figures, tables=tuple(tables))


def _result_tables(data: SessionData) -> list[Table]:
    tables = []
    for poll in data.polls.iter_rows(named=True):
        rows = data.results.filter(pl.col("poll_id") == poll["poll_id"])
        if rows.height:
            title = f"Results: {poll['title'] or poll['poll_id']}"
            note = f"Current result {poll['active_poll_result_id']}."
            key = f"results:{poll['poll_id']}"
            tables.append(table_from_frame(key, title, rows, RESULT_COLUMNS, note))
    return tables


DELETED_COLUMNS = {
    "kind": "Kind",
    "item_id": "Id",
    "deleted_at": "Deleted at",
    "deleted_by": "Deleted by",
    "author": "Author",
    "text": "Text",
    "created_at": "Created at",
    "is_restored": "Restored",
}


def deleted_section(data: SessionData) -> Section:
    """Everything deleted: what, when, by whom, and what it said."""
    kinds = data.deleted.get_column("kind").to_list() if data.deleted.height else []
    figures = facts(
        [
            ("Deleted items", len(kinds)),
            ("Deleted questions", kinds.count("question")),
            ("Deleted replies", kinds.count("reply")),
            ("Deleted polls", kinds.count("poll")),
            ("Deleted poll answers", kinds.count("poll_answer")),
        ]
    )
    table = table_from_frame(
        "deleted_content",
        "Deleted content",
        data.deleted,
        DELETED_COLUMNS,
        "Deleted by: the actor of the first version marked deleted.",
    )
    return Section("deleted", "Deleted content", facts=figures, tables=(table,))


USER_COLUMNS = {
    "user_id": "User",
    "display_name": "Name",
    "event_count": "Events",
    "questions_asked": "Questions",
    "replies": "Replies",
    "upvotes": "Upvotes",
    "poll_answers": "Poll answers",
    "moderation_actions": "Moderation",
    "deletions": "Deletions",
    "admin_actions": "Admin actions",
    "first_seen_at": "First seen",
    "last_seen_at": "Last seen",
}


def activity_section(users: pl.DataFrame, timeline_table: Table | None) -> Section:
    """Activity per user, and events per time bucket (the chart's data)."""
    tables = [table_from_frame("user_activity", "Activity by user", users, USER_COLUMNS)]
    if timeline_table is not None:
        tables.append(timeline_table)
    figures = facts([("Users", users.height)])
    return Section("activity", "Activity", facts=figures, tables=tuple(tables))


SYNC_COLUMNS = {
    "sync_id": "Sync",
    "started_at": "Started at",
    "finished_at": "Finished at",
    "base_url": "API",
    "pages": "Pages",
    "events_received": "Received",
    "events_new": "New",
    "events_rejected": "Rejected",
    "status": "Outcome",
    "error": "Error",
}
UNKNOWN_COLUMNS = {
    "event_type": "Event type",
    "event_count": "Events",
    "first_event_at": "First",
    "last_event_at": "Last",
}
REJECTED_ITEM_COLUMNS = {
    "received_at": "Received at",
    "reason": "Reason",
    "raw_sha256": "SHA-256 of the item",
    "sync_id": "Sync",
}


def completeness_section(data: SessionData) -> Section:
    """The syncs behind the record, whether it is settled, what was not stored, the digest."""
    s = data.summary
    figures = facts(
        [
            ("Settled", s["is_settled"]),
            ("Sync again after", s["resync_after"]),
            ("Sync runs", s["sync_count"]),
            ("Last sync started", s["last_sync_at"]),
            ("Last sync outcome", s["last_status"]),
            ("Last sync error", s["last_error"]),
            ("Last successful sync started", s["last_ok_sync_at"]),
            ("Events stored", s["event_count"]),
            ("Unknown event types", data.unknown.height),
            ("Events of unknown types", _total(data.unknown, "event_count")),
            ("Rejected items", data.rejected_items.height),
            ("Event digest (SHA-256)", s["event_digest"]),
            ("Digest rule", DIGEST_RULE),
        ]
    )
    text = (
        "A session is settled when its last successful sync started at least 15 minutes "
        "after its newest event: the API publishes events up to 15 minutes late."
    )
    tables = (
        table_from_frame("sync_runs", "Sync runs", data.syncs, SYNC_COLUMNS),
        table_from_frame(
            "unknown_event_types", "Unknown event types", data.unknown, UNKNOWN_COLUMNS
        ),
        table_from_frame(
            "rejected_items", "Rejected items", data.rejected_items, REJECTED_ITEM_COLUMNS
        ),
    )
    return Section("completeness", "Completeness and integrity", text, figures, tables)
