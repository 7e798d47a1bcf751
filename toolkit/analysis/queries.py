"""Helpers that answer a records officer's questions, each returning a polars DataFrame.

Every helper takes a connection from `toolkit.connect`, runs fixed SELECT
statements and binds its arguments as parameters; nothing a caller passes is
ever spliced into SQL text. Anonymous posts are masked unless a helper is asked
with `reveal_anonymous=True`: the API tells us who really posted them (the
event's `userId`), and only an explicit request shows it.

Q&A helpers live in `toolkit.analysis.qa`, poll helpers in `toolkit.analysis.polls`
and the ad hoc `run_sql` in `toolkit.analysis.adhoc`; all are importable from here.
"""

from __future__ import annotations

import hashlib
import re

import duckdb
import polars as pl

from toolkit.analysis.adhoc import run_sql
from toolkit.analysis.polls import (
    poll_history,
    poll_responses,
    poll_results,
    polls_overview,
    rejected_answers,
)
from toolkit.analysis.qa import deleted_content, moderation_log, qa_questions, question_replies
from toolkit.analysis.query import KNOWN_EVENT_TYPES, Source, fetch, using
from toolkit.errors import UsageError

__all__ = [
    "KNOWN_EVENT_TYPES",
    "audit_summary",
    "deleted_content",
    "event_digest",
    "moderation_log",
    "parse_every",
    "poll_history",
    "poll_responses",
    "poll_results",
    "polls_overview",
    "qa_questions",
    "question_replies",
    "rejected_answers",
    "rejected_items",
    "run_sql",
    "sessions",
    "sync_history",
    "timeline",
    "unknown_event_types",
    "user_activity",
]

_EVERY = re.compile(r"([1-9][0-9]{0,3})(s|m|h|d)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DIGEST_CHUNK = 10_000


def sessions(con: Source) -> pl.DataFrame:
    """One row per session: ids, first and last event, counts, actors and sync status.

    `is_settled` is true when the last successful sync started at least 15 minutes
    after the newest event (see `session_status`); `resync_after` says when to sync
    again otherwise. `title`, `host_email`, `host_display_name`, `scheduled_start`
    and `scheduled_end` come from `meetings`, NULL where `discover` has not found it.

    Example:
        >>> sessions(con).select("session_id", "event_count", "is_settled")  # doctest: +SKIP
    """
    with using(con) as held:  # its three questions see one committed state
        return _sessions(held)


# the counts of `session_activity` that `sessions()` shows, in its column order
_COUNTS = (
    "actor_count",
    "question_count",
    "reply_count",
    "upvote_count",
    "poll_count",
    "poll_answer_count",
    "moderation_count",
    "deleted_item_count",
)


def _sessions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    status = fetch(
        con,
        """
        SELECT session_org_id, session_id, first_event_at, last_event_at, event_count,
            sync_count, last_sync_at, last_status, last_ok_sync_at, is_settled, resync_after
        FROM session_status
        """,
    )
    keys = ["session_org_id", "session_id"]
    meetings = fetch(
        con,
        """
        SELECT session_id, title, host_email, host_display_name,
            "start" AS scheduled_start, "end" AS scheduled_end
        FROM meetings
        """,
    )
    activity = _session_activity(con, status).drop("event_count", "unknown_event_count")
    counts = [c for c in activity.columns if c.endswith("_count")]
    return (
        status.join(activity, on=keys, how="left")
        .join(meetings, on="session_id", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in counts)
        .select(
            "session_org_id",
            "session_id",
            "first_event_at",
            "last_event_at",
            "event_count",
            *_COUNTS,
            "sync_count",
            "last_sync_at",
            "last_status",
            "last_ok_sync_at",
            "is_settled",
            "resync_after",
            "title",
            "host_email",
            "host_display_name",
            "scheduled_start",
            "scheduled_end",
        )
        .sort(["first_event_at", "session_id", "session_org_id"], nulls_last=True)
    )


def _session_activity(
    con: duckdb.DuckDBPyConnection, status: pl.DataFrame, session_id: str | None = None
) -> pl.DataFrame:
    """The `session_activity` rows: from the store sync keeps where current, else computed.

    A stored row is current while its event_count equals the session's in `status`
    (events only ever grow). A session whose row is missing or behind (events stored
    by other means, or a file from before the store) is computed on its own, which
    reads only its events. With `session_id`, only that session's stored rows are read.
    """
    keys = ["session_org_id", "session_id"]
    counted = status.filter(pl.col("event_count") > 0).select(*keys, "event_count")
    stored = fetch(
        con,
        "SELECT * FROM session_activity_store WHERE $s IS NULL OR session_id = $s",
        {"s": session_id},
    )
    current = stored.join(counted, on=[*keys, "event_count"], how="semi")
    computed = [
        fetch(
            con,
            "SELECT * FROM session_activity_in(false) "
            "WHERE session_org_id = $o AND session_id = $s",
            {"o": org, "s": session},
        )
        for org, session in counted.join(current, on=keys, how="anti").select(keys).iter_rows()
    ]
    return pl.concat([current, *computed])


def parse_every(every: str) -> int:
    """The bucket width `every` ("30s", "1m", "15m", "1h", "1d") in seconds.

    Raises:
        UsageError: for anything else: a number from 1 to 9999 and one of s, m, h, d.

    Example:
        >>> parse_every("15m")
        900
    """
    match = _EVERY.fullmatch(every.strip()) if isinstance(every, str) else None
    if not match:
        raise UsageError(
            f"bucket width {every!r} is not a number and a unit, such as 30s, 1m, 15m, 1h or 1d"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def timeline(con: Source, session_id: str, every: str = "1m") -> pl.DataFrame:
    """Events per time bucket and event type, for buckets that have events (UTC).

    Args:
        con: an open connection.
        session_id: the session.
        every: the bucket width, such as "30s", "1m", "15m", "1h" (see `parse_every`).

    Example:
        >>> timeline(con, "SID", every="5m")  # doctest: +SKIP
        bucket_at | event_type | event_count
    """
    return fetch(
        con,
        """
        SELECT time_bucket(to_seconds(CAST($seconds AS BIGINT)), e.event_at) AS bucket_at,
            e.event_type, count(*) AS event_count
        FROM event_fields AS e  -- every event, read from the session's typed rows
        WHERE e.session_id = $session_id
        GROUP BY ALL
        ORDER BY bucket_at, e.event_type
        """,
        {"seconds": parse_every(every), "session_id": session_id},
    )


def user_activity(
    con: Source, session_id: str | None = None, reveal_anonymous: bool = False
) -> pl.DataFrame:
    """Per user (the acting `userId`): what they did, first and last seen, known name.

    What an anonymous author did to their own anonymous post (posting, editing or
    deleting it) is counted under the user `anonymous` unless `reveal_anonymous`.

    Args:
        con: an open connection.
        session_id: one session, or None for all sessions.
        reveal_anonymous: attribute anonymous posts to the real actor.

    Example:
        >>> user_activity(con, "SID").select("user_id", "questions_asked")  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        WITH acts AS (
            SELECT a.*, CASE WHEN a.is_anonymous_author AND NOT $reveal THEN 'anonymous'
                ELSE a.actor_user_id END AS user_id
            FROM event_activity AS a
            WHERE $session_id IS NULL OR a.session_id = $session_id
        )
        SELECT acts.user_id, any_value(n.display_name) AS display_name,
            count(*) AS event_count,
            count(*) FILTER (WHERE activity = 'question') AS questions_asked,
            count(*) FILTER (WHERE activity = 'reply') AS replies,
            count(*) FILTER (WHERE activity = 'upvote') AS upvotes,
            count(*) FILTER (WHERE activity = 'upvote_removed') AS upvotes_removed,
            count(*) FILTER (WHERE activity = 'poll_answer') AS poll_answers,
            count(*) FILTER (WHERE is_moderation) AS moderation_actions,
            count(*) FILTER (WHERE activity = 'deletion') AS deletions,
            count(*) FILTER (WHERE activity IN ('poll_created', 'poll_update',
                'poll_activation', 'poll_deactivation', 'settings_change')) AS admin_actions,
            count(DISTINCT session_id) AS session_count,
            min(event_at) AS first_seen_at, max(event_at) AS last_seen_at
        FROM acts
        LEFT JOIN user_names AS n ON n.user_id = acts.user_id AND acts.user_id <> 'anonymous'
        GROUP BY acts.user_id
        ORDER BY event_count DESC, acts.user_id
        """,
        {"session_id": session_id, "reveal": bool(reveal_anonymous)},
    )


def sync_history(con: Source, session_id: str) -> pl.DataFrame:
    """Every sync run of a session, oldest first: when, from where, what it stored, outcome.

    Example:
        >>> sync_history(con, "SID").select("sync_id", "status", "events_new")  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        SELECT sync_id, session_org_id, session_id, base_url, started_at, finished_at,
            pages, events_received, events_new, events_rejected, status, error
        FROM sync_runs
        WHERE session_id = $session_id
        ORDER BY started_at, sync_id
        """,
        {"session_id": session_id},
    )


def unknown_event_types(con: Source, session_id: str | None = None) -> pl.DataFrame:
    """Stored events whose `data.type` is none of the nine documented types, by type.

    Example:
        >>> unknown_event_types(con, "SID")  # doctest: +SKIP
        event_type | event_count | first_event_at | last_event_at
    """
    return fetch(
        con,
        """
        SELECT event_type, count(*) AS event_count,
            min(event_at) AS first_event_at, max(event_at) AS last_event_at
        FROM events
        WHERE ($session_id IS NULL OR session_id = $session_id)
            AND NOT list_contains($known, event_type)
        GROUP BY event_type
        ORDER BY event_type
        """,
        {"session_id": session_id, "known": list(KNOWN_EVENT_TYPES)},
    )


def rejected_items(con: Source, session_id: str | None = None) -> pl.DataFrame:
    """Items the API sent that could not be stored as events, for a session or all.

    An item belongs to a session when it names it, or when it has no readable
    session and arrived in one of that session's syncs.

    Example:
        >>> rejected_items(con, "SID").select("received_at", "reason")  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        SELECT r.sync_id, r.received_at, r.reason, r.session_org_id,
            coalesce(r.session_id, s.session_id) AS session_id, r.raw_sha256, r.raw
        FROM rejected_events AS r
        LEFT JOIN sync_runs AS s ON s.sync_id = r.sync_id
        WHERE $session_id IS NULL OR coalesce(r.session_id, s.session_id) = $session_id
        ORDER BY r.received_at, r.raw_sha256
        """,
        {"session_id": session_id},
    )


def event_digest(con: Source, session_id: str) -> str:
    """SHA-256 (hex) of the session's stored event ids, so two copies can be compared.

    Defined as: the `event_id`s of every stored event of the session, sorted
    ascending, joined with a single line feed ("\\n", no trailing one), encoded
    as ASCII, hashed with SHA-256. Equal digests mean the same set of events.
    A session with no events has the digest of the empty string. In SQL:
    `sha256(string_agg(event_id, chr(10) ORDER BY event_id))`.

    Example:
        >>> event_digest(con, "SID")  # doctest: +SKIP
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    with using(con) as held:
        return _event_digest(held, session_id)


def _event_digest(con: duckdb.DuckDBPyConnection, session_id: str) -> str:
    digest = hashlib.sha256()
    cursor = con.execute(
        "SELECT event_id FROM session_events($session_id) ORDER BY event_id",
        {"session_id": session_id},
    )
    separator = b""
    while rows := cursor.fetchmany(_DIGEST_CHUNK):
        for (event_id,) in rows:
            digest.update(separator + event_id.encode("ascii"))
            separator = b"\n"
    return digest.hexdigest()


def audit_summary(con: Source, session_id: str) -> pl.DataFrame:
    """One row of headline figures for a session, with the digest of its events.

    The meeting's `title`, `host_email`, `host_display_name`, `scheduled_start` and
    `scheduled_end` come from `meetings`, NULL where `discover` has not found it.

    Example:
        >>> audit_summary(con, "SID").row(0, named=True)["question_count"]  # doctest: +SKIP
        12
    """
    with using(con) as held:  # its questions see one committed state
        return _audit_summary(held, session_id)


_ACTIVITY = (*_COUNTS, "unknown_event_count")  # the counts an audit summary shows


def _audit_summary(con: duckdb.DuckDBPyConnection, session_id: str) -> pl.DataFrame:
    status = fetch(
        con,
        """
        SELECT s.session_org_id, s.session_id, s.first_event_at, s.last_event_at,
            date_diff('second', s.first_event_at, s.last_event_at) AS duration_seconds,
            s.event_count,
            s.sync_count, s.last_sync_at, s.last_status, s.last_error, s.last_ok_sync_at,
            s.is_settled, s.resync_after,
            m.title, m.host_email, m.host_display_name,
            m."start" AS scheduled_start, m."end" AS scheduled_end
        FROM session_status_of($session_id) AS s
        LEFT JOIN meetings AS m ON m.session_id = s.session_id
        """,
        {"session_id": session_id},
    )
    # the counts sync keeps (session_activity_store) where current: one row, not a pass
    # over the session's events with the windows of event_activity
    keys = ["session_org_id", "session_id"]
    activity = _session_activity(con, status, session_id).select(*keys, *_ACTIVITY)
    summary = status.join(activity, on=keys, how="left").with_columns(
        pl.col(c).fill_null(0) for c in _ACTIVITY
    )
    summary = summary.select(*status.columns[:6], *_ACTIVITY, *status.columns[6:])
    rejected = rejected_items(con, session_id).height
    return summary.with_columns(
        pl.lit(rejected, dtype=pl.Int64).alias("rejected_item_count"),
        pl.lit(event_digest(con, session_id)).alias("event_digest"),
    )
