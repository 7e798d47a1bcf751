"""Ad hoc SQL for the `sql` command: reads only, on a locked-down connection."""

from __future__ import annotations

import re
from typing import Any

import duckdb
import polars as pl

from toolkit.analysis.query import Source, release, using
from toolkit.errors import UsageError

READ_ONLY_HINT = (
    "it accepts SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN"
)
_EXPLAINED = re.compile(r"EXPLAIN\s+(?:ANALY[SZ]E\s+|\([^)]*\)\s*)?(.*)", re.I | re.S)
_READING = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def run_sql(con: Source, query: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """Run one ad hoc read-only SQL statement and return its rows.

    Every statement is parsed by DuckDB first; anything that is not a query
    (DROP, INSERT, CREATE, UPDATE, COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, CALL,
    ...) is refused before any statement runs. The `sql` command also calls
    `lock_down` on its own connection first, so `read_csv(...)` cannot reach the
    file system; a notebook's connection is left as it is.

    Args:
        con: a connection, read-only for the `sql` command, or a `toolkit.open` handle.
        query: one SQL statement (a trailing semicolon is fine).
        params: values for `$name` placeholders, bound, never spliced.

    Returns:
        The statement's rows.

    Raises:
        UsageError: for a refused statement ("the sql command is read-only: ...")
            or any DuckDB error (its first line, plainly).

    Example:
        >>> run_sql(con, "SELECT count(*) AS n FROM events")  # doctest: +SKIP
    """
    with using(con) as connection:
        return _run_one(connection, query, params)


def _run_one(
    con: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any] | None
) -> pl.DataFrame:
    statements = _parse(con, query)
    for statement in statements:
        _check_reads_only(con, statement)
    if len(statements) > 1:
        raise UsageError(f"the query holds {len(statements)} statements; give one at a time")
    release(con)
    try:
        return _as_polars(con.sql(statements[0].query, params=params or None))
    except duckdb.Error as exc:
        raise UsageError(first_line(exc)) from None
    except pl.exceptions.PolarsError as exc:
        raise UsageError(
            f"the result has a column type that cannot be shown ({first_line(exc)}); "
            "cast it, for example CAST(x AS VARCHAR)"
        ) from None


def _as_polars(relation: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    """The rows as polars; columns holding INTERVALs, which polars cannot import, as text."""
    textual = ["INTERVAL" in str(kind).upper() for kind in relation.types]
    if not any(textual):
        return relation.pl()
    columns = [
        f"CAST({_quote(name)} AS VARCHAR) AS {_quote(name)}" if as_text else _quote(name)
        for name, as_text in zip(relation.columns, textual, strict=True)
    ]
    return relation.select(", ".join(columns)).pl()


def _quote(name: str) -> str:
    """A column name as a quoted SQL identifier (names come from the query's own result)."""
    return '"' + name.replace('"', '""') + '"'


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Disable external access and lock the configuration (idempotent).

    This holds for every connection to the same file in this process, so only
    the `sql` command, whose process has no other, calls it.
    """
    release(con)
    locked = con.sql("SELECT current_setting('lock_configuration')").fetchall()
    if locked and locked[0][0]:
        return
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _parse(con: duckdb.DuckDBPyConnection, query: str) -> list[duckdb.Statement]:
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise UsageError(first_line(exc)) from None
    if not statements:
        raise UsageError("the query is empty; give a SELECT statement")
    return statements


def _check_reads_only(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> None:
    kind = statement.type
    text = statement.query.strip()
    if kind not in _READING:
        word = text.split(None, 1)[0].upper() if text else kind.name
        if word == "WITH":  # the statement comes after its common table expressions
            word = f"{kind.name.replace('_', ' ')} (after WITH)"
        raise UsageError(f"the sql command is read-only: {word} is refused; {READ_ONLY_HINT}")
    if kind == duckdb.StatementType.EXPLAIN:
        _check_explained(con, text)


def _check_explained(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """EXPLAIN ANALYZE runs its statement: what is explained must be a query too."""
    match = _EXPLAINED.match(text)
    inner = _parse(con, match.group(1)) if match else []
    if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
        raise UsageError(
            "the sql command is read-only: EXPLAIN is accepted for a single query only"
        )


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, or its class name if it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
