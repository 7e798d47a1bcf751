"""Keep and audit the record of Slido activity in Webex meetings, in one DuckDB file.

The public Python API: `open()` returns a handle that opens the database for each
question and closes it after (so a notebook never keeps the nightly sync out);
`connect()` opens a connection kept until closed. The helpers take either and
return polars DataFrames.

Example:
    >>> import toolkit
    >>> rec = toolkit.open("data/compliance.duckdb")  # doctest: +SKIP
    >>> toolkit.qa_questions(rec, "SID")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names load on first use, so the command line (sync above all) does not pay for
# polars when it does not need it.
_WHERE = {
    "Secret": "config",
    "SessionRef": "config",
    "SyncOptions": "ingest.sync",
    "SyncResult": "ingest.sync",
    "audit_summary": "analysis.queries",
    "connect": "store.database",
    "deleted_content": "analysis.queries",
    "event_digest": "analysis.queries",
    "moderation_log": "analysis.queries",
    "open": "store.handle",
    "poll_history": "analysis.queries",
    "poll_responses": "analysis.queries",
    "poll_results": "analysis.queries",
    "polls_overview": "analysis.queries",
    "qa_questions": "analysis.queries",
    "query": "analysis.query",
    "question_replies": "analysis.queries",
    "rejected_answers": "analysis.queries",
    "rejected_items": "analysis.queries",
    "run_sql": "analysis.queries",
    "sessions": "analysis.queries",
    "sync_history": "analysis.queries",
    "sync_sessions": "ingest.sync",
    "timeline": "analysis.queries",
    "unknown_event_types": "analysis.queries",
    "user_activity": "analysis.queries",
}

if TYPE_CHECKING:
    from toolkit.analysis.queries import (
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
    from toolkit.analysis.query import query
    from toolkit.config import Secret, SessionRef
    from toolkit.ingest.sync import SyncOptions, SyncResult, sync_sessions
    from toolkit.store.database import connect
    from toolkit.store.handle import open


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
    "open",
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
