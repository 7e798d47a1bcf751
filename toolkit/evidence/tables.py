"""What the export copies from the database, as SELECTs any Parquet reader can take.

Each relation's columns are read from the database (`DESCRIBE`), so a column
added to a view is exported without a change here. DuckDB-only types become
portable ones: JSON (a DuckDB alias of text) is written as a plain string, and
the few types other engines lack (UUID, HUGEINT, UNION, INTERVAL, ...) as text.
"""

from __future__ import annotations

import duckdb

from toolkit.store.records import STATE_RELATIONS

# The record's bookkeeping tables, then the contract's current-state, nested and
# results relations; each has a session_id column to restrict it by.
TABLES = ("sync_runs", "rejected_events", "meetings")
RELATIONS = (*STATE_RELATIONS, "session_status")
PARTITION_COLUMNS = ("session_org_id", "session_id")
# DuckDB types other engines do not read, written as text instead (by type-name prefix)
_AS_TEXT = ("JSON", "UUID", "HUGEINT", "UHUGEINT", "UNION", "INTERVAL", "BIT", "TIME WITH")
# Row groups small enough for engines to split a file between workers.
COPY_OPTIONS = (
    "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000, ROW_GROUP_SIZE_BYTES '128MB'"
)


def present(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The relations to export that this database has (`meetings` came with schema 5)."""
    names = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    return [name for name in (*TABLES, *RELATIONS) if name in names]


def columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """(name, type) of each column of a relation, in order."""
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {quote(relation)}").fetchall()]


def select_list(cols: list[tuple[str, str]], leave_out: tuple[str, ...] = ()) -> str:
    """The columns as a SELECT list, DuckDB-only types cast to text, names kept."""
    parts = []
    for name, kind in cols:
        if name in leave_out:
            continue
        if kind.upper().startswith(_AS_TEXT):
            parts.append(f"CAST({quote(name)} AS VARCHAR) AS {quote(name)}")
        else:
            parts.append(quote(name))
    return ", ".join(parts)


def relation_query(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """SELECT of a relation's rows for the sessions bound as `$session_ids`."""
    return (
        f"SELECT {select_list(columns(con, relation))} FROM {quote(relation)} "
        "WHERE session_id IN (SELECT unnest(CAST($session_ids AS VARCHAR[])))"
    )


def events_query(con: duckdb.DuckDBPyConnection) -> str:
    """SELECT of one session's events (`$session_org_id`, `$session_id`), oldest first.

    The session's org and id are left out: they are the folder names of the
    hive partition, which engines read back as columns (and refuse twice).
    """
    listed = select_list(columns(con, "events"), leave_out=PARTITION_COLUMNS)
    return (
        f"SELECT {listed} FROM events "
        "WHERE session_org_id = $session_org_id AND session_id = $session_id "
        "ORDER BY event_at, event_id"
    )


def copy_statement(query: str, path: str) -> str:
    """COPY of a query to one Parquet file; the path is ours, quoted as a literal."""
    return f"COPY ({query}) TO {literal(path)} ({COPY_OPTIONS})"


def quote(name: str) -> str:
    """A name as a quoted SQL identifier (names come from the database, never from input)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string as a SQL literal, for the one place DuckDB takes no parameter: COPY's path."""
    return "'" + text.replace("'", "''") + "'"
