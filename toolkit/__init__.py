"""Keep and audit the record of Slido activity in Webex meetings, in one DuckDB file.

The public Python API: `connect()` opens the database, and the helpers take its
connection and return polars DataFrames.

Example:
    >>> import toolkit
    >>> con = toolkit.connect("data/compliance.duckdb", read_only=True)  # doctest: +SKIP
    >>> toolkit.qa_questions(con, "SID")  # doctest: +SKIP
"""

from __future__ import annotations

from ._query import query
from .config import Secret, SessionRef
from .db import connect
from .queries import (
    audit_summary,
    deleted_content,
    event_digest,
    moderation_log,
    poll_history,
    poll_responses,
    poll_results,
    polls_overview,
    qa_questions,
    question_replies,
    rejected_answers,
    rejected_items,
    run_sql,
    sessions,
    sync_history,
    timeline,
    unknown_event_types,
    user_activity,
)
from .sync import SyncOptions, SyncResult, sync_sessions

__version__ = "0.1.0"

__all__ = [
    "Secret",
    "SessionRef",
    "SyncOptions",
    "SyncResult",
    "__version__",
    "audit_summary",
    "connect",
    "deleted_content",
    "event_digest",
    "moderation_log",
    "poll_history",
    "poll_responses",
    "poll_results",
    "polls_overview",
    "qa_questions",
    "query",
    "question_replies",
    "rejected_answers",
    "rejected_items",
    "run_sql",
    "sessions",
    "sync_history",
    "sync_sessions",
    "timeline",
    "unknown_event_types",
    "user_activity",
]
