"""Opening the database: schema, upgrades, read-only, locks, appends."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest

from toolkit.errors import DatabaseLockedError, UsageError
from toolkit.ingest.events import build_batch, rejects_table
from toolkit.store import database as db
from toolkit.store import ledger
from toolkit.store.records import KnownPage

from .helpers import ORG, SESSION, T0, envelope, event_id


def _event(n: int) -> dict:
    return envelope(
        {
            "type": "qaa",
            "createdAtMs": T0,
            "modifiedAtMs": T0 + n,
            "isDeleted": False,
            "enabled": True,
            "moderation": n % 2 == 0,
        },
        T0 + n,
    )


def test_connect_creates_tables_and_records_the_schema_version(tmp_path):
    con = db.connect(tmp_path / "sub" / "x.duckdb")
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert {"events", "sync_runs", "rejected_events", "schema_version"} <= tables
    (version,) = con.execute("SELECT max(version) FROM schema_version").fetchone()
    assert version == db.SCHEMA_VERSION


def test_reopening_does_not_reapply_an_unchanged_schema(tmp_path):
    db.connect(tmp_path / "x.duckdb").close()
    con = db.connect(tmp_path / "x.duckdb")
    assert con.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)


def test_an_older_file_is_upgraded_in_place_without_losing_data(tmp_path):
    path = tmp_path / "x.duckdb"
    con = db.connect(path)
    sync_id = ledger.start_run(con, "org", "s", "http://127.0.0.1")
    db.append_events(con, build_batch([_event(1)]).events, sync_id)
    older = f"{db.SCHEMA_VERSION}:older"
    con.execute("UPDATE schema_version SET sql_digest = ?", [older])
    con.execute("DROP VIEW session_status")
    con.close()
    con = db.connect(path)
    assert con.execute("SELECT count(*) FROM events").fetchone() == (1,)
    assert con.execute("SELECT event_count FROM session_status").fetchone() == (1,)


def test_a_schema_2_file_gains_envelope_extra_and_stored_pages_and_keeps_its_rows(tmp_path):
    path = tmp_path / "x.duckdb"
    con = db.connect(path)
    sync_id = ledger.start_run(con, "org", "s", "http://127.0.0.1")
    db.append_events(con, build_batch([_event(1)]).events, sync_id)
    con.execute("ALTER TABLE events DROP COLUMN envelope_extra")  # as schema 2 wrote it
    con.execute("DROP TABLE stored_pages")
    con.execute("UPDATE schema_version SET version = 2, sql_digest = '2:older'")
    con.close()
    con = db.connect(path)
    extra = {**_event(2), "eventSeq": 7}
    assert db.insert_new_events(con, [(build_batch([extra]).events, sync_id)]) == 1
    rows = con.execute("SELECT envelope_extra FROM events ORDER BY event_at").fetchall()
    assert rows == [(None,), ('{"eventSeq":7}',)]
    db.record_pages(con, "org", "s", [(b"\x01" * 32, "next", 2)], sync_id)
    assert db.stored_pages(con, "org", "s") == {b"\x01" * 32: KnownPage("next", 2)}


def test_a_file_from_a_newer_release_is_refused(tmp_path):
    con = db.connect(tmp_path / "x.duckdb")
    con.execute("INSERT INTO schema_version VALUES (99, '99:future', now() + INTERVAL 1 DAY)")
    con.close()
    with pytest.raises(UsageError, match="newer release"):
        db.connect(tmp_path / "x.duckdb")


def test_read_only_open_of_a_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(UsageError, match=r"no database at .*run 'slido-compliance sync'"):
        db.connect(tmp_path / "missing.duckdb", read_only=True)


def test_append_events_stores_each_event_once(tmp_path):
    con = db.connect(tmp_path / "x.duckdb")
    sync_id = ledger.start_run(con, "org", "s", "http://127.0.0.1")
    first = build_batch([_event(n) for n in range(10)]).events
    assert db.append_events(con, first, sync_id) == 10
    again = build_batch([_event(n) for n in range(5, 15)]).events
    assert db.append_events(con, again, sync_id) == 5
    assert con.execute("SELECT count(DISTINCT event_id), count(*) FROM events").fetchone() == (
        15,
        15,
    )


def test_stored_digests_hold_a_sessions_events_and_those_its_runs_stored_each_once(tmp_path):
    con = db.connect(tmp_path / "x.duckdb")
    run_a = ledger.start_run(con, "org", "a", "http://127.0.0.1")
    run_b = ledger.start_run(con, "org", "b", "http://127.0.0.1")
    own = [envelope({"type": "qaa", "n": n}, T0 + n, session="a", org="org") for n in range(40)]
    stray = envelope({"type": "qaa", "n": 99}, T0, session="b", org="org")  # b's, served by a
    late = envelope({"type": "qaa", "n": 98}, T0, session="a", org="org")  # a's, stored by b
    db.append_events(con, build_batch([*own, stray]).events, run_a)
    db.append_events(con, build_batch([late]).events, run_b)

    every = [bytes.fromhex(r[0]) for r in con.execute("SELECT event_id FROM events").fetchall()]

    def digests(session: str) -> list[bytes]:
        known = db.stored_digests(con, "org", session).known(every)
        return sorted(d for d, is_known in zip(every, known, strict=True) if is_known)

    def ids(events: list[dict]) -> list[bytes]:
        return sorted(bytes.fromhex(event_id(e)) for e in events)

    assert len(db.stored_digests(con, "org", "a")) == 42  # each once: no event counted twice
    assert digests("a") == ids([*own, stray, late])
    assert digests("b") == ids([stray, late])
    assert len(db.stored_digests(con, "org", "c")) == 0


def test_append_rejects_keeps_each_raw_text_once(tmp_path):
    con = db.connect(tmp_path / "x.duckdb")
    sync_id = ledger.start_run(con, "org", "s", "http://127.0.0.1")
    rejects = build_batch([1, 1, "x"]).rejects
    assert db.append_rejects(con, rejects_table(rejects), sync_id) == 2
    assert db.append_rejects(con, rejects_table(rejects), sync_id) == 0
    assert con.execute("SELECT session_id FROM rejected_events LIMIT 1").fetchone() == ("s",)


def test_a_second_process_gets_a_lock_error_naming_the_holder(tmp_path):
    path = tmp_path / "x.duckdb"
    con = db.connect(path)
    script = textwrap.dedent(f"""
        from toolkit.store import database as db
        from toolkit.errors import DatabaseLockedError
        try:
            db.connect({str(path)!r}, wait=0.5)
        except DatabaseLockedError as exc:
            print("LOCKED", exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "LOCKED database" in out.stdout and "PID" in out.stdout, out.stderr
    con.close()


def test_abandoned_running_runs_are_closed_as_failed(tmp_path):
    con = db.connect(tmp_path / "x.duckdb")
    sync_id = ledger.start_run(con, "org", "s", "http://127.0.0.1")
    assert ledger.close_abandoned_runs(con) == 1
    status, error = con.execute(
        "SELECT status, error FROM sync_runs WHERE sync_id = ?", [sync_id]
    ).fetchone()
    assert status == "failed" and error.startswith("interrupted")


def test_lock_error_class_is_exit_status_5():
    assert DatabaseLockedError.exit_code == 5


def _memory_limit(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_only_writable_connections_are_capped_by_default(tmp_path):
    path = tmp_path / "m.duckdb"
    con = db.connect(path)
    capped = _memory_limit(con)
    con.close()
    con = db.connect(path, read_only=True)
    default = _memory_limit(con)
    con.close()
    con = db.connect(path, read_only=True, memory_limit="512MB")
    chosen = _memory_limit(con)
    con.close()
    mib = int(db.MEMORY_LIMIT.removesuffix("MB")) * 10**6 // 2**20
    assert capped.startswith(str(mib))  # DuckDB shows db.MEMORY_LIMIT (in MB) in MiB
    assert default != capped
    assert chosen != default and chosen != capped


def test_a_read_only_open_of_a_file_with_older_views_uses_the_current_ones(tmp_path):
    path = tmp_path / "x.duckdb"
    con = db.connect(path)
    con.execute("CREATE OR REPLACE VIEW session_status AS SELECT 'old' AS stale")
    older = f"{db.SCHEMA_VERSION}:older"
    con.execute("UPDATE schema_version SET sql_digest = ?", [older])
    con.close()
    con = db.connect(path, read_only=True)
    assert "event_count" in [d[0] for d in con.execute("SELECT * FROM session_status").description]
    con.close()
    con = duckdb.connect(str(path), read_only=True)  # the file itself was not touched
    assert con.execute("SELECT sql_digest FROM schema_version").fetchall() == [(older,)]


def test_counts_are_recomputed_only_for_sessions_whose_events_grew(tmp_path):
    con = db.connect(tmp_path / "x.duckdb")
    sync_id = ledger.start_run(con, ORG, SESSION, "http://127.0.0.1")
    db.append_events(con, build_batch([_event(n) for n in range(3)]).events, sync_id)
    key = (ORG, SESSION)
    ledger.refresh_sessions_activity(con, [key] * 5)  # one pass, duplicates once
    count = "SELECT event_count FROM session_activity_store WHERE session_id = ?"
    assert con.execute(count, [SESSION]).fetchall() == [(3,)]
    # a row that nothing marks as behind is left as it is, even if wrong
    con.execute("UPDATE session_activity_store SET actor_count = 99")
    ledger.refresh_sessions_activity(con, [key])
    assert con.execute("SELECT actor_count FROM session_activity_store").fetchall() == [(99,)]
    db.append_events(con, build_batch([_event(7)]).events, sync_id)
    ledger.refresh_sessions_activity(con, [key])
    assert con.execute(count, [SESSION]).fetchall() == [(4,)]
    assert con.execute("SELECT actor_count FROM session_activity_store").fetchall() == [(1,)]


def test_one_insert_of_several_runs_keeps_each_events_run_and_types_them(tmp_path):
    con = db.connect(tmp_path / "x.duckdb")
    first = ledger.start_run(con, ORG, SESSION, "http://127.0.0.1")
    second = ledger.start_run(con, ORG, SESSION, "http://127.0.0.1")
    batches = [
        (build_batch([_event(n) for n in range(4)]).events, first),
        (build_batch([]).events, second),
        (build_batch([_event(n) for n in range(10, 12)]).events, second),
    ]
    with db.transaction(con):
        assert db.insert_new_events(con, batches) == 6
    runs = con.execute("SELECT sync_id, count(*) FROM events GROUP BY 1 ORDER BY 1").fetchall()
    assert runs == [(first, 4), (second, 2)]
    assert con.execute("SELECT count(*) FROM typed_qaa_events").fetchall() == [(6,)]


def test_every_connection_turns_off_the_optimizer_that_scans_stored_views_whole(tmp_path):
    # bench/README.md: with common_subplan, session_activity at 10M read every typed row
    path = tmp_path / "x.duckdb"
    for read_only in (False, True):
        con = db.connect(path, read_only=read_only)
        try:
            setting = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
            assert "common_subplan" in setting[0].lower()
        finally:
            con.close()
