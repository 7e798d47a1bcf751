"""Crash anywhere: the real CLI is SIGKILLed at random moments of a sync, and re-run.

A compliance record must survive its writer dying at any instant: before the file
exists, while the schema is created, while pages are fetched, while a group of pages is
committed, while the WAL of the last victim is replayed. After every kill the file must
open and hold only true events, each once, with the ledger counting exactly what was
committed; after a final run it must equal a clean sync, row for row, and `sync_runs`
must say which runs were interrupted.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

import toolkit
from toolkit.errors import EXIT_OK, DatabaseLockedError, UsageError
from toolkit.sample.generate import SampleInfo, write_sample
from toolkit.sandbox import Sandbox
from toolkit.store import database as db
from toolkit.store import typed

from .conftest import SANDBOX_TOKEN
from .test_sync import expected_ids
from .test_typed import assert_equals_its_rebuild, typed_differences

RANDOM_KILLS = 8  # at moments drawn from strata over a whole run
SEED = 20_240_607
ROW = "event_id, event_at, session_org_id, session_id, actor_user_id, event_type, data"


@dataclass
class Kill:
    """One victim: when it was killed, and whether it had already finished by then."""

    after: float
    finished_first: bool


def sync_command(listing: Path, database: Path, base_url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "toolkit",
        "sync",
        "--sessions-file",
        str(listing),
        "--db",
        str(database),
        "--base-url",
        base_url,
        "--concurrency",
        "2",
    ]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    return {**env, "WEBEX_ACCESS_TOKEN": SANDBOX_TOKEN}


def timed_run(command: list[str]) -> float:
    """Run a sync to the end; return how long it took."""
    started = time.monotonic()
    out = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=120)
    assert out.returncode == EXIT_OK, out.stderr
    return time.monotonic() - started


def kill_after(command: list[str], seconds: float) -> Kill:
    """Start a sync and SIGKILL it `seconds` later (unless it has finished by then)."""
    proc = subprocess.Popen(
        command, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    return _reaped(proc, seconds)


def kill_after_commit(command: list[str], database: Path, session_id: str) -> Kill:
    """Start a sync and SIGKILL it as soon as a reader sees events of the session in the
    record: right after a commit (asking through `toolkit.open`, as a notebook would)."""
    started = time.monotonic()
    known = committed(database, session_id)
    proc = subprocess.Popen(
        command, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    while proc.poll() is None and time.monotonic() < started + 60:
        if committed(database, session_id) > known:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    return _reaped(proc, time.monotonic() - started)


def pages_served(box: Sandbox, session_id: str, since: float) -> int:
    """Pages of the session the sandbox answered 200 since `since`."""
    needle = f"sessionId={session_id}"
    log = list(box.request_log)
    return sum(
        1 for t, _m, target, status in log if t >= since and status == 200 and needle in target
    )


def committed(database: Path, session_id: str) -> int:
    """The session's events in the record now (0 before the file has its schema)."""
    if not database.exists():
        return 0
    try:
        frame = toolkit.query(
            toolkit.open(database, wait=5),
            "SELECT count(*) AS n FROM events WHERE session_id = $s",
            {"s": session_id},
        )
    except (UsageError, DatabaseLockedError):  # no schema yet, or a long upgrade
        return 0
    return int(frame["n"][0])


class Readers:
    """Readers running beside the victims: one asks every 50 ms through `toolkit.open`,
    one holds a read-only connection for random spans (the sync spools meanwhile)."""

    def __init__(self, database: Path, seed: int):
        self.database, self.rng = database, random.Random(seed)
        self.stop = threading.Event()
        self.refused: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._ask, daemon=True),
            threading.Thread(target=self._hold, daemon=True),
        ]

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _ask(self) -> None:
        while not self.stop.wait(0.05):
            try:
                committed(self.database, "")
            except Exception as exc:
                self.refused.append(exc)

    def _hold(self) -> None:
        while not self.stop.wait(self.rng.uniform(0.2, 1.0)):
            try:
                con = toolkit.connect(self.database, read_only=True, wait=5)
            except (UsageError, DatabaseLockedError):
                continue  # no schema yet, or the sync is committing: try again later
            self.stop.wait(self.rng.uniform(0.2, 1.5))
            con.close()


def _reaped(proc: subprocess.Popen, after: float) -> Kill:
    _out, err = proc.communicate(timeout=30)
    if proc.returncode != -signal.SIGKILL:
        assert proc.returncode == EXIT_OK, err
    return Kill(after, proc.returncode == EXIT_OK)


def rows(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT {ROW} FROM events ORDER BY event_id").fetchall()
    finally:
        con.close()


# What opening the file may say after the first victim died before committing its schema
NOTHING_COMMITTED = (
    r"no database at .*; run|database .* needs a schema upgrade|cannot open database "
)


def check_after_kill(path: Path, truth: set[str], committed_before: bool = True) -> int | None:
    """The invariants that hold after any kill; return the events stored.

    None only for a victim that found no committed schema (`committed_before` false)
    and was killed before committing one; once a schema has been committed, no later
    kill may make the file unreadable.
    """
    try:
        con = db.connect(path, read_only=True)
    except UsageError as exc:
        assert not committed_before, f"a kill made the committed record unreadable: {exc}"
        assert re.match(NOTHING_COMMITTED, str(exc)), f"unexpected refusal after a kill: {exc}"
        return None
    try:
        ids = [r[0] for r in con.execute("SELECT event_id FROM events").fetchall()]
        typed_rows = con.execute("SELECT event_id FROM event_fields").fetchall()
        typed_ids = [r[0] for r in typed_rows]
        ledger = con.execute(
            """
            SELECT r.sync_id, r.events_new, count(e.event_id)
            FROM sync_runs AS r LEFT JOIN events AS e USING (sync_id)
            GROUP BY ALL
            """
        ).fetchall()
    finally:
        con.close()
    assert len(ids) == len(set(ids)), "an event stored twice"
    assert sorted(typed_ids) == sorted(ids), "typed rows not committed with their events"
    assert set(ids) <= truth, "an event invented"
    for sync_id, counted, stored in ledger:
        assert counted == stored, f"run {sync_id} counts {counted} new events, stored {stored}"
    return len(ids)


@pytest.fixture(scope="module")
def large_dataset(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    """40,000 events in 2 sessions: each over 16,384 rows, so runs commit mid-way."""
    return write_sample(tmp_path_factory.mktemp("large"), sessions=2, events=40_000, seed=13)


def test_sync_killed_anywhere_then_rerun_matches_a_clean_sync(
    large_dataset, sandbox_factory, tmp_path
):
    box = sandbox_factory(dataset_dir=large_dataset.out_dir, latency=0.005)
    listing = tmp_path / "sessions.csv"
    listing.write_text("".join(f"{s.org_id},{s.session_id}\n" for s in large_dataset.sessions))
    clean, victim = tmp_path / "clean.duckdb", tmp_path / "victim.duckdb"
    duration = timed_run(sync_command(listing, clean, box.base_url))
    reference = rows(clean)
    truth = {r[0] for r in reference}
    assert len(truth) == len(reference) == large_dataset.events

    rng = random.Random(SEED)
    moments: list[float | None] = [
        (i + rng.random()) * duration * 1.1 / RANDOM_KILLS for i in range(RANDOM_KILLS)
    ]
    rng.shuffle(moments)  # strata over the whole run, visited in random order
    moments.insert(0, None)  # None: right after a commit; the first on the empty file
    moments.insert(rng.randrange(2, len(moments)), None)
    larger = max(large_dataset.sessions, key=lambda s: s.events).session_id
    command = sync_command(listing, victim, box.base_url)
    kills, stored = [], []
    with Readers(victim, SEED) as readers:
        for moment in moments:
            if moment is None:
                kills.append(kill_after_commit(command, victim, larger))
            else:
                kills.append(kill_after(command, moment))
            stored.append(check_after_kill(victim, truth, any(n is not None for n in stored)))
    assert not readers.refused, readers.refused[:3]
    timed_run(command)

    assert rows(victim) == reference, "the record differs from a clean sync"
    # typed storage: as the clean sync's (whose sessions may have been numbered in
    # another order), and as a rebuild from the events alone (numbers included)
    assert typed_differences(victim, clean, numbered=False) == dict.fromkeys(typed.TABLES, (0, 0))
    assert_equals_its_rebuild(victim, tmp_path)
    assert_ledger_tells_the_truth(victim, large_dataset, kills)
    # the kill right after the first commit kept it (all of the record, on a machine
    # fast enough to fetch every page within one group)
    assert stored[0] is not None and 0 < stored[0] <= large_dataset.events, stored


def assert_ledger_tells_the_truth(path: Path, info: SampleInfo, kills: list[Kill]) -> None:
    """Runs that finished say ok; the killed ones say failed, interrupted, with their counts."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        runs = con.execute(
            "SELECT status, error, events_new, pages, events_received, finished_at "
            "FROM sync_runs ORDER BY sync_id"
        ).fetchall()
        stored = con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()
    sessions = len(info.sessions)
    finished = 1 + sum(k.finished_first for k in kills)
    ok = [r for r in runs if r[0] == "ok"]
    interrupted = [r for r in runs if r[0] != "ok"]
    assert len(ok) >= sessions * finished  # a killed process may have finished one session
    assert all(r[5] is not None for r in ok)
    assert len(runs) <= sessions * (len(kills) + 1)
    for status, error, new, pages, received, _finished_at in interrupted:
        assert status == "failed" and error.startswith("interrupted"), (status, error)
        assert new <= received and (pages == 0) == (received == 0)
    # (a killed run need not have committed pages: a session whose pages fit in one
    # group commits them with its ending, so the run killed after it reads ok)
    assert sum(r[2] for r in runs) == stored == info.events


@pytest.mark.parametrize("after", [0.2, 0.4, 0.7])  # Ctrl-C lands in different work
def test_ctrl_c_mid_sync_exits_130_cleanly_and_a_rerun_completes_the_record(
    large_dataset, sandbox_factory, tmp_path, after
):
    # 20 ms a page: the sync lasts well over a second, so the Ctrl-C lands mid-way even
    # when the machine is idle and the client fast (at 5 ms it once finished first)
    box = sandbox_factory(dataset_dir=large_dataset.out_dir, latency=0.02)
    listing = tmp_path / "sessions.csv"
    listing.write_text("".join(f"{s.org_id},{s.session_id}\n" for s in large_dataset.sessions))
    database = tmp_path / "interrupted.duckdb"
    command = sync_command(listing, database, box.base_url)
    proc = subprocess.Popen(
        command, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # a page served means the schema is committed and fetching has begun (the file merely
    # existing did not: on a busy machine the Ctrl-C could land in the schema's creation)
    deadline = time.monotonic() + 30
    while not pages_served(box, "", since=0) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    time.sleep(after)  # fetching, with groups in flight
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip() in ("Aborted.", "Interrupted.")
    truth = expected_ids(large_dataset)
    assert check_after_kill(database, truth) is not None
    con = duckdb.connect(str(database), read_only=True)
    try:
        closed = con.execute("SELECT status, error, pages FROM sync_runs").fetchall()
    finally:
        con.close()
    # closed at once, not left 'running': partial with what it kept, or failed with
    # nothing (a session that finished before the Ctrl-C stays ok)
    assert any(status != "ok" for status, _error, _pages in closed)
    for status, error, pages in closed:
        assert (status, error) == ("ok", None) or (
            status == ("partial" if pages else "failed") and error.startswith("interrupted")
        )
    timed_run(command)
    assert {r[0] for r in rows(database)} == truth
    con = duckdb.connect(str(database), read_only=True)
    try:
        statuses = con.execute("SELECT status, error FROM sync_runs ORDER BY sync_id").fetchall()
    finally:
        con.close()
    assert statuses[-2:] == [("ok", None)] * 2
    assert all(
        (s, e) == ("ok", None) or (s in ("partial", "failed") and e.startswith("interrupted"))
        for s, e in statuses[:-2]
    )
