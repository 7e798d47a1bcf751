"""Ad hoc SQL for the `sql` command: queries run, writes and file access are refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import toolkit
from tests.helpers import SESSION
from tests.scenario import build_database
from toolkit.analysis.adhoc import lock_down
from toolkit.errors import UsageError


@pytest.fixture
def sql_db(tmp_path: Path) -> Path:
    """A scenario database of its own: `run_sql` locks its connection down for good."""
    return build_database(tmp_path / "sql.duckdb")


def _stored(path: Path) -> tuple[int, list[str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY 1"
            ).fetchall()
        ]
        return events, names
    finally:
        con.close()


def test_sql_returns_the_rows_of_a_query(sql_db: Path) -> None:
    con = toolkit.connect(sql_db, read_only=True)
    try:
        frame = toolkit.run_sql(con, "SELECT count(*) AS n FROM events;")
        assert frame.rows() == [(31,)]
        assert toolkit.run_sql(con, "DESCRIBE events")["column_name"][0] == "event_id"
        assert toolkit.qa_questions(con, SESSION).height == 3
    finally:
        con.close()


WRITES = [
    "DROP TABLE events",
    "INSERT INTO events SELECT * FROM events",
    "UPDATE events SET actor_user_id = 'x'",
    "DELETE FROM events",
    "CREATE TABLE stolen AS SELECT * FROM events",
    "COPY events TO 'stolen.csv'",
    "ATTACH 'other.duckdb'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "PRAGMA enable_profiling",
    "CALL checkpoint()",
    "SELECT 1; DROP TABLE events",
    "EXPLAIN ANALYZE DELETE FROM events",
]


@pytest.mark.parametrize("statement", WRITES)
def test_sql_refuses_writes_and_leaves_the_database_unchanged(
    sql_db: Path, statement: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sql_db.parent)
    before = _stored(sql_db)
    con = toolkit.connect(sql_db, read_only=True)
    try:
        with pytest.raises(UsageError, match="the sql command is read-only"):
            toolkit.run_sql(con, statement)
    finally:
        con.close()
    assert _stored(sql_db) == before
    assert sorted(p.name for p in sql_db.parent.iterdir()) == ["sql.duckdb"]


def test_sql_refuses_writes_even_on_a_writable_connection(sql_db: Path) -> None:
    con = toolkit.connect(sql_db)
    try:
        with pytest.raises(UsageError, match="read-only: DELETE is refused"):
            toolkit.run_sql(con, "DELETE FROM events")
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(31,)]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("WITH x AS (SELECT 1) INSERT INTO events SELECT * FROM events", "INSERT"),
        ("with recursive x as (select 1) delete from events", "DELETE"),
    ],
)
def test_sql_names_the_statement_refused_after_with(sql_db: Path, statement, named) -> None:
    con = toolkit.connect(sql_db, read_only=True)
    try:
        with pytest.raises(UsageError, match=rf"read-only: {named} \(after WITH\) is refused"):
            toolkit.run_sql(con, statement)
    finally:
        con.close()


def test_sql_cannot_read_or_write_files_once_locked_down(sql_db: Path) -> None:
    secret = sql_db.parent / "secret.csv"
    secret.write_text("a\n1\n")
    con = toolkit.connect(sql_db, read_only=True)
    lock_down(con)  # what the sql command does on its own connection
    try:
        with pytest.raises(UsageError, match="disabled by configuration"):
            toolkit.run_sql(con, f"SELECT * FROM read_csv('{secret}')")
        with pytest.raises(UsageError, match="read-only: COPY"):
            toolkit.run_sql(con, f"COPY (SELECT 1) TO '{sql_db.parent / 'out.csv'}'")
        with pytest.raises(duckdb.Error, match="configuration has been locked"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()
    assert not (sql_db.parent / "out.csv").exists()


def test_run_sql_leaves_a_notebook_connection_usable(sql_db: Path) -> None:
    con = toolkit.connect(sql_db, read_only=True)
    try:
        toolkit.run_sql(con, "SELECT 1")
        other = toolkit.connect(sql_db, read_only=True)  # would fail on a locked configuration
        assert toolkit.run_sql(other, "SELECT $x AS x", {"x": 5})["x"].to_list() == [5]
        other.close()
    finally:
        con.close()


def test_sql_reports_duckdb_errors_plainly(sql_db: Path) -> None:
    con = toolkit.connect(sql_db, read_only=True)
    try:
        with pytest.raises(UsageError, match=r"^Catalog Error: Table with name nope does not"):
            toolkit.run_sql(con, "SELECT * FROM nope")
        with pytest.raises(UsageError, match=r"^Parser Error"):
            toolkit.run_sql(con, "SELEC 1")
        with pytest.raises(UsageError, match="empty"):
            toolkit.run_sql(con, " ; ")
        with pytest.raises(UsageError, match="2 statements"):
            toolkit.run_sql(con, "SELECT 1; SELECT 2")
    finally:
        con.close()


def test_sql_shows_intervals_as_text(sql_db: Path) -> None:
    con = toolkit.connect(sql_db, read_only=True)
    try:
        frame = toolkit.run_sql(con, "SELECT max(event_at) - min(event_at) AS span FROM events")
        assert frame.rows() == [("1 day",)]
    finally:
        con.close()
