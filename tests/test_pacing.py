"""How many sessions a sync fetches at once: the pacer's rule, the launcher, a real sync."""

from __future__ import annotations

import queue
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

from toolkit.config import Secret, SessionRef
from toolkit.ingest import fetching
from toolkit.ingest.client import Client
from toolkit.ingest.events import known_page
from toolkit.ingest.pacing import WINDOW, Pacer

from .conftest import SANDBOX_TOKEN
from .test_sync import FAST, expected_ids, refs_of, run, stored_ids


def fed(pacer: Pacer, waited: float, worked: float, pages: int = WINDOW) -> Pacer:
    for _ in range(pages):
        pacer.record(waited, worked)
    return pacer


def test_one_session_until_a_page_is_measured():
    assert Pacer(8).target() == 1


def test_as_many_as_keep_the_work_going_between_one_and_the_limit():
    assert fed(Pacer(8), waited=0.0001, worked=0.002).target() == 1  # loopback
    assert fed(Pacer(8), waited=0.0015, worked=0.002).target() == 1  # not a whole page's wait
    assert fed(Pacer(8), waited=0.002, worked=0.002).target() == 2  # waits as long as works
    assert fed(Pacer(8), waited=0.006, worked=0.002).target() == 4
    assert fed(Pacer(8), waited=0.2, worked=0.002).target() == 8  # the real API: the limit
    assert fed(Pacer(8), waited=0.0, worked=0.0).target() == 1  # pages known from before


def test_one_slow_answer_among_fast_ones_changes_nothing():
    pacer = fed(Pacer(4), waited=0.0001, worked=0.002, pages=WINDOW - 1)
    pacer.record(waited=0.5, worked=0.002)  # a busy server, once
    assert pacer.target() == 1


def test_the_target_follows_the_network_when_it_changes():
    pacer = fed(Pacer(4), waited=0.05, worked=0.002)
    assert pacer.target() == 4
    assert fed(pacer, waited=0.0001, worked=0.002).target() == 1


def test_an_unpaced_pacer_always_allows_the_limit():
    assert Pacer(3, paced=False).target() == 3
    assert fed(Pacer(3, paced=False), waited=0.0, worked=0.002).target() == 3


def page(waited: float, worked: float) -> fetching.Fetched:
    return fetching.Fetched(known_page(0), None, waited, worked)


def handed_out(sessions: queue.SimpleQueue) -> list:
    out = []
    while not sessions.empty():
        out.append(sessions.get())
    return out


def test_the_launcher_hands_out_one_session_then_as_many_as_the_pacer_allows():
    sessions: queue.SimpleQueue = queue.SimpleQueue()
    threads: list[int] = []
    refs = ["a", "b", "c", "d"]
    launcher = fetching.Launcher(refs, sessions, lambda: threads.append(1), Pacer(3))  # type: ignore[arg-type]
    assert handed_out(sessions) == ["a"] and len(threads) == 1
    launcher.page(page(waited=0.0001, worked=0.002))
    assert handed_out(sessions) == []  # a fast network: one at a time
    launcher.ended()
    assert handed_out(sessions) == ["b"]
    assert len(threads) == 1  # the thread that fetched "a" fetches "b"
    for _ in range(WINDOW):
        launcher.page(page(waited=0.05, worked=0.002))
    assert handed_out(sessions) == ["c", "d"]  # three at once now: b, c and d
    assert len(threads) == 3
    launcher.ended()  # nothing left to hand out
    launcher.close()
    assert handed_out(sessions) == [None] * 3  # each thread ends


def test_the_client_counts_the_time_spent_waiting_for_answers(sample_dataset, sandbox_factory):
    box = sandbox_factory(latency=0.05)
    ref = refs_of(sample_dataset)[0]
    client = Client(box.base_url, Secret(SANDBOX_TOKEN), FAST)
    try:
        assert client.waited == 0.0
        client.get_page(ref.org_id, ref.session_id)
        assert client.waited >= 0.05
    finally:
        client.close()


def sessions_in_request_order(box) -> list[str]:
    return [parse_qs(urlsplit(target).query)["sessionId"][0] for _, _, target, _ in box.request_log]


def test_a_paced_sync_fetches_sessions_at_once_while_answers_keep_workers_waiting(
    sample_dataset, sandbox_factory, tmp_db
):
    box = sandbox_factory(latency=0.03, page_size=100)
    refs: list[SessionRef] = refs_of(sample_dataset)
    con, results = run(tmp_db, box, refs, concurrency=3, paced=True)
    assert [r.status for r in results] == ["ok"] * 3
    assert set(stored_ids(con)) == expected_ids(sample_dataset)
    order = sessions_in_request_order(box)
    switches = sum(1 for a, b in pairwise(order) if a != b)
    assert switches > len(refs) - 1  # interleaved, not one session after another
