"""Concurrency: several processes on one database file, several sessions in one sync.

DuckDB lets one process write a file, or many read it, never both. A sync opens the
file only to commit, so readers get in between; a file held for a whole sync leaves its
events waiting in the spool (exit 0, saying so), a second sync of the same file exits 5
naming the first (`--wait` waits for it), and nothing is corrupted by any of it. Inside
one sync, sessions are fetched concurrently under every fault at once, and each
distinct valid event is stored exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from toolkit.errors import EXIT_LOCKED, EXIT_OK
from toolkit.ingest.client import RetryPolicy
from toolkit.sample.generate import SampleInfo, write_sample
from toolkit.store import database as db
from toolkit.store import spool

from .conftest import SANDBOX_TOKEN
from .test_cli import cli, sync_args
from .test_sync import expected_ids, refs_of, run, stored_ids

LOCKED = "is locked by another process"


def start_cli(*args: str) -> subprocess.Popen:
    """Start `python -m toolkit ARGS` in the background with the sandbox token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "toolkit", *args],
        env={**env, "WEBEX_ACCESS_TOKEN": SANDBOX_TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_holding(proc: subprocess.Popen, path: Path, timeout: float = 30) -> None:
    """Wait until the process has the database file open."""
    deadline = time.monotonic() + timeout
    target = str(path.resolve())
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"ended before holding the file: {proc.communicate()}"
        try:
            if any(f.path == target for f in psutil.Process(proc.pid).open_files()):
                return
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.02)
    raise AssertionError(f"{proc.args} never opened {path}")


def notebook(path: Path, hold: float) -> subprocess.Popen:
    """A notebook reading the database: a process with a read-only connection for `hold` s."""
    code = textwrap.dedent(f"""
        import time, toolkit
        con = toolkit.connect({str(path)!r}, read_only=True)
        print(con.execute("SELECT count(*) FROM events").fetchone()[0], flush=True)
        time.sleep({hold})
        con.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip().isdigit()
    return proc


def assert_equals_a_clean_sync(path: Path, info: SampleInfo, sessions: int = 1) -> None:
    """The file opens, and holds exactly the events of the synced sessions, each once."""
    con = db.connect(path, read_only=True)
    try:
        ids = stored_ids(con)
        runs = con.execute("SELECT status, count(*) FROM sync_runs GROUP BY 1").fetchall()
    finally:
        con.close()
    want = expected_ids(_only(info, sessions))
    assert len(ids) == len(set(ids)) == len(want) and set(ids) == want
    assert dict(runs).get("running", 0) == 0


def _only(info: SampleInfo, sessions: int) -> SampleInfo:
    chosen = info.sessions[:sessions]
    return SampleInfo(info.out_dir, info.seed, chosen, sum(s.events for s in chosen))


def _finish(proc: subprocess.Popen, timeout: float = 90) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_until_syncing(proc: subprocess.Popen, path: Path, timeout: float = 30) -> None:
    """Wait until the process holds the file's sync lock (it wrote its PID there)."""
    lock = spool.root_of(path) / "sync.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"ended before syncing: {proc.communicate()}"
        if lock.exists() and lock.read_text().strip() == str(proc.pid):
            return
        time.sleep(0.02)
    raise AssertionError(f"{proc.args} never took {lock}")


def test_while_a_sync_writes_a_second_waits_or_exits_5_and_readers_get_in(
    sample_dataset, sandbox_factory, tmp_db
):
    box = sandbox_factory(latency=0.1, page_size=25)
    first = start_cli(*sync_args(sample_dataset, box, tmp_db))
    try:
        wait_until_syncing(first, tmp_db)
        second = cli(*sync_args(sample_dataset, box, tmp_db))
        reader = cli("sql", "SELECT count(*) FROM events", "--db", str(tmp_db))
        waiting_sync = start_cli(*sync_args(sample_dataset, box, tmp_db, "--wait", "90"))
        waiting_status = start_cli("status", "--db", str(tmp_db), "--wait", "90")
        assert first.poll() is None, "the first sync ended too soon to test anything"
    finally:
        code, out, err = _finish(first)
    assert code == EXIT_OK, err
    assert second.returncode == EXIT_LOCKED, second.stderr
    assert f"another sync (PID {first.pid}) is writing {tmp_db}" in second.stderr
    assert "--wait" in second.stderr
    assert reader.returncode == EXIT_OK, reader.stderr  # it got in between two commits
    n = sample_dataset.sessions[0].events
    code, out, err = _finish(waiting_sync)
    assert code == EXIT_OK and f"{n} received, 0 new, {n} duplicates" in out, err
    # the record as committed when it asked: empty if the first group had not joined yet
    code, out, err = _finish(waiting_status)
    sid = sample_dataset.sessions[0].session_id
    assert code == EXIT_OK and (f"{sid} (org" in out or "no sessions stored yet" in out), err
    assert_equals_a_clean_sync(tmp_db, sample_dataset)


def test_a_notebook_holding_the_database_leaves_a_syncs_events_waiting(
    sample_dataset, sandbox_factory, tmp_db
):
    box = sandbox_factory()
    run(tmp_db, box, refs_of(sample_dataset)[:1])[0].close()
    reader = notebook(tmp_db, hold=60)
    try:
        held = cli(*sync_args(sample_dataset, box, tmp_db))
        other_reader = cli(
            "sql", "SELECT count(*) AS n FROM events", "--db", str(tmp_db), "--format", "csv"
        )
    finally:
        reader.kill()
        reader.wait()
    assert held.returncode == EXIT_OK, held.stderr
    n = sample_dataset.sessions[0].events
    assert f"{n} waiting to join" in held.stdout and f"PID {reader.pid}" in held.stdout
    assert other_reader.returncode == EXIT_OK, other_reader.stderr  # readers share the file
    assert other_reader.stdout.split() == ["n", str(n)]
    after = cli(*sync_args(sample_dataset, box, tmp_db))
    assert after.returncode == EXIT_OK and "0 new" in after.stdout, after.stderr
    assert "waiting" not in after.stdout
    assert_equals_a_clean_sync(tmp_db, sample_dataset)


def test_status_reads_beside_a_notebook_without_waiting(sample_dataset, sandbox_factory, tmp_db):
    run(tmp_db, sandbox_factory(), refs_of(sample_dataset)[:1])[0].close()
    reader = notebook(tmp_db, hold=2.0)
    out = cli("status", "--db", str(tmp_db))
    reader.wait()
    assert out.returncode == EXIT_OK, out.stderr
    assert f"{sample_dataset.sessions[0].events} events" in out.stdout


def test_wait_outlasts_a_notebook_and_then_the_events_join(sample_dataset, sandbox_factory, tmp_db):
    box = sandbox_factory()
    run(tmp_db, box, refs_of(sample_dataset)[:1])[0].close()
    reader = notebook(tmp_db, hold=2.0)
    out = cli(*sync_args(sample_dataset, box, tmp_db), "--wait", "60")
    reader.wait()
    assert out.returncode == EXIT_OK, out.stderr
    assert "waiting" not in out.stdout, "the last join did not wait for the notebook"
    assert not list(spool.root_of(tmp_db).glob("*/*.arrow"))
    assert_equals_a_clean_sync(tmp_db, sample_dataset)


def test_when_the_holder_stays_past_wait_the_events_wait_in_the_spool(
    sample_dataset, sandbox_factory, tmp_db
):
    box = sandbox_factory()
    run(tmp_db, box, refs_of(sample_dataset)[:1])[0].close()
    reader = notebook(tmp_db, hold=60)
    try:
        out = cli(*sync_args(sample_dataset, box, tmp_db), "--wait", "1.5")
    finally:
        reader.kill()
        reader.wait()
    assert out.returncode == EXIT_OK and f"PID {reader.pid}" in out.stdout, out.stderr
    assert list(spool.root_of(tmp_db).glob("*/*.arrow"))
    db.connect(tmp_db).close()  # the next writable open joins them
    assert not list(spool.root_of(tmp_db).glob("*/*.arrow"))
    assert_equals_a_clean_sync(tmp_db, sample_dataset)


# -- every fault at once, several sessions, concurrency 3 ------------------------------------

ALL_FAULTS = {
    "error_rate": 0.08,
    "error_statuses": (500, 501, 502, 503, 504, 520),
    "truncate_rate": 0.05,
    "non_json_rate": 0.05,
    "drop_rate": 0.04,
    "rate_limit_every": 9,
    "locked_every": 13,
    "retry_after": "0",
    "duplicate_rate": 0.3,
    "oversize_page": 30,
    "empty_next": True,
    "page_size": 100,
    "latency": 0.002,
}
PATIENT = RetryPolicy(attempts=16, backoff=0.01, backoff_max=0.05, max_wait=5)


def dataset_with_repeats_and_rejects(root: Path) -> tuple[SampleInfo, set[str], int]:
    """Four sessions; each file repeats some events (as is, re-keyed, re-spaced) and holds
    a few invalid lines. Returns the dataset, its distinct valid ids and distinct rejects."""
    info = write_sample(root, sessions=4, events=4000, seed=21)
    valid = expected_ids(info)
    rejects = set()
    for n, session in enumerate(info.sessions):
        path = info.out_dir / session.file
        lines = path.read_bytes().splitlines()
        extra = list(lines[::37])
        extra += [json.dumps(dict(reversed(json.loads(x).items()))).encode() for x in lines[5::53]]
        extra += [
            json.dumps(json.loads(x), indent=1).replace("\n", " ").encode() for x in lines[7::61]
        ]
        bad = [b'{"createdAtMs":"never","n":%d}' % n, b"[%d]" % n, b'"oops"', b'"oops"']
        rejects |= {(session.session_id, line) for line in bad}  # kept once per session
        with path.open("ab") as fh:
            fh.write(b"\n".join(extra + bad) + b"\n")
    return info, valid, len(rejects)


def test_all_faults_at_once_over_four_sessions_at_concurrency_3_store_each_event_once(
    tmp_path, sandbox_factory, tmp_db
):
    info, valid, rejected = dataset_with_repeats_and_rejects(tmp_path / "ds")
    for attempt in range(2):
        box = sandbox_factory(dataset_dir=info.out_dir, seed=11 + attempt, **ALL_FAULTS)
        con, results = run(tmp_db, box, refs_of(info), concurrency=3, policy=PATIENT)
        assert [r.status for r in results] == ["ok"] * 4, [r.error for r in results]
        ids = stored_ids(con)
        assert len(ids) == len(set(ids)), "an event stored twice"
        assert set(ids) == valid, "an event lost or invented"
        assert con.execute("SELECT count(*) FROM rejected_events").fetchone() == (rejected,)
        new = sum(r.new for r in results)
        assert new == (len(valid) if attempt == 0 else 0)
        statuses = {s for *_, s in box.request_log}
        assert {200, 429, 423, 0} <= statuses and statuses & {500, 501, 502, 503, 504, 520}
        con.close()
    con = db.connect(tmp_db, read_only=True)
    ledger = con.execute(
        "SELECT sum(events_new), min(events_received) FROM sync_runs WHERE status = 'ok'"
    ).fetchone()
    con.close()
    assert ledger[0] == len(valid) and ledger[1] > min(s.events for s in info.sessions)
