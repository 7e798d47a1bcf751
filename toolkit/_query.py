"""The one way helpers run SQL: a fixed statement, values bound as `$name` parameters."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from .events import EVENT_TYPES

KNOWN_EVENT_TYPES = EVENT_TYPES

ANONYMOUS = "anonymous"
ANONYMOUS_AUTHOR = "anonymous (the author)"


def fetch(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> pl.DataFrame:
    """Run one SELECT with its values bound (never spliced) and return it as polars.

    Example:
        >>> query(con, "SELECT * FROM polls WHERE poll_id = $p", {"p": pid})  # doctest: +SKIP
    """
    release(con)
    return con.sql(sql, params=params or None).pl()


def release(con: duckdb.DuckDBPyConnection) -> None:
    """Finish a result an earlier `execute()` left unread, which would block `con.sql()`.

    (DuckDB releases whose connections have no `complete()` need nothing here.)
    """
    complete = getattr(con, "complete", None)
    if complete is not None:
        complete()


query = fetch  # the public name: toolkit.query(con, sql, params)
