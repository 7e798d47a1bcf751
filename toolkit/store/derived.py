"""Derived storage: record-wide facts kept up to date so one session's questions stay cheap.

`user_names` (the name each user last posted under, over the whole record) read every
question and reply of the record at each query: most of what `qa_questions`,
`moderation_log` and `user_activity` cost on a large record. `user_names_store`
(`sql/07_derived_tables.sql`) holds it for the typed rows up to `derived_marks`, and
the view merges the few rows stored since. `refresh()` folds those rows in; the sync
calls it when it ends (through `toolkit.store.ledger`), and `fill()` recomputes
everything from the typed tables (a rebuild, or a file from before this storage),
with the per-session stores (`toolkit.store.session_stores`), whose SQL is part of
`digest()`: rows computed by other SQL are computed again on a writable open.
Typed rows are only appended between rebuilds, so the rows at or past a mark are
exactly the new ones; a mark that no longer covers the rows it counted (rows removed
by other means) makes `refresh()` start again from nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from importlib import resources

import duckdb

from toolkit.store import session_stores
from toolkit.store.transactions import transaction

KIND = "derived"  # its row of typed_state
# the typed tables user_names_store reads
SOURCES = ("typed_qaa_question_events", "typed_qaa_question_reply_events")
# every table of derived storage (a read-only open of a file written by other SQL reads
# them as empty: toolkit.store.database)
TABLES = (
    "user_names_store",
    "derived_marks",
    "session_rows",
    *(t for t, _ in session_stores.STORES),
)


@cache
def statements() -> list[str]:
    """The refresh statements of `derive/user_names.sql`, in order."""
    text = (resources.files("toolkit.store") / "derive" / "user_names.sql").read_text("utf-8")
    return [s.strip() for s in text.split(";\n") if _code(s)]


def _code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.split("\n"))


@cache
def digest() -> str:
    """A digest of the refresh statements and of the per-session stores' SQL
    (`toolkit.store.session_stores`): rows computed by other ones are recomputed."""
    text = "\0".join([*statements(), session_stores.digest()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the derived rows were computed with this release's statements."""
    rows = con.execute("SELECT digest FROM typed_state WHERE kind = ?", [KIND]).fetchall()
    return bool(rows) and rows[0][0] == digest()


def refresh(con: duckdb.DuckDBPyConnection) -> int:
    """Fold the typed rows stored since the last refresh into the derived tables.

    Call with no transaction open (it runs its own). Returns:
        the number of typed rows read (0 when nothing is new).
    """
    with transaction(con):
        return _refresh(con)


def fill(
    con: duckdb.DuckDBPyConnection, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Recompute the derived tables from all typed rows (after a rebuild or an upgrade),
    and the per-session stores (`toolkit.store.session_stores`), reporting to
    `on_progress` (events done, events in all)."""
    with transaction(con):
        con.execute("DELETE FROM typed_state WHERE kind = ?", [KIND])
        _clear(con)
        read = _refresh(con)
    session_stores.fill(con, on_progress)
    with transaction(con):  # last: a fill killed before this is started again
        con.execute("INSERT INTO typed_state VALUES (?, ?, now())", [KIND, digest()])
    return read


def _clear(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM user_names_store")
    con.execute("DELETE FROM derived_marks WHERE source = ANY(?)", [list(SOURCES)])


def _refresh(con: duckdb.DuckDBPyConnection) -> int:
    marks = _marks(con)
    if marks is None:  # rows were removed under the marks: start again
        _clear(con)
        marks = _marks(con)
        assert marks is not None
    read = sum(new for _start, _end, _rows, new in marks.values())
    if read == 0:
        return 0
    for statement in statements():  # they read the rows past the marks, then move them
        con.execute(statement)
    con.execute("DELETE FROM derived_marks WHERE source = ANY(?)", [list(SOURCES)])
    for source, (_start, end, rows, _new) in marks.items():
        con.execute("INSERT INTO derived_marks VALUES (?, ?, ?)", [source, end, rows])
    return read


def _marks(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, int, int]] | None:
    """Per source: (first rowid not read, rowid end now, rows now, rows new); None when
    the rows a mark counted are no longer all there."""
    stored = {
        source: (end, rows)
        for source, end, rows in con.execute(
            "SELECT source, row_end, rows_covered FROM derived_marks"
        ).fetchall()
    }
    out = {}
    for source in SOURCES:
        start, covered = stored.get(source, (0, 0))
        # fixed SQL: the table names are this module's constants, never a caller's text
        end, rows, before = con.execute(
            f"SELECT coalesce(max(rowid) + 1, 0), count(*), count(*) FILTER (WHERE rowid < ?) "
            f"FROM {source}",
            [start],
        ).fetchall()[0]
        if before != covered:
            return None
        out[source] = (start, max(int(end), start), int(rows), int(rows) - int(before))
    return out
