"""The one way helpers run SQL: a fixed statement, values bound as `$name` parameters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import polars as pl

from toolkit.store.handle import Reader
from toolkit.store.records import EVENT_TYPES

# what every helper reads from: a connection (`toolkit.connect`), or a handle that opens
# the file for each question and closes it after (`toolkit.open`)
Source = duckdb.DuckDBPyConnection | Reader

KNOWN_EVENT_TYPES = EVENT_TYPES

ANONYMOUS = "anonymous"
ANONYMOUS_AUTHOR = "anonymous (the author)"


def fetch(con: Source, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """Run one SELECT with its values bound (never spliced) and return it as polars.

    With a `toolkit.open` handle the file is opened for this question and closed after
    (unless a block holds it: `using`).

    Example:
        >>> query(con, "SELECT * FROM polls WHERE poll_id = $p", {"p": pid})  # doctest: +SKIP
    """
    with using(con) as connection:
        release(connection)
        return connection.sql(sql, params=params or None).pl()


@contextmanager
def using(source: Source) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for the block: the one given, or the handle's, held for the block.

    Helpers that ask several questions hold one so that their answers agree (one
    committed state of the record), and the report holds one for its whole build.
    """
    if isinstance(source, Reader):
        with source.connection() as con:
            yield con
    else:
        yield source


def release(con: duckdb.DuckDBPyConnection) -> None:
    """Finish a result an earlier `execute()` left unread, which would block `con.sql()`.

    (DuckDB releases whose connections have no `complete()` need nothing here.)
    """
    complete = getattr(con, "complete", None)
    if complete is not None:
        complete()


query = fetch  # the public name: toolkit.query(con, sql, params)


@contextmanager
def names_read_once(source: Source) -> Iterator[None]:
    """Within the block, queries on `con` read `user_names` from one snapshot.

    `user_activity`, `qa_questions` and `moderation_log` all name users; a temporary
    table of the same name, which DuckDB finds before the view, lets them read the
    names once and alike. It is dropped on leaving. If a temporary `user_names` exists
    already, nothing is changed. A `toolkit.open` handle is held open for the block.
    The names are stored since typed storage (`toolkit.store.derived`), so this saves
    little now; a session's report takes `session_read_once`, which includes it.
    """
    with using(source) as con, _names_snapshot(con):
        yield


@contextmanager
def _names_snapshot(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    with _snapshots(con, [("user_names", "SELECT * FROM main.user_names", {})]):
        yield


# The views a session's report reads again and again (each helper recomputes the current
# versions, lifecycles and answer contents of the session), dependencies first: a view
# read after its dependencies' snapshots reads them (DuckDB binds a view's names when
# it is queried, temporary objects first), which is right as all hold this session.
SESSION_VIEWS = (
    "event_fields",
    "polls",
    "poll_answers",
    "poll_answer_reviews",
    "qaa_questions",
    "qaa_question_replies",
    "poll_options",
    "poll_questions",
    "poll_answer_contents",
    "poll_answer_rejections",
    "poll_changes",
    "poll_results",
    "resource_lifecycle",
    "event_activity",
)
# The columns of each that the session helpers, and the views read after it, name (the
# others: all). Writing the ones nobody reads was a third of the snapshot's cost (the
# texts, the window counts). A column missing here fails every query naming it when it
# is bound, whatever the data: tests/test_queries.py runs each helper in the block.
SESSION_COLUMNS = {
    "polls": (
        "session_id, poll_id, created_at, is_deleted, poll_type, question_type, title, "
        "options, is_locked, questions, active_poll_result_id, sort_order, version_count"
    ),
    "poll_answers": (
        "session_id, poll_answer_id, created_at, is_deleted, poll_id, poll_result_id, "
        "respondent_user_id, is_anonymous, text, options, question_answers, actor_user_id, "
        "first_event_at, version_count"
    ),
    "poll_answer_reviews": (
        "session_org_id, session_id, poll_answer_id, is_deleted, poll_id, poll_result_id, "
        "approval, questions, event_at, actor_user_id"
    ),
    "qaa_questions": (
        "session_id, question_id, created_at, is_deleted, text, is_anonymous, archived_status, "
        "profanities, upvotes, reply_count, author_user_id, author_name, "
        "author_unverified_name, status, first_event_at, last_event_at, version_count"
    ),
    "qaa_question_replies": (
        "session_id, reply_id, created_at, is_deleted, question_id, author_user_id, "
        "author_name, author_unverified_name, is_anonymous, text, first_event_at, version_count"
    ),
    "poll_questions": "session_id, poll_id, question_id, sort_order, title",
    "poll_answer_contents": "session_id, poll_answer_id, chosen_options, answer_text",
    "poll_answer_rejections": (
        "session_id, poll_answer_id, poll_id, poll_result_id, reviewed_at, "
        "reviewed_by_user_id, is_whole_answer, rejected_question_ids"
    ),
    "poll_changes": (
        "session_id, poll_id, event_id, event_at, actor_user_id, version_number, title, "
        "active_poll_result_id, is_reset, is_content_edit, changes"
    ),
    "resource_lifecycle": (
        "session_id, event_type, kind, resource_id, question_id, poll_id, first_event_at, "
        "poster_user_id, is_anonymous, last_text, is_deleted, was_ever_deleted, deleted_at, "
        "deleted_by_user_id, is_deleted_by_anonymous_author"
    ),
    "event_activity": (
        "event_id, event_at, session_id, actor_user_id, event_type, resource_id, question_id, "
        "activity, action, status, previous_status, is_moderation, is_anonymous_author"
    ),
}


@contextmanager
def session_read_once(source: Source, session_id: str) -> Iterator[None]:
    """Within the block, queries on `con` about `session_id` read its rows of the views
    in SESSION_VIEWS, and the names of its users (`user_names`), from one snapshot
    computed on entering.

    A session's report runs a dozen helpers, each computing the session's current
    versions, lifecycles and answer contents again: 0.35 s of its 0.85 s at a million
    events (bench/README.md). Temporary tables of the views' names, which DuckDB finds
    before the views, hold the session's rows (every helper asks about one session
    and filters on it, so it sees the same rows); they are dropped on leaving. A name
    taken already by a temporary object is left alone (that view is read as before).
    Only the session helpers' questions about `session_id` may be asked within the
    block: the snapshots hold only the columns they read (SESSION_COLUMNS).
    """
    views = [
        (name, f"SELECT {columns} FROM main.{name} WHERE session_id = $s", {"s": session_id})
        for name in SESSION_VIEWS  # fixed names: nothing a caller passes is spliced
        for columns in [SESSION_COLUMNS.get(name, "*")]
    ]
    names = ("user_names", _SESSION_NAMES, {"s": session_id})  # after the views it reads
    with using(source) as con, _snapshots(con, [*views, names]):
        yield


# The names a session's helpers look up: of its actors (`moderation_log`, `user_activity`)
# and its questions' authors (`qa_questions`). The record's other users are left out: at
# a million events they were 99 % of the names, and their share grows with the record.
_SESSION_NAMES = """
SELECT n.* FROM main.user_names AS n
SEMI JOIN (
    SELECT actor_user_id AS user_id FROM event_activity WHERE session_id = $s
    UNION ALL
    SELECT author_user_id FROM qaa_questions WHERE session_id = $s
) AS i ON i.user_id = n.user_id
"""


@contextmanager
def _snapshots(
    con: duckdb.DuckDBPyConnection, tables: list[tuple[str, str, dict[str, Any]]]
) -> Iterator[None]:
    """Temporary tables (name, SELECT, parameters) for the block, dropped on leaving."""
    release(con)
    made: list[str] = []
    try:
        for name, select, params in tables:
            try:
                con.execute(f"CREATE TEMP TABLE {name} AS {select}", params or None)
                made.append(name)
            except duckdb.Error:  # the name is taken here, or no temporary table: as before
                pass
        yield
    finally:
        for name in reversed(made):
            with contextlib.suppress(duckdb.Error):  # a failed connection keeps nothing
                con.execute(f"DROP TABLE IF EXISTS temp.main.{name}")
