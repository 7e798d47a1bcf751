"""Typed storage: filled with the events, rebuilt from them alone, older files upgraded.

The oracle is the record itself: whatever a sync left in the typed tables must equal
what `rebuild` computes from `events` alone, and a file written by the release before
typed storage (schema 5, `data/schema5.duckdb.gz`, written by commit 38fb18e's `demo`)
must answer every view exactly as that release did (`data/schema5_answers.json`).
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from toolkit.errors import EXIT_OK, EXIT_USAGE, UsageError
from toolkit.store import database as db
from toolkit.store import typed

from .helpers import SESSION, T0, envelope, event_id, insert_events
from .test_cli import cli, sync_args
from .test_sync import refs_of, run

DATA = Path(__file__).parent / "data"


def view_answers(path: Path) -> dict[str, list]:
    """Every view's row count and a digest of its rows, as the schema-5 answers were taken.

    Without `session_no`, a column added since (event_fields): the record's own numbers
    for its sessions, not anything the events say.
    """
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        views = con.execute(
            "SELECT view_name FROM duckdb_views() "
            "WHERE NOT internal AND schema_name = 'main' ORDER BY 1"
        ).fetchall()
        return {
            name: list(
                con.execute(
                    "SELECT count(*), md5(coalesce(string_agg(CAST(t AS VARCHAR), '|' "
                    "ORDER BY CAST(t AS VARCHAR)), '')) "
                    f"FROM (SELECT COLUMNS(lambda c: c <> 'session_no') FROM {name}) AS t"
                ).fetchone()
            )
            for (name,) in views
        }
    finally:
        con.close()


def typed_differences(left: Path, right: Path, numbered: bool = True) -> dict[str, tuple[int, int]]:
    """Per typed table, the rows only in `left` and only in `right` (multisets).

    With `numbered` False the sessions' numbers are left out: two files of the same
    events number their sessions in the order each session's first event was stored,
    which differs between two syncs whose sessions ran at once.
    """
    columns = "*" if numbered else "* EXCLUDE (session_no)"
    con = duckdb.connect()

    def only(table: str, one: str, other: str) -> int:
        return con.execute(
            f"SELECT count(*) FROM (SELECT {columns} FROM {one}.{table} "
            f"EXCEPT ALL SELECT {columns} FROM {other}.{table})"
        ).fetchone()[0]

    try:
        con.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
        return {table: (only(table, "l", "r"), only(table, "r", "l")) for table in typed.TABLES}
    finally:
        con.close()


def assert_equals_its_rebuild(path: Path, tmp_path: Path) -> None:
    """The typed rows of `path` equal those a rebuild of a copy computes from its events."""
    copy = tmp_path / f"rebuilt-{path.name}"
    shutil.copyfile(path, copy)
    out = cli("rebuild", "--db", str(copy))
    assert out.returncode == EXIT_OK, out.stderr
    assert "rebuilt the typed storage from" in out.stdout
    differences = typed_differences(path, copy)
    assert differences == dict.fromkeys(typed.TABLES, (0, 0))
    # the derived storage may lag a killed sync's rows, never the view it serves
    assert derived_answers(path) == derived_answers(copy)


def derived_answers(path: Path) -> list[tuple]:
    """The rows of the views read from derived storage (toolkit.store.derived and
    session_stores)."""
    with duckdb.connect(str(path), read_only=True) as con:
        return [
            con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall()
            for view in ("user_names", "session_activity")
        ]


def older_copy(tmp_path: Path, version: int = 5) -> Path:
    """A copy of the file the release before round 2 wrote (schema 5), or of that file
    as round 2's first typed storage left it (schema 6: no session numbers)."""
    path = tmp_path / f"schema{version}.duckdb"
    with gzip.open(DATA / f"schema{version}.duckdb.gz") as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    return path


@pytest.mark.parametrize("version", [5, 6])
def test_an_older_schema_file_is_upgraded_on_its_first_writable_open_answering_as_before(
    tmp_path, version
):
    path = older_copy(tmp_path, version)
    with duckdb.connect(str(path), read_only=True) as raw:
        before = raw.execute("SELECT * FROM events ORDER BY event_id").fetchall()
    with pytest.raises(UsageError, match="schema upgrade"):
        db.connect(path, read_only=True)

    seen: list[tuple[int, int]] = []
    con = db.connect(path, on_rebuild=lambda done, total: seen.append((done, total)))
    try:
        assert con.execute("SELECT * FROM events ORDER BY event_id").fetchall() == before
        assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (
            db.SCHEMA_VERSION,
        )
        typed_count = con.execute("SELECT count(*) FROM event_fields").fetchone()
    finally:
        con.close()
    assert typed_count == (len(before),)
    assert seen[0] == (0, len(before)) and seen[-1] == (len(before), len(before))
    expected = json.loads((DATA / "schema5_answers.json").read_text())
    assert view_answers(path) == expected
    assert_equals_its_rebuild(path, tmp_path)


def test_a_sync_leaves_the_typed_storage_equal_to_its_rebuild(
    sample_dataset, sandbox_factory, tmp_db, tmp_path
):
    box = sandbox_factory()
    con, results = run(tmp_db, box, refs_of(sample_dataset), concurrency=2)
    con.close()
    assert all(r.status == "ok" for r in results)
    # a re-sync with every page decoded again stores nothing twice, typed rows included
    con, _results = run(tmp_db, box, refs_of(sample_dataset), recheck=True)
    con.close()
    assert_equals_its_rebuild(tmp_db, tmp_path)


def test_an_append_of_known_and_repeated_events_types_only_the_new_ones(
    sample_dataset, sandbox_factory, tmp_db
):
    out = cli(*sync_args(sample_dataset, sandbox_factory(), tmp_db))
    assert out.returncode == EXIT_OK, out.stderr
    con = db.connect(tmp_db)
    try:
        known = con.sql(
            "SELECT * EXCLUDE (sync_id, data), CAST(data AS VARCHAR) AS data FROM events "
            "ORDER BY event_id LIMIT 5"
        ).to_arrow_table()
        fresh = known.slice(0, 2).set_column(
            0, "event_id", pa.array([f"{n:064x}" for n in range(2)])
        )
        with db.transaction(con):  # the known ones, and each new one twice
            assert db.append_events(con, pa.concat_tables([known, fresh, fresh]), 99) == 2
        typed_ids = con.execute(
            "SELECT event_id FROM event_fields EXCEPT ALL SELECT event_id FROM events"
        ).fetchall()
        added = con.execute("SELECT count(*) FROM event_fields WHERE event_id LIKE '000%'")
        assert added.fetchone() == (2,)
    finally:
        con.close()
    assert typed_ids == []


def test_an_interrupted_rebuild_is_refused_read_only_and_redone_by_a_writable_open(
    tmp_path,
):
    path = older_copy(tmp_path)
    db.connect(path).close()
    reference = tmp_path / "reference.duckdb"
    shutil.copyfile(path, reference)
    with duckdb.connect(str(path)) as raw:  # as a rebuild killed after its first slices
        raw.execute("UPDATE typed_state SET digest = NULL")
        raw.execute("DELETE FROM typed_poll_answer_events")
    with pytest.raises(UsageError, match="rebuilt"):
        db.connect(path, read_only=True)
    db.connect(path).close()
    assert typed_differences(path, reference) == dict.fromkeys(typed.TABLES, (0, 0))


def test_rebuild_of_a_missing_file_is_a_usage_error_and_creates_nothing(tmp_path):
    missing = tmp_path / "none" / "x.duckdb"
    out = cli("rebuild", "--db", str(missing))
    assert out.returncode == EXIT_USAGE
    assert "no database at" in out.stderr and not missing.parent.exists()


SECOND = "abcdef0123456789abcdef0123456789_I_000000000000000002"
THIRD = "abcdef0123456789abcdef0123456789_I_000000000000000003"


def test_sessions_are_numbered_in_the_order_their_first_event_was_stored(tmp_path):
    con = db.connect(tmp_path / "x.duckdb")
    try:
        settings = {"type": "qaa", "enabled": True}
        insert_events(con, [envelope(settings, T0, session=SECOND), envelope(settings, T0)])
        insert_events(con, [envelope(settings, T0 + 1, session=THIRD), envelope(settings, T0 + 1)])
        keys = con.execute("SELECT session_no, session_id FROM session_keys ORDER BY 1").fetchall()
        assert keys == [(1, SECOND), (2, SESSION), (3, THIRD)]
        numbers = con.execute(
            "SELECT session_no, count(*) FROM typed_qaa_events GROUP BY ALL ORDER BY 1"
        ).fetchall()
        assert numbers == [(1, 1), (2, 2), (3, 1)]
        by_id = con.execute("SELECT session_id, count(*) FROM qaa_events GROUP BY ALL ORDER BY 1")
        assert by_id.fetchall() == [(SESSION, 2), (SECOND, 1), (THIRD, 1)]
    finally:
        con.close()


def test_the_same_events_stored_in_another_order_differ_only_in_the_sessions_numbers(
    tmp_path,
):
    # two syncs of the same sessions at once store their first pages in either order
    settings = {"type": "qaa", "enabled": True}
    first = [envelope(settings, T0), envelope(settings, T0 + 1)]
    second = [envelope(settings, T0 + 2, session=SECOND)]
    paths = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    for path, batches in zip(paths, ([first, second], [second, first]), strict=True):
        con = db.connect(path)
        try:
            for batch in batches:
                insert_events(con, batch)
        finally:
            con.close()
    numbered = typed_differences(*paths)
    assert numbered["session_keys"] == (2, 2) and numbered["typed_qaa_events"] == (3, 3)
    assert typed_differences(*paths, numbered=False) == dict.fromkeys(typed.TABLES, (0, 0))


def test_events_of_undocumented_types_are_kept_apart_and_read_by_event_fields(tmp_path):
    con = db.connect(tmp_path / "x.duckdb")
    try:
        novel = envelope({"type": "wordCloud", "text": "=cmd|' /C calc'!A0"}, T0, session=SECOND)
        insert_events(con, [novel, envelope({"type": "qaa", "enabled": True}, T0)])
        other = con.execute("SELECT event_id, session_no, event_type FROM typed_other_events")
        assert other.fetchall() == [(event_id(novel), 1, "wordCloud")]
        fields = con.execute(
            "SELECT session_id, event_type, content_text FROM event_fields WHERE session_id = ?",
            [SECOND],
        ).fetchall()
        assert fields == [(SECOND, "wordCloud", "=cmd|' /C calc'!A0")]
    finally:
        con.close()
