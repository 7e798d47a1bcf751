"""Sync against the real sandbox on loopback: contract, faults, outcomes, ledger."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from toolkit.config import Secret, SessionRef
from toolkit.errors import EXIT_API, EXIT_AUTH
from toolkit.ingest import fetching
from toolkit.ingest.client import Client, RetryPolicy
from toolkit.ingest.events import event_id
from toolkit.ingest.sync import SyncOptions, exit_code, sync_sessions
from toolkit.sample.generate import SampleInfo
from toolkit.store import database as db
from toolkit.store import ledger

from .conftest import SANDBOX_TOKEN

FAST = RetryPolicy(attempts=8, backoff=0.01, backoff_max=0.05, max_wait=5)


def refs_of(info: SampleInfo) -> list[SessionRef]:
    return [SessionRef(s.org_id, s.session_id) for s in info.sessions]


def expected_ids(info: SampleInfo, dataset: Path | None = None) -> set[str]:
    """The distinct event ids of a dataset, computed from its files."""
    root = dataset or info.out_dir
    ids = set()
    for session in info.sessions:
        for line in (root / session.file).read_text(encoding="utf-8").splitlines():
            ids.add(event_id(json.loads(line)))
    return ids


def stored_ids(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT event_id FROM events").fetchall()]


def assert_listed_pages_are_stored(con, box, refs: list[SessionRef]) -> None:
    """Every page listed in stored_pages, fetched again, holds only stored events."""
    listed = {bytes(r[0]) for r in con.execute("SELECT body_sha256 FROM stored_pages").fetchall()}
    assert listed
    ids = set(stored_ids(con))
    client = Client(box.base_url, Secret(SANDBOX_TOKEN), FAST)
    try:
        for ref in refs:
            for page in client.iter_pages(ref.org_id, ref.session_id):
                if page.digest in listed:
                    assert {event_id(item) for item in page.items} <= ids
    finally:
        client.close()


def run(tmp_db, box, refs, **options):
    # a test that asks for N sessions at once gets them, interleaved: not paced
    options.setdefault("paced", False)
    con = db.connect(tmp_db)
    opts = SyncOptions(
        box.base_url, Secret(SANDBOX_TOKEN), policy=options.pop("policy", FAST), **options
    )
    return con, sync_sessions(con, refs, opts)


def test_full_sync_stores_exactly_the_served_events(sample_dataset, sandbox_factory, tmp_db):
    con, results = run(tmp_db, sandbox_factory(), refs_of(sample_dataset))
    ids = stored_ids(con)
    assert len(ids) == len(set(ids)) == sample_dataset.events
    assert set(ids) == expected_ids(sample_dataset)
    assert [r.status for r in results] == ["ok"] * 3
    runs = con.execute(
        "SELECT sum(events_new), sum(events_received), min(pages) "
        "FROM sync_runs WHERE status = 'ok'"
    ).fetchone()
    assert runs[0] == runs[1] == sample_dataset.events and runs[2] >= 2


def test_second_sync_adds_nothing_and_counts_duplicates(sample_dataset, sandbox_factory, tmp_db):
    box = sandbox_factory()
    run(tmp_db, box, refs_of(sample_dataset))[0].close()
    con, results = run(tmp_db, box, refs_of(sample_dataset))
    assert sum(r.new for r in results) == 0
    assert sum(r.duplicates for r in results) == sample_dataset.events
    assert len(stored_ids(con)) == sample_dataset.events


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 0.3},
        {"error_rate": 0.3, "error_statuses": (502,)},
        {"truncate_rate": 0.3},
        {"non_json_rate": 0.3},
        {"drop_rate": 0.2},
        {"rate_limit_every": 3, "retry_after": "0"},
        {"rate_limit_every": 3, "retry_after": ""},
        {"rate_limit_every": 3, "retry_after": "soon"},
        {"rate_limit_every": 3, "retry_after": None},
        {"locked_every": 4, "retry_after": None},
        {"duplicate_rate": 0.5},
        {"oversize_page": 40},
        {"empty_next": True},
        {"page_size": 7},
    ],
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()),
)
def test_sync_survives_fault_and_stores_each_event_once(
    faults, sample_dataset, sandbox_factory, tmp_db
):
    box = sandbox_factory(seed=3, **faults)
    con, results = run(tmp_db, box, refs_of(sample_dataset))
    assert [r.status for r in results] == ["ok"] * 3, [r.error for r in results]
    ids = stored_ids(con)
    assert len(ids) == len(set(ids)) and set(ids) == expected_ids(sample_dataset)
    assert_listed_pages_are_stored(con, box, refs_of(sample_dataset))


def test_a_resync_skips_pages_stored_before_unless_asked_to_recheck(
    sample_dataset, sandbox_factory, tmp_db
):
    box, refs = sandbox_factory(), refs_of(sample_dataset)
    con, results = run(tmp_db, box, refs)
    listed = con.execute("SELECT count(*), sum(items) FROM stored_pages").fetchone()
    assert listed == (sum(r.pages for r in results), sample_dataset.events)
    (gone,) = con.execute("SELECT event_id FROM events ORDER BY event_id LIMIT 1").fetchone()
    con.execute("DELETE FROM events WHERE event_id = ?", [gone])  # behind the toolkit's back
    con.close()

    con, results = run(tmp_db, box, refs)
    assert sum(r.received for r in results) == sample_dataset.events
    assert sum(r.new for r in results) == 0
    assert gone not in stored_ids(con)  # its page's body was known, so not decoded
    con.close()

    con, results = run(tmp_db, box, refs, recheck=True)
    assert sum(r.new for r in results) == 1 and gone in stored_ids(con)
    assert con.execute("SELECT count(*) FROM stored_pages").fetchone() == (listed[0],)


def test_sync_waits_retry_after_on_429_never_sooner(sample_dataset, sandbox_factory, tmp_db):
    box = sandbox_factory(rate_limit_every=2, retry_after="1")
    _con, results = run(tmp_db, box, refs_of(sample_dataset)[:1])
    assert results[0].status == "ok"
    log = [(t, status) for t, _method, _path, status in box.request_log]
    waits = [log[i + 1][0] - t for i, (t, status) in enumerate(log[:-1]) if status == 429]
    assert waits and min(waits) >= 1.0


def test_a_retry_after_beyond_max_wait_fails_instead_of_waiting(
    sample_dataset, sandbox_factory, tmp_db
):
    box = sandbox_factory(rate_limit_every=1, retry_after="3600")
    _con, results = run(tmp_db, box, refs_of(sample_dataset)[:1])
    assert results[0].status == "failed" and "3600" in results[0].error
    assert exit_code(results) == EXIT_API


def test_persistent_5xx_ends_failed_with_status_and_tracking_id(
    sample_dataset, sandbox_factory, tmp_db
):
    con, results = run(
        tmp_db, sandbox_factory(error_rate=1.0, error_statuses=(503,)), refs_of(sample_dataset)[:1]
    )
    (result,) = results
    assert result.status == "failed" and exit_code(results) == EXIT_API
    assert "HTTP 503" in result.error and "trackingid SANDBOX_" in result.error
    row = con.execute("SELECT status, error FROM sync_runs").fetchone()
    assert row == ("failed", result.error)


def test_repeated_next_token_stops_partial_keeping_what_was_fetched(
    sample_dataset, sandbox_factory, tmp_db
):
    con, results = run(tmp_db, sandbox_factory(repeat_next=True), refs_of(sample_dataset)[:1])
    (result,) = results
    assert result.status == "partial" and "repeated pagination token" in result.error
    ids = stored_ids(con)
    assert len(ids) == len(set(ids)) == sample_dataset.sessions[0].events


def test_wrong_token_fails_with_auth_exit_status(sample_dataset, sandbox_factory, tmp_db):
    box = sandbox_factory(token="the-right-one")
    _con, results = run(tmp_db, box, refs_of(sample_dataset)[:1])
    assert results[0].status == "failed" and "HTTP 401" in results[0].error
    assert exit_code(results) == EXIT_AUTH
    assert SANDBOX_TOKEN not in results[0].error


def test_lagging_events_arrive_on_a_later_sync(sample_dataset, sandbox_factory, tmp_db):
    ref = refs_of(sample_dataset)[:1]
    lines = (sample_dataset.out_dir / sample_dataset.sessions[0].file).read_text().splitlines()
    times = sorted(json.loads(line)["createdAtMs"] for line in lines)
    middle = times[len(times) // 2]
    lag = 15 * 60 * 1000
    con, _ = run(tmp_db, sandbox_factory(now_ms=middle + lag, lag_ms=lag), ref)
    first = len(stored_ids(con))
    con.close()
    con, _ = run(tmp_db, sandbox_factory(), ref)
    assert 0 < first < len(lines) == len(stored_ids(con))


def test_malformed_items_are_kept_whole_in_rejected_events(tmp_path, sandbox_factory, tmp_db):
    from toolkit.sample.generate import write_sample

    info = write_sample(tmp_path / "ds", sessions=1, events=300, seed=1)
    path = info.out_dir / info.sessions[0].file
    hostile = [
        b"42",
        b'"just text"',
        b'{"createdAtMs": "noon"}',
        b"[1,2]",
        b'{"createdAtMs":1,"sessionId":"s","sessionOrgId":"o","userId":"u","data":{}}',
    ]
    with path.open("ab") as fh:
        fh.write(b"\n".join(hostile) + b"\n")
    box = sandbox_factory(dataset_dir=info.out_dir, page_size=20)
    con, results = run(tmp_db, box, refs_of(info))
    assert results[0].status == "ok" and results[0].rejected == len(hostile)
    raws = {r[0] for r in con.execute("SELECT raw FROM rejected_events").fetchall()}
    assert {json.dumps(json.loads(h), separators=(",", ":")) for h in hostile} == raws
    assert len(stored_ids(con)) == 300
    con.close()
    con, results = run(tmp_db, box, refs_of(info))
    assert con.execute("SELECT count(*) FROM rejected_events").fetchone() == (len(hostile),)
    # pages with a rejected item are never listed as stored: each sync checks them again
    assert results[0].rejected == len(hostile)
    listed = con.execute("SELECT count(*) FROM stored_pages").fetchone()[0]
    assert 0 < listed < results[0].pages


ACTIVITY = "SELECT * FROM {} ORDER BY session_org_id, session_id"


@pytest.mark.parametrize("concurrency", [1, 3])
def test_sync_keeps_the_session_activity_store_equal_to_the_view(
    sample_dataset, sandbox_factory, tmp_db, concurrency
):
    # at 3, sessions' counts are computed while other sessions' pages are inserted
    con, _ = run(tmp_db, sandbox_factory(), refs_of(sample_dataset), concurrency=concurrency)
    stored = con.execute(ACTIVITY.format("session_activity_store")).fetchall()
    assert len(stored) == 3
    assert stored == con.execute(ACTIVITY.format("session_activity_in(false)")).fetchall()
    assert stored == con.execute(ACTIVITY.format("session_activity")).fetchall()
    results = "SELECT * FROM {} ORDER BY ALL"
    stored = con.execute(results.format("poll_results_store")).fetchall()
    assert stored == con.execute(results.format("poll_results_in(false)")).fetchall()


@pytest.mark.parametrize("at_once", [1, 99])  # one pass over the record; one per session
def test_refreshing_several_sessions_counts_equals_the_view(
    sample_dataset, sandbox_factory, tmp_db, monkeypatch, at_once
):
    con, _ = run(tmp_db, sandbox_factory(), refs_of(sample_dataset))
    monkeypatch.setattr(ledger, "SESSIONS_AT_ONCE", at_once)
    keys = con.execute("SELECT session_org_id, session_id FROM session_activity_store").fetchall()
    con.execute("UPDATE session_activity_store SET event_count = -1")  # every row stale
    ledger.refresh_sessions_activity(con, [*keys, keys[0]])  # a repeated session: one row
    stored = con.execute(ACTIVITY.format("session_activity_store")).fetchall()
    assert len(stored) == 3
    assert stored == con.execute(ACTIVITY.format("session_activity_in(false)")).fetchall()


def test_a_failure_computing_session_counts_is_raised_after_every_event_is_stored(
    sample_dataset, sandbox_factory, tmp_db
):
    con = db.connect(tmp_db)
    con.execute("DROP MACRO TABLE session_activity_in")  # the counts' query now fails for real
    threads = con.execute("SELECT current_setting('threads')").fetchall()
    opts = SyncOptions(sandbox_factory().base_url, Secret(SANDBOX_TOKEN), 2, FAST)
    with pytest.raises(duckdb.CatalogException, match="session_activity_in"):
        sync_sessions(con, refs_of(sample_dataset), opts)
    assert set(stored_ids(con)) == expected_ids(sample_dataset)
    assert con.execute("SELECT DISTINCT status FROM sync_runs").fetchall() == [("ok",)]
    assert con.execute("SELECT current_setting('threads')").fetchall() == threads


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities: Linux")
def test_workers_yield_the_cpu_to_the_writer_which_keeps_its_priority(
    sample_dataset, sandbox_factory, tmp_db
):
    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen: list[int] = []
    worker = threading.Thread(
        target=lambda: (fetching.yield_cpu_to_writer(), seen.append(priority()))
    )
    worker.start()
    worker.join()
    assert seen == [max(fetching.WORKER_NICENESS, priority())]
    before = priority()
    run(tmp_db, sandbox_factory(), refs_of(sample_dataset), concurrency=2)
    assert priority() == before  # the calling thread is the writer: never lowered


def test_sync_runs_duckdb_on_one_thread_and_restores_the_setting(
    sample_dataset, sandbox_factory, tmp_db
):
    con = db.connect(tmp_db)
    con.execute("SET threads = 3")
    during: list[int] = []

    def threads(_: object) -> None:  # on the writer's thread, between its statements
        during.append(con.execute("SELECT current_setting('threads')").fetchall()[0][0])

    opts = SyncOptions(sandbox_factory().base_url, Secret(SANDBOX_TOKEN), 2, FAST)
    sync_sessions(con, refs_of(sample_dataset), opts, on_progress=threads)
    assert during and set(during) == {1}
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(3,)]


def test_sync_takes_arrow_memory_from_the_system_allocator_unless_told_and_restores_it(
    sample_dataset, sandbox_factory, tmp_db, monkeypatch
):
    import pyarrow as pa

    box = sandbox_factory()
    before = pa.default_memory_pool().backend_name
    pools: list[str] = []

    def pool(_: object) -> None:
        pools.append(pa.default_memory_pool().backend_name)

    opts = SyncOptions(box.base_url, Secret(SANDBOX_TOKEN), 2, FAST)
    sync_sessions(tmp_db, refs_of(sample_dataset), opts, on_progress=pool)
    assert pools and set(pools) == {"system"}
    assert pa.default_memory_pool().backend_name == before
    # an allocator the environment names is left as it is
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", before)
    pools.clear()
    sync_sessions(tmp_db, refs_of(sample_dataset), opts, on_progress=pool)
    assert pools and set(pools) == {before}


def test_sessions_counts_events_stored_after_the_last_sync(sample_dataset, sandbox_factory, tmp_db):
    from toolkit.analysis import queries

    from .helpers import envelope, insert_events

    con, _ = run(tmp_db, sandbox_factory(), refs_of(sample_dataset))
    first = sample_dataset.sessions[0]
    at = 1_700_000_000_000
    question = {
        "type": "qaaQuestion",
        "questionId": "q-later",
        "createdAtMs": at,
        "modifiedAtMs": at,
        "isDeleted": False,
        "text": "Later?",
        "status": "public",
    }
    insert_events(con, [envelope(question, at, session=first.session_id, org=first.org_id)])
    table = queries.sessions(con)
    row = table.filter(table["session_id"] == first.session_id).row(0, named=True)
    live = con.execute(
        "SELECT event_count, question_count FROM session_activity WHERE session_id = ?",
        [first.session_id],
    ).fetchone()
    assert (row["event_count"], row["question_count"]) == live
    assert row["event_count"] == first.events + 1


@pytest.mark.parametrize("concurrency", [1, 2])
def test_an_event_of_another_session_is_stored_once_whichever_session_serves_it(
    tmp_path, sandbox_factory, tmp_db, concurrency
):
    from toolkit.sample.generate import write_sample

    info = write_sample(tmp_path / "ds", sessions=2, events=200, seed=3)
    one, two = info.sessions
    stray = (info.out_dir / two.file).read_text(encoding="utf-8").splitlines()[0]
    for session in (one, two):  # both sessions serve the same event of session two
        with (info.out_dir / session.file).open("a", encoding="utf-8") as fh:
            fh.write(stray + "\n")
    box = sandbox_factory(dataset_dir=info.out_dir, page_size=40)
    for _ in range(2):
        con, results = run(tmp_db, box, refs_of(info), concurrency=concurrency)
        assert [r.status for r in results] == ["ok", "ok"]
        ids = stored_ids(con)
        assert len(ids) == len(set(ids)) == info.events
        assert_listed_pages_are_stored(con, box, refs_of(info))
        con.close()
    assert sum(r.new for r in results) == 0


def test_an_event_served_again_long_after_is_compared_with_the_database(
    tmp_path, sandbox_factory, tmp_db, monkeypatch
):
    from toolkit.sample.generate import write_sample
    from toolkit.store import digests

    monkeypatch.setattr(digests, "MERGE_AT", 4)  # so older additions keep only 8 bytes
    info = write_sample(tmp_path / "ds", sessions=1, events=300, seed=5)
    path = info.out_dir / info.sessions[0].file
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, *lines[:20]]) + "\n", encoding="utf-8")  # 20 again
    box = sandbox_factory(dataset_dir=info.out_dir, page_size=25)
    con, results = run(tmp_db, box, refs_of(info))
    assert results[0].status == "ok" and results[0].received == 320
    assert results[0].new == 300 and results[0].duplicates == 20
    ids = stored_ids(con)
    assert len(ids) == len(set(ids)) == 300
    # groups that held an event to compare are listed only on a later sync
    assert con.execute("SELECT count(*) FROM stored_pages").fetchone()[0] < results[0].pages
    con.close()
    con, results = run(tmp_db, box, refs_of(info))
    assert results[0].new == 0 and len(stored_ids(con)) == 300
