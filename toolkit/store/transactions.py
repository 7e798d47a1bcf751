"""One transaction around a block, and DuckDB's reports of a Ctrl-C turned back into one.

Its own module because every store module needs it, `database` among them, and
`database` imports the typed storage's modules (`rebuild`, `derived`) that need it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import duckdb


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block in one transaction: committed whole, or rolled back whole."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException as exc:
        with suppress(duckdb.Error, RuntimeError):  # a failed COMMIT may have ended it
            con.execute("ROLLBACK")
        raise_if_interrupt(exc)
        raise


def raise_if_interrupt(exc: BaseException) -> None:
    """Raise KeyboardInterrupt for a Ctrl-C that DuckDB reports as its own error.

    Met while it reads Arrow data, DuckDB wraps the KeyboardInterrupt; met in a
    COMMIT, it says "Query interrupted" in a RuntimeError.
    """
    if not isinstance(exc, duckdb.Error | RuntimeError):
        return
    text = str(exc)
    if "KeyboardInterrupt" in text or text.startswith("Query interrupted"):
        raise KeyboardInterrupt from exc
