"""The nightly sync and the analysts' readers share the file: real processes, real files.

A sync opens the database only to commit; a reader that keeps a connection open for
a whole sync does not make it fail (what it fetched waits in the spool and joins
later, once); a reader asking through `toolkit.open` is never refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

import toolkit
from toolkit.errors import EXIT_LOCKED, EXIT_OK
from toolkit.ingest.events import EVENT_SCHEMA
from toolkit.sample.generate import SampleInfo, write_sample
from toolkit.store import spool

from .conftest import SANDBOX_TOKEN


def sessions_file(info: SampleInfo, folder: Path) -> Path:
    listing = folder / "sessions.csv"
    listing.write_text("".join(f"{s.org_id},{s.session_id}\n" for s in info.sessions))
    return listing


def sync_cmd(info: SampleInfo, folder: Path, db: Path, base_url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "toolkit",
        "sync",
        "--sessions-file",
        str(sessions_file(info, folder)),
        "--db",
        str(db),
        "--base-url",
        base_url,
        "--concurrency",
        "2",
    ]


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    return {**clean, "WEBEX_ACCESS_TOKEN": SANDBOX_TOKEN}


def hold(db: Path, read_only: bool = True) -> subprocess.Popen:
    """A process that opens the database and keeps it open until killed."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import time, toolkit
            con = toolkit.connect({str(db)!r}, read_only={read_only})
            print("held", flush=True)
            time.sleep(600)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env(),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def stored_ids(db: Path) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT event_id FROM events").fetchall()]
    finally:
        con.close()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    """4 sessions, 6,000 events: several pages each, so a sync takes a while with latency."""
    return write_sample(tmp_path_factory.mktemp("sharing"), sessions=4, events=6000, seed=5)


def test_a_reader_held_for_a_whole_sync_does_not_fail_it_and_every_event_joins_once(
    dataset, sandbox_factory, tmp_path
):
    db = tmp_path / "record.duckdb"
    toolkit.connect(db).close()  # the file exists, as a notebook would find it
    box = sandbox_factory(dataset_dir=dataset.out_dir, latency=0.01, page_size=200)
    reader = hold(db)
    try:
        out = subprocess.run(
            sync_cmd(dataset, tmp_path, db, box.base_url),
            env=env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == EXIT_OK, out.stderr
        assert "events wait in the spool to join the record" in out.stdout
        assert "Traceback" not in out.stderr
        waiting = spool.waiting(db)
        assert sum(waiting.values()) == dataset.events  # every event durable, none joined yet
        status = subprocess.run(
            [sys.executable, "-m", "toolkit", "status", "--db", str(db)],
            env=env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert status.returncode == EXIT_OK, status.stderr
        for session in dataset.sessions:
            assert f"{session.events} events waiting to join the record" in status.stdout
    finally:
        reader.kill()
        reader.wait()
    toolkit.connect(db).close()  # the next writable open joins the spool
    ids = stored_ids(db)
    assert len(ids) == len(set(ids)) == dataset.events
    assert not spool.root_of(db).exists() or not any(
        p.is_dir() for p in spool.root_of(db).iterdir()
    )
    con = toolkit.connect(db, read_only=True)
    runs = con.execute("SELECT status, events_new FROM sync_runs").fetchall()
    con.close()
    assert sorted(s for s, _ in runs) == ["ok"] * len(dataset.sessions)
    assert sum(n for _, n in runs) == dataset.events
    # a second join (a second open, a re-sync) adds nothing
    toolkit.connect(db).close()
    assert len(stored_ids(db)) == dataset.events


def test_a_reader_asking_every_100_ms_is_never_refused_and_sees_counts_only_grow(
    dataset, sandbox_factory, tmp_path
):
    db = tmp_path / "record.duckdb"
    toolkit.connect(db).close()
    # 50 ms a page: the sync lasts long enough for the reader to ask many times
    box = sandbox_factory(dataset_dir=dataset.out_dir, latency=0.05, page_size=100)
    sync = subprocess.Popen(
        sync_cmd(dataset, tmp_path, db, box.base_url),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rec = toolkit.open(db)
    counts: list[int] = []
    waits: list[float] = []
    while sync.poll() is None:
        started = time.monotonic()
        frame = toolkit.query(rec, "SELECT count(*) AS n FROM events")
        waits.append(time.monotonic() - started)
        counts.append(int(frame["n"][0]))
        time.sleep(0.1)
    out, err = sync.communicate()
    assert sync.returncode == EXIT_OK, err
    assert len(counts) > 5, "the sync ended before the reader asked much"
    assert counts == sorted(counts), "a count went down"
    assert max(waits) < 2.0, f"a question waited {max(waits):.2f} s"
    assert toolkit.query(rec, "SELECT count(*) AS n FROM events")["n"][0] == dataset.events
    assert "wait in the spool" not in out  # questions come and go: every group joined


def test_helpers_and_the_report_take_the_handle(dataset, sandbox_factory, tmp_path):
    db = tmp_path / "record.duckdb"
    box = sandbox_factory(dataset_dir=dataset.out_dir)
    options = toolkit.SyncOptions(box.base_url, toolkit.Secret(SANDBOX_TOKEN))
    refs = [toolkit.SessionRef(s.org_id, s.session_id) for s in dataset.sessions]
    toolkit.sync_sessions(db, refs, options)
    from toolkit.report.build import build_report

    rec = toolkit.open(db)
    sid = dataset.sessions[0].session_id
    con = toolkit.connect(db, read_only=True)
    try:
        assert toolkit.sessions(rec).equals(toolkit.sessions(con))
        assert toolkit.qa_questions(rec, sid).equals(toolkit.qa_questions(con, sid))
        assert toolkit.event_digest(rec, sid) == toolkit.event_digest(con, sid)
        assert toolkit.run_sql(rec, "SELECT count(*) AS n FROM events")["n"][0] == dataset.events
        stamp = "2026-01-01T00:00:00Z"
        assert build_report(rec, sid, generated_at=stamp) == build_report(
            con, sid, generated_at=stamp
        )
    finally:
        con.close()
    # between questions the file is free: a writer gets in
    toolkit.connect(db).close()


def test_a_second_sync_of_the_same_file_waits_then_says_who_holds_it(
    dataset, sandbox_factory, tmp_path
):
    db = tmp_path / "record.duckdb"
    box = sandbox_factory(dataset_dir=dataset.out_dir, latency=0.05, page_size=100)
    first = subprocess.Popen(
        sync_cmd(dataset, tmp_path, db, box.base_url),
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = spool.root_of(db) / "sync.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = subprocess.run(
            sync_cmd(dataset, tmp_path, db, box.base_url),
            env=env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == EXIT_LOCKED
        assert f"another sync (PID {first.pid}) is writing {db}" in second.stderr
    finally:
        first.wait(timeout=300)
    assert first.returncode == EXIT_OK
    ids = stored_ids(db)
    assert len(ids) == len(set(ids)) == dataset.events


def test_a_writable_open_leaves_a_live_syncs_spool_and_joins_an_ended_one(tmp_path):
    """A spool folder whose lock is held (a live sync) is left to its owner."""
    db = tmp_path / "record.duckdb"
    toolkit.connect(db).close()
    live = spool.Spool(db)
    run = spool.RunFacts("k", "org", "sid", "http://x", datetime.now(timezone.utc))
    live.write(
        spool.Group(run=run, events=EVENT_SCHEMA.empty_table(), pages=1, finished=("ok", None))
    )
    toolkit.connect(db).close()
    assert live.segments(), "a live sync's segment was taken"
    live.close()  # the sync ended with its segment still waiting
    toolkit.connect(db).close()
    con = toolkit.connect(db, read_only=True)
    try:
        assert con.execute("SELECT session_id, pages, status FROM sync_runs").fetchall() == [
            ("sid", 1, "ok")
        ]
    finally:
        con.close()
    assert not list(spool.root_of(db).glob("*/*.arrow"))


def test_a_workers_read_runs_beside_a_commit_in_progress_and_sees_the_committed_record(tmp_path):
    import threading

    from toolkit.store import database
    from toolkit.store.handle import RecordFile

    record = RecordFile(tmp_path / "x.duckdb")
    inside, leave = threading.Event(), threading.Event()

    def commit() -> None:
        with record.writing() as con, database.transaction(con):
            con.execute("INSERT INTO stored_pages VALUES ('o', 's', '\\x01'::BLOB, NULL, 1, 1)")
            inside.set()
            leave.wait(30)

    writer = threading.Thread(target=commit)
    writer.start()
    try:
        assert inside.wait(30)
        # the read would wait for the commit (which waits for it) if it were not beside it
        seen = record.read(database.stored_pages, "o", "s")
        assert seen == {}
    finally:
        leave.set()
        writer.join(30)
    assert record.read(database.stored_pages, "o", "s") is not None
    assert len(record.read(database.stored_pages, "o", "s") or {}) == 1
    record.close()
