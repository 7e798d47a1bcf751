"""The sandbox, over real HTTP on a loopback port: contract, paging, every fault option."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from toolkit.errors import UsageError
from toolkit.sample.generate import SampleInfo, SessionInfo
from toolkit.sandbox.server import Faults, Sandbox, fault_options

AUTH = {"Authorization": "Bearer sandbox-token"}
HTTP_DATE = "Wed, 21 Oct 2026 07:28:00 GMT"
Factory = Callable[..., Sandbox]


def events_url(box: Sandbox) -> str:
    return f"{box.base_url}/slido/compliance/events"


def get(box: Sandbox, s: SessionInfo, start: str | None = None, **kwargs: Any) -> requests.Response:
    params = {"sessionOrgId": s.org_id, "sessionId": s.session_id}
    if start is not None:
        params["start"] = start
    kwargs.setdefault("headers", AUTH)
    return requests.get(events_url(box), params=params, timeout=10, **kwargs)


def iter_pages(box: Sandbox, s: SessionInfo, limit: int = 1000) -> list[dict[str, Any]]:
    """Follow `next` from the first page; return the pages."""
    pages, start = [], None
    for _ in range(limit):
        response = get(box, s, start)
        assert response.status_code == 200, response.text
        page = orjson.loads(response.content)
        pages.append(page)
        start = page.get("next")
        if not start:
            return pages
    raise AssertionError("the listing did not end")


def file_lines(info: SampleInfo, s: SessionInfo) -> list[bytes]:
    return (info.out_dir / s.file).read_bytes().splitlines()


@pytest.fixture
def first(sample_dataset: SampleInfo) -> SessionInfo:
    return sample_dataset.sessions[0]


# -- the contract --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic sandbox-token"}]
)
def test_events_need_the_bearer_token(
    sandbox_factory: Factory, first: SessionInfo, headers: dict[str, str]
) -> None:
    response = get(sandbox_factory(), first, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["message"] and body["trackingId"] == response.headers["TrackingID"]


def test_the_bearer_scheme_is_case_insensitive(
    sandbox_factory: Factory, first: SessionInfo
) -> None:
    response = get(sandbox_factory(), first, headers={"Authorization": "bearer sandbox-token"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "sessionId=abc",
        "sessionOrgId=abc",
        "sessionOrgId=abc&sessionId=a%20b",
        "sessionOrgId=abc&sessionId=x&sessionId=y",
        "sessionOrgId=abc&sessionId=" + "x" * 129,
        "sessionOrgId=abc&sessionId=x&start=",
        "sessionOrgId=abc&sessionId=x&start=not-a-token",
    ],
)
def test_bad_parameters_are_400(sandbox_factory: Factory, query: str) -> None:
    box = sandbox_factory()
    response = requests.get(f"{events_url(box)}?{query}", headers=AUTH, timeout=10)
    assert response.status_code == 400
    assert response.json()["trackingId"] == response.headers["TrackingID"]


def test_a_token_from_another_session_is_400(
    sandbox_factory: Factory, sample_dataset: SampleInfo
) -> None:
    box = sandbox_factory()
    a, b = sample_dataset.sessions[:2]
    token = get(box, a).json()["next"]
    assert get(box, b, token).status_code == 400
    assert get(box, a, token).status_code == 200


def test_an_unknown_session_is_an_empty_listing(
    sandbox_factory: Factory, first: SessionInfo
) -> None:
    unknown = SessionInfo(first.org_id, "f" * 32 + "_I_" + "1" * 18, 0, "")
    response = get(sandbox_factory(), unknown)
    assert response.status_code == 200 and response.json() == {"items": []}


def test_a_session_under_another_org_is_403(sandbox_factory: Factory, first: SessionInfo) -> None:
    other_org = SessionInfo("a1111111-1a11-111a-1a11-1a1111a1111a", first.session_id, 0, "")
    assert get(sandbox_factory(), other_org).status_code == 403


def test_other_paths_are_404_and_other_methods_405(sandbox_factory: Factory) -> None:
    box = sandbox_factory()
    assert requests.get(f"{box.base_url}/people", headers=AUTH, timeout=10).status_code == 404
    for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
        response = requests.request(method, events_url(box), headers=AUTH, timeout=10)
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "GET" and response.headers["TrackingID"]


def test_every_response_carries_a_unique_tracking_id(sandbox_factory: Factory) -> None:
    box = sandbox_factory(rate_limit_every=3, error_rate=0.3)
    ids = []
    for query in ("", "?sessionOrgId=a&sessionId=b", "?sessionId=b") * 6:
        response = requests.get(events_url(box) + query, headers=AUTH, timeout=10)
        assert response.headers["TrackingID"].startswith("SANDBOX_")
        ids.append(response.headers["TrackingID"])
    assert len(set(ids)) == len(ids)


# -- paging --------------------------------------------------------------------------------


def test_pages_serve_every_event_once_in_no_order(
    sandbox_factory: Factory, sample_dataset: SampleInfo
) -> None:
    box = sandbox_factory()
    for s in sample_dataset.sessions:
        pages = iter_pages(box, s)
        served = [orjson.dumps(item) for page in pages for item in page["items"]]
        assert all(len(page["items"]) <= 256 for page in pages)
        assert len(pages) == math.ceil(s.events / 256)
        assert sorted(served) == sorted(file_lines(sample_dataset, s))
        assert served != file_lines(sample_dataset, s)
        assert "next" not in pages[-1]


def test_next_tokens_are_opaque(sandbox_factory: Factory, sample_dataset: SampleInfo) -> None:
    box = sandbox_factory()
    tokens = [page["next"] for s in sample_dataset.sessions for page in iter_pages(box, s)[:-1]]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert not token.isdigit() and len(token) <= 128
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_page_order_follows_the_seed(
    sandbox_factory: Factory, first: SessionInfo, sample_dataset: SampleInfo
) -> None:
    one, same, other = (sandbox_factory(seed=seed) for seed in (1, 1, 2))
    assert get(one, first).content == get(same, first).content
    assert get(one, first).content != get(other, first).content


def test_page_size_and_an_empty_last_next_are_options(
    sandbox_factory: Factory, first: SessionInfo
) -> None:
    pages = iter_pages(sandbox_factory(page_size=100, empty_next=True), first)
    assert [len(p["items"]) for p in pages[:-1]] == [100] * (len(pages) - 1)
    assert pages[-1]["next"] == ""
    assert sum(len(p["items"]) for p in pages) == first.events


# -- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["0", "", "abc", HTTP_DATE, "3"])
def test_rate_limit_answers_429_with_retry_after_as_given(
    sandbox_factory: Factory, first: SessionInfo, retry_after: str
) -> None:
    box = sandbox_factory(rate_limit_every=2, retry_after=retry_after)
    statuses = [get(box, first) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 429, 200, 429]
    assert statuses[1].headers["Retry-After"] == retry_after


def test_rate_limit_can_come_without_retry_after(
    sandbox_factory: Factory, first: SessionInfo
) -> None:
    box = sandbox_factory(rate_limit_every=1, retry_after=None)
    response = get(box, first)
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_rate_limit_session_answers_429_to_that_session_only_counting_its_requests(
    sandbox_factory: Factory, sample_dataset: SampleInfo
) -> None:
    limited, other, *_ = sample_dataset.sessions
    box = sandbox_factory(rate_limit_session=limited.session_id, rate_limit_every=2)
    statuses = [(get(box, other).status_code, get(box, limited).status_code) for _ in range(4)]
    assert statuses == [(200, 200), (200, 429), (200, 200), (200, 429)]
    assert [entry[3] for entry in box.request_log] == [s for pair in statuses for s in pair]


def test_locked_answers_423(sandbox_factory: Factory, first: SessionInfo) -> None:
    box = sandbox_factory(locked_every=3, retry_after="2")
    statuses = [get(box, first) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 423]
    assert statuses[2].headers["Retry-After"] == "2"


def test_a_faulted_request_does_not_consume_the_page(
    sandbox_factory: Factory, first: SessionInfo
) -> None:
    clean, faulty = sandbox_factory(), sandbox_factory(rate_limit_every=2)
    token = get(faulty, first).json()["next"]
    assert get(faulty, first, token).status_code == 429
    assert get(faulty, first, token).content == get(clean, first, token).content


def test_error_rate_answers_that_share_with_5xx(
    sandbox_factory: Factory, first: SessionInfo
) -> None:
    runs = []
    for _ in range(2):
        box = sandbox_factory(error_rate=0.5, error_statuses=(500, 503), seed=4)
        runs.append([get(box, first).status_code for _ in range(120)])
    assert runs[0] == runs[1]
    counts = Counter(runs[0])
    assert set(counts) == {200, 500, 503}
    assert 40 < counts[500] + counts[503] < 80


def test_truncated_bodies_do_not_parse(sandbox_factory: Factory, first: SessionInfo) -> None:
    clean = get(sandbox_factory(), first).content
    response = get(sandbox_factory(truncate_rate=1.0), first)
    assert response.status_code == 200 and response.content == clean[: len(clean) // 2]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


def test_non_json_bodies_are_html(sandbox_factory: Factory, first: SessionInfo) -> None:
    response = get(sandbox_factory(non_json_rate=1.0), first)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


def test_dropped_connections_raise_connection_error(
    sandbox_factory: Factory, first: SessionInfo
) -> None:
    box = sandbox_factory(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        get(box, first)
    assert box.request_log[-1][3] == 0


def test_repeat_next_loops_forever(sandbox_factory: Factory, first: SessionInfo) -> None:
    box = sandbox_factory(repeat_next=True)
    start, followed = None, []
    for _ in range(10):
        start = get(box, first, start).json()["next"]
        followed.append(start)
    assert followed[-1] == followed[-2] == followed[-5]


def test_oversize_page_breaks_the_limit(sandbox_factory: Factory, first: SessionInfo) -> None:
    pages = iter_pages(sandbox_factory(oversize_page=44), first)
    assert len(pages[0]["items"]) == 300
    assert sum(len(p["items"]) for p in pages) == first.events


def test_duplicates_reappear_on_a_later_page(
    sandbox_factory: Factory, first: SessionInfo, sample_dataset: SampleInfo
) -> None:
    pages = iter_pages(sandbox_factory(duplicate_rate=0.1), first)
    served = [orjson.dumps(item) for page in pages for item in page["items"]]
    assert all(len(page["items"]) <= 256 for page in pages)
    assert set(served) == set(file_lines(sample_dataset, first))
    assert len(served) > first.events
    first_page = {orjson.dumps(item) for item in pages[0]["items"]}
    assert first_page & {orjson.dumps(item) for item in pages[1]["items"]}


def test_lag_holds_back_recent_events(
    sandbox_factory: Factory, first: SessionInfo, sample_dataset: SampleInfo
) -> None:
    created = [orjson.loads(x)["createdAtMs"] for x in file_lines(sample_dataset, first)]
    now_ms, lag_ms = max(created), 10 * 60 * 1000
    pages = iter_pages(sandbox_factory(now_ms=now_ms, lag_ms=lag_ms), first)
    served = [item["createdAtMs"] for page in pages for item in page["items"]]
    assert sorted(served) == sorted(t for t in created if t <= now_ms - lag_ms)
    assert 0 < len(served) < len(created)


def test_the_default_lag_serves_the_past_sample(
    sandbox_factory: Factory, first: SessionInfo
) -> None:
    pages = iter_pages(sandbox_factory(), first)
    assert sum(len(p["items"]) for p in pages) == first.events


def test_hostile_lines_are_served_byte_for_byte(tmp_path: Path, sandbox_factory: Factory) -> None:
    lines = [
        b"not json",
        b"[1,2,3]",
        b'"\xff\xfe not utf-8"',
        b'{"createdAtMs": 1, "huge": "' + b"x" * 1_000_000 + b'"}',
        b'{"createdAtMs":12,"sessionId":"s","data":{"type":"unknownType"}}',
        b'  {"spaced": true}  ',
    ]
    s = SessionInfo("o", "s", len(lines), "events/s.jsonl")
    (tmp_path / "events").mkdir()
    (tmp_path / s.file).write_bytes(b"\n".join(lines[:3]) + b"\n\n" + b"\n".join(lines[3:]))
    manifest = {"format": 1, "seed": 0, "sessions": [s.__dict__], "events": len(lines)}
    (tmp_path / "manifest.json").write_bytes(orjson.dumps(manifest))
    body = get(sandbox_factory(tmp_path, page_size=10), s).content
    assert body.startswith(b'{"items":[') and body.endswith(b"]}")
    inner = body[len(b'{"items":[') : -len(b"]}")]
    assert len(inner) == sum(map(len, lines)) + len(lines) - 1
    assert all(line in inner for line in lines)


# -- the Python API ------------------------------------------------------------------------


def test_request_log_never_holds_the_token(sandbox_factory: Factory, first: SessionInfo) -> None:
    box = sandbox_factory()
    get(box, first)
    get(box, first, headers={})
    assert [entry[3] for entry in box.request_log] == [200, 401]
    assert all(entry[1] == "GET" and "sessionId=" in entry[2] for entry in box.request_log)
    assert "sandbox-token" not in repr(box.request_log)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_only_loopback_hosts_are_allowed(sample_dataset: SampleInfo, host: str) -> None:
    with pytest.raises(UsageError, match="loopback"):
        Sandbox(sample_dataset.out_dir, host=host)


def test_a_missing_dataset_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no sample dataset"):
        Sandbox(tmp_path).start()


def test_a_busy_port_is_a_usage_error(sandbox_factory: Factory, sample_dataset: SampleInfo) -> None:
    box = sandbox_factory()
    with pytest.raises(UsageError, match="cannot listen"):
        Sandbox(sample_dataset.out_dir, port=box.port).start()


def test_the_context_manager_starts_and_stops(sample_dataset: SampleInfo) -> None:
    s = sample_dataset.sessions[0]
    with Sandbox(sample_dataset.out_dir) as box:
        assert box.base_url.startswith("http://127.0.0.1:") and box.base_url.endswith("/v1")
        assert get(box, s).status_code == 200
    with pytest.raises(requests.ConnectionError):
        get(box, s)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"error_rate": 1.5}, "--error-rate must be between 0 and 1, got 1.5"),
        ({"page_size": 0}, "--page-size must be at least 1, got 0"),
        ({"error_statuses": (404,)}, r"--error-statuses must be 5xx codes, got \(404,\)"),
        ({"latency": -1}, "--latency must not be negative"),
    ],
)
def test_bad_fault_values_are_usage_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Faults(**kwargs)


def test_every_fault_option_has_help() -> None:
    options = fault_options()
    assert {"latency", "rate_limit_every", "drop_rate", "repeat_next", "lag_ms"} <= set(options)
    assert "rate_limit_session" in options
    assert all(text for text in options.values())


SERVE = """
import signal, sys
from toolkit.sandbox.server import serve
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job may ignore it
serve(sys.argv[1], on_ready=lambda url: print(url, flush=True))
"""


def test_serve_runs_until_interrupted(sample_dataset: SampleInfo) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(sample_dataset.out_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        s = sample_dataset.sessions[0]
        params = {"sessionOrgId": s.org_id, "sessionId": s.session_id}
        url = f"{base_url}/slido/compliance/events"
        assert requests.get(url, params=params, headers=AUTH, timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    assert process.returncode == 0 and stderr == ""
