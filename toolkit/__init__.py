"""Keep and audit the record of Slido activity in Webex meetings, in one DuckDB file.

The public Python API: `connect()` opens the database, and the helpers take its
connection and return polars DataFrames.

Example:
    >>> import toolkit
    >>> con = toolkit.connect("data/compliance.duckdb", read_only=True)  # doctest: +SKIP
    >>> toolkit.qa_questions(con, "SID")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names load on first use, so the command line (sync above all) does not pay for
# polars when it does not need it.
_WHERE = {
    "Secret": "config",
    "SessionRef": "config",
    "SyncOptions": "sync",
    "SyncResult": "sync",
    "audit_summary": "queries",
    "connect": "db",
    "deleted_content": "queries",
    "event_digest": "queries",
    "moderation_log": "queries",
    "poll_history": "queries",
    "poll_responses": "queries",
    "poll_results": "queries",
    "polls_overview": "queries",
    "qa_questions": "queries",
    "query": "_query",
    "question_replies": "queries",
    "rejected_answers": "queries",
    "rejected_items": "queries",
    "run_sql": "queries",
    "sessions": "queries",
    "sync_history": "queries",
    "sync_sessions": "sync",
    "timeline": "queries",
    "unknown_event_types": "queries",
    "user_activity": "queries",
}

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
