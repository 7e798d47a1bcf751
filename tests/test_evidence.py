"""The evidence folder: export, verify offline, and each kind of tampering caught and named."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import toolkit
from tests.conftest import SANDBOX_TOKEN
from tests.test_hostile import hostile_dataset
from toolkit.config import Secret, SessionRef
from toolkit.errors import EXIT_VERIFY, UsageError
from toolkit.evidence import export_record, verify_export
from toolkit.evidence.manifest import sha256_file
from toolkit.ingest.sync import SyncOptions, sync_sessions
from toolkit.sample.generate import SampleInfo
from toolkit.sandbox.server import Sandbox

POLL_KEY = ["session_id", "poll_id", "question_id", "option_id"]


def synced_db(info: SampleInfo, path: Path) -> Path:
    """A real database: the dataset served by the sandbox and synced into `path`."""
    refs = [SessionRef(s.org_id, s.session_id) for s in info.sessions]
    with Sandbox(info.out_dir, token=SANDBOX_TOKEN) as box:
        con = toolkit.connect(path)
        try:
            results = sync_sessions(con, refs, SyncOptions(box.base_url, Secret(SANDBOX_TOKEN)))
        finally:
            con.close()
    assert all(r.status == "ok" for r in results), [r.error for r in results]
    return path


@pytest.fixture(scope="module")
def db(sample_dataset: SampleInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample dataset (3 sessions, 3000 events), synced once for the module."""
    return synced_db(sample_dataset, tmp_path_factory.mktemp("evidence") / "compliance.duckdb")


@pytest.fixture(scope="module")
def exported(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export of the whole database, by the command, shared read-only by the tests."""
    return export_by_command(db, tmp_path_factory.mktemp("exports") / "evidence")


def export_by_command(db: Path, out: Path) -> Path:
    """Export the whole database into `out` with the real command."""
    done = cli("export", "--out", str(out), "--db", str(db))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def copy(exported: Path, tmp_path: Path) -> Path:
    """A private copy of the export for a test to tamper with."""
    return Path(shutil.copytree(exported, tmp_path / "copy"))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real command in a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, env=env
    )


def manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def relisted(root: Path, name: str, **changes: Any) -> None:
    """Update one file's entry in the manifest to its new bytes, as a careful forger would."""
    m = manifest(root)
    for entry in m["files"]:
        if entry["path"] == name:
            entry.update(bytes=(root / name).stat().st_size, sha256=sha256_file(root / name))
            entry.update(changes)
    (root / "manifest.json").write_text(json.dumps(m, indent=2), encoding="utf-8")


def events_files(root: Path) -> list[str]:
    return sorted(f["path"] for f in manifest(root)["files"] if f["path"].startswith("events/"))


def assert_caught(root: Path, *expected: str) -> str:
    """verify exits 6 and its message names each expected mismatch."""
    done = cli("verify", str(root))
    assert done.returncode == EXIT_VERIFY, done.stdout + done.stderr
    for text in expected:
        assert text in done.stderr, (text, done.stderr)
    return done.stderr


def test_export_then_verify_passes_offline_and_against_the_database(exported, db):
    done = cli("verify", str(exported))
    assert done.returncode == 0, done.stderr
    assert "intact: 27 files, 3 sessions, 3000 events" in done.stdout
    assert done.stdout.count("\n") == 1  # a one-line verdict
    assert cli("verify", "--db", str(db), str(exported)).returncode == 0


def test_the_manifest_lists_every_file_session_and_digest_as_the_contract_says(exported, db):
    m = manifest(exported)
    assert m["format"] == 1 and m["tool"] == "slido-compliance-toolkit"
    assert m["version"] == toolkit.__version__ and m["schema_version"] >= 5
    assert m["created_at"].endswith("Z") and m["base_urls"][0].startswith("http://127.0.0.1:")
    con = toolkit.connect(db, read_only=True)
    try:
        for session in m["sessions"]:
            assert session["event_digest"] == toolkit.event_digest(con, session["session_id"])
        assert sum(s["events"] for s in m["sessions"]) == 3000
    finally:
        con.close()
    on_disk = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
    assert sorted(f["path"] for f in m["files"]) == [p for p in on_disk if p != "manifest.json"]
    for entry in m["files"]:
        assert entry["sha256"] == sha256_file(exported / entry["path"])
        assert ("rows" in entry) == entry["path"].endswith(".parquet")
    assert len(events_files(exported)) == 3 and "tables/poll_results.parquet" in on_disk
    assert sum(1 for p in on_disk if p.startswith("reports/")) == 6


def test_a_flipped_byte_in_a_parquet_file_is_caught(copy):
    name = "tables/poll_results.parquet"
    raw = bytearray((copy / name).read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(raw))
    assert_caught(copy, f"{name}: SHA-256 differs from the manifest's")


def test_a_removed_file_is_caught(copy):
    name = events_files(copy)[0]
    (copy / name).unlink()
    assert_caught(copy, f"{name}: missing")


def test_an_added_file_is_caught(copy):
    (copy / "reports" / "extra.html").write_text("<p>added later</p>", encoding="utf-8")
    assert_caught(copy, "reports/extra.html: not listed in the manifest")


def test_edited_event_data_with_its_file_relisted_is_caught_by_the_recomputed_event_id(copy):
    name = events_files(copy)[0]
    table = pq.read_table(copy / name)
    data = table.column("data").to_pylist()
    edited = orjson.loads(data[5])
    edited["isDeleted"] = not edited.get("isDeleted", False)
    data[5] = orjson.dumps(edited).decode()
    index = table.schema.get_field_index("data")
    table = table.set_column(index, "data", pl.Series(data).to_arrow())
    pq.write_table(table, copy / name, compression="zstd")
    relisted(copy, name)
    stored_id = table.column("event_id")[5].as_py()
    message = assert_caught(
        copy, f"{name}: 1 event(s) whose content does not hash to their event_id"
    )
    assert f"row 5 (event_id {stored_id})" in message
    assert "SHA-256" not in message  # the forger fixed the hash: only the content betrays it


def test_a_deleted_event_with_counts_and_hashes_relisted_is_caught_by_the_digest(copy):
    name = events_files(copy)[0]
    table = pq.read_table(copy / name)
    pq.write_table(table.slice(1), copy / name, compression="zstd")
    relisted(copy, name, rows=table.num_rows - 1)
    m = manifest(copy)
    session = next(s for s in m["sessions"] if s["session_id"] in name)
    session["events"] -= 1
    (copy / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    message = assert_caught(copy, f"session {session['session_id']}: event digest ")
    assert "does not hash" not in message and "SHA-256" not in message


def test_every_mismatch_is_named_in_one_run(copy):
    files = events_files(copy)
    (copy / files[0]).unlink()
    (copy / "stray.txt").write_text("x", encoding="utf-8")
    (copy / "tables" / "polls.parquet").write_bytes(b"not parquet")
    message = assert_caught(copy, f"{files[0]}: missing", "stray.txt: not listed")
    assert "tables/polls.parquet: " in message
    assert "3 problem(s)" in message


def test_a_folder_without_a_manifest_is_not_an_intact_export(copy):
    (copy / "manifest.json").unlink()
    assert_caught(copy, "has no manifest.json")


def test_verify_of_a_folder_that_does_not_exist_is_a_usage_error(tmp_path):
    done = cli("verify", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and "is not a folder" in done.stderr


def test_verify_with_the_database_names_a_session_that_changed_since(copy, db, tmp_path):
    changed = tmp_path / "changed.duckdb"
    shutil.copy(db, changed)
    sid = manifest(copy)["sessions"][0]["session_id"]
    con = toolkit.connect(changed)
    con.execute(
        "INSERT INTO events SELECT ? , event_at, session_org_id, session_id, actor_user_id,"
        " event_type, data, sync_id, envelope_extra FROM events WHERE session_id = ? LIMIT 1",
        ["f" * 64, sid],
    )
    con.close()
    assert cli("verify", str(copy)).returncode == 0  # the export itself is intact
    done = cli("verify", "--db", str(changed), str(copy))
    assert done.returncode == EXIT_VERIFY
    assert f"session {sid}: 1047 events in the export, 1048 in the database" in done.stderr
    assert f"session {sid}: event digest differs from the database's" in done.stderr


def test_export_into_a_non_empty_folder_is_refused_and_writes_nothing(db, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    done = cli("export", "--out", str(out), "--db", str(db))
    assert done.returncode == 2
    assert "is not empty" in done.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_export_of_an_unknown_session_is_refused_before_writing(db, tmp_path):
    done = cli("export", "--out", str(tmp_path / "out"), "--db", str(db), "--session", "nope")
    assert done.returncode == 2 and "session nope is not in the database" in done.stderr
    assert not (tmp_path / "out").exists()


def test_an_export_of_one_session_holds_only_that_session(db, tmp_path):
    con = toolkit.connect(db, read_only=True)
    try:
        sid = con.execute("SELECT min(session_id) FROM events").fetchone()[0]
        result = export_record(con, tmp_path / "one", [sid])
        assert verify_export(tmp_path / "one", con).ok
    finally:
        con.close()
    assert [s["session_id"] for s in result.manifest["sessions"]] == [sid]
    for table in (tmp_path / "one" / "tables").glob("*.parquet"):
        ids = set(pq.read_table(table, columns=["session_id"]).column(0).to_pylist())
        assert ids <= {sid}, table.name
    assert pq.read_table(tmp_path / "one" / "tables" / "poll_results.parquet").num_rows > 0


def test_export_of_an_empty_database_says_there_is_nothing(tmp_path):
    con = toolkit.connect(tmp_path / "empty.duckdb")
    try:
        with pytest.raises(UsageError, match="nothing to export"):
            export_record(con, tmp_path / "out", [])
    finally:
        con.close()
    assert not (tmp_path / "out").exists()


def test_parquet_holds_only_portable_types(exported):
    events = pq.read_schema(exported / events_files(exported)[0])
    assert str(events.field("data").type) == "string"
    assert str(events.field("event_at").type) == "timestamp[us, tz=UTC]"
    assert "session_id" not in events.names  # a hive partition column, from the path
    for table in (exported / "tables").glob("*.parquet"):
        meta = pq.ParquetFile(table)
        for column in meta.schema:
            assert column.logical_type.type in ("STRING", "TIMESTAMP", "INT", "NONE"), (
                table.name,
                column.name,
                column.logical_type,
            )
        if meta.metadata.num_row_groups:
            assert meta.metadata.row_group(0).column(0).compression == "ZSTD"


def db_poll_results(db: Path) -> pl.DataFrame:
    con = toolkit.connect(db, read_only=True)
    try:
        return toolkit.poll_results(con).select(
            [*POLL_KEY, "option_title", "is_correct", "votes", "respondents"]
        )
    finally:
        con.close()


def same(left: pl.DataFrame, right: pl.DataFrame) -> bool:
    cols = left.columns
    return left.sort(POLL_KEY, nulls_last=True).equals(
        right.select(cols).sort(POLL_KEY, nulls_last=True)
    )


def test_polars_and_pyarrow_read_the_same_counts_and_poll_results_as_the_database(exported, db):
    con = toolkit.connect(db, read_only=True)
    try:
        counts = dict(con.execute("SELECT session_id, count(*) FROM events GROUP BY 1").fetchall())
    finally:
        con.close()
    lazy = pl.scan_parquet(exported / "events" / "**" / "*.parquet", hive_partitioning=True)
    by_polars = lazy.group_by("session_id").len().collect()
    assert dict(by_polars.iter_rows()) == counts
    dataset = ds.dataset(exported / "events", format="parquet", partitioning="hive")
    by_arrow = dataset.to_table(columns=["session_id"]).column("session_id").to_pylist()
    assert {sid: by_arrow.count(sid) for sid in counts} == counts
    expected = db_poll_results(db)
    assert expected.height > 0
    assert same(expected, pl.read_parquet(exported / "tables" / "poll_results.parquet"))
    arrow_results = pq.read_table(exported / "tables" / "poll_results.parquet")
    assert same(expected, pl.from_arrow(arrow_results))  # type: ignore[arg-type]


def test_an_export_of_hostile_events_verifies_and_recomputes_every_id(tmp_path):
    info, _valid, rejected = hostile_dataset(tmp_path / "ds")
    session = info.sessions[0]
    extra = {
        "createdAtMs": 1_767_225_600_000,
        "sessionId": session.session_id,
        "sessionOrgId": session.org_id,
        "userId": "u-extra",
        "traceId": {"x": [1, 2.5]},
        "data": {"type": "session", "n": 1},
    }
    with (info.out_dir / session.file).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(extra) + "\n")
    db = synced_db(info, tmp_path / "hostile.duckdb")
    con = toolkit.connect(db, read_only=True)
    try:
        assert (
            con.execute("SELECT count(*) FROM events WHERE envelope_extra IS NOT NULL").fetchone()[
                0
            ]
            == 1
        )
        export_record(con, tmp_path / "out")
        result = verify_export(tmp_path / "out", con)
    finally:
        con.close()
    assert result.ok, result.problems
    assert pq.read_table(tmp_path / "out" / "tables" / "rejected_events.parquet").num_rows == len(
        rejected
    )


def test_a_failed_export_removes_everything_it_wrote(db, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def fail_midway(done: int, total: int, stage: str) -> None:
        if done:
            raise RuntimeError("disk full, say")

    con = toolkit.connect(db, read_only=True)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            export_record(con, out, on_progress=fail_midway)
    finally:
        con.close()
    assert out.is_dir() and not any(out.iterdir())


def test_a_stored_id_unsafe_as_a_folder_name_is_refused(db, tmp_path):
    unsafe = tmp_path / "unsafe.duckdb"
    shutil.copy(db, unsafe)
    con = toolkit.connect(unsafe)
    try:
        con.execute(
            "INSERT INTO events SELECT ? , event_at, session_org_id, '../../etc', actor_user_id,"
            " event_type, data, sync_id, envelope_extra FROM events LIMIT 1",
            ["e" * 64],
        )
        with pytest.raises(UsageError, match="not safe as a folder name"):
            export_record(con, tmp_path / "out")
    finally:
        con.close()
    assert not (tmp_path / "out").exists()


def test_a_session_synced_without_events_is_exported_with_none(tmp_path):
    con = toolkit.connect(tmp_path / "empty-session.duckdb")
    try:
        con.execute(
            "INSERT INTO sync_runs (sync_id, session_org_id, session_id, base_url, started_at,"
            " finished_at, status) VALUES (1, 'org-1', 'sid-1', 'https://webexapis.com/v1',"
            " now(), now(), 'ok')"
        )
        result = export_record(con, tmp_path / "out")
        assert verify_export(tmp_path / "out", con).ok
    finally:
        con.close()
    assert result.manifest["sessions"] == [
        {
            "session_org_id": "org-1",
            "session_id": "sid-1",
            "events": 0,
            "event_digest": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        }
    ]
    assert result.manifest["base_urls"] == ["https://webexapis.com/v1"]
    assert not (tmp_path / "out" / "events").exists()


def test_a_manifest_path_leading_outside_the_folder_is_named(copy):
    m = manifest(copy)
    m["files"].append({"path": "../outside.txt", "bytes": 1, "sha256": "0" * 64})
    (copy / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    assert_caught(copy, "../outside.txt: listed with a path outside the export")


def test_an_events_file_replaced_by_another_table_is_named_not_a_crash(copy):
    name = events_files(copy)[0]
    shutil.copy(copy / "tables" / "poll_results.parquet", copy / name)
    relisted(copy, name, rows=pq.ParquetFile(copy / name).metadata.num_rows)
    message = assert_caught(copy, f"{name}: cannot be read as events (lacks the column(s) event_id")
    assert "event ids cannot be read" in message
