"""Discovery against the sandbox's List Meetings: windows, pages, the cap, faults, the org."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import requests

from toolkit.config import Secret
from toolkit.errors import AuthError, UsageError
from toolkit.ingest.discovery import (
    LATENCY,
    DiscoveryOptions,
    discover,
    parse_date,
    period,
    sessions_file_text,
    windows,
)
from toolkit.ingest.retry import RetryPolicy
from toolkit.sample.generate import SampleInfo, write_sample
from toolkit.sandbox.server import Faults, Sandbox

from .conftest import SANDBOX_TOKEN

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
DAY_MS = 24 * 3600 * 1000


@pytest.fixture(scope="module")
def recent(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    """12 sessions, one a week, the last two days ago: 12 Slido meetings and 12 without."""
    base = int(time.time() * 1000) - 2 * DAY_MS
    return write_sample(tmp_path_factory.mktemp("recent"), 12, 240, 3, base_ms=base)


def meetings_of(info: SampleInfo) -> list[dict]:
    assert info.meetings is not None
    lines = (info.out_dir / info.meetings).read_bytes().splitlines()
    return [orjson.loads(line) for line in lines]


def options(box: Sandbox, days: int = 100, **kw) -> DiscoveryOptions:
    now = datetime.now(timezone.utc)
    defaults = {
        "policy": RetryPolicy(backoff=0.001, backoff_max=0.01),
        "sleep": lambda _s: None,
    }
    return DiscoveryOptions(
        box.base_url, Secret(SANDBOX_TOKEN), now - timedelta(days=days), now, **(defaults | kw)
    )


def test_windows_cut_a_long_period_and_never_end_less_than_15_minutes_ago():
    cuts = windows(NOW - timedelta(days=20), NOW, NOW)
    assert cuts[0][0] == NOW - timedelta(days=20)
    assert [b - a for a, b in cuts][:2] == [timedelta(days=7)] * 2
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
    assert cuts[-1][1] == NOW - LATENCY
    assert windows(NOW - timedelta(minutes=10), NOW, NOW) == []


def test_the_period_is_the_last_7_days_by_default_and_days_or_from_not_both():
    assert period(None, None, None, NOW) == (NOW - timedelta(days=7), NOW)
    assert period(None, None, 30, NOW) == (NOW - timedelta(days=30), NOW)
    with pytest.raises(UsageError, match="--days and --from"):
        period(NOW - timedelta(days=1), None, 3, NOW)
    with pytest.raises(UsageError, match="is not before"):
        period(NOW, NOW - timedelta(days=1), None, NOW)
    assert parse_date("2026-03-01", "--from") == datetime(2026, 3, 1, tzinfo=timezone.utc)
    with pytest.raises(UsageError, match="--to 'soon' is not a date"):
        parse_date("soon", "--to")


def test_discovery_finds_exactly_the_slido_meetings_across_pages_windows_and_faults(
    recent: SampleInfo,
):
    faults = Faults(rate_limit_every=4, error_rate=0.25, retry_after="0", seed=5)
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN, faults=faults) as box:
        found = discover(options(box, window=timedelta(days=30), cap=3, page_size=2))
        log = list(box.request_log)
    slido = {m["id"] for m in meetings_of(recent) if m["hasSlido"]}
    assert {item["id"] for item in found.items} == slido == {s.session_id for s in recent.sessions}
    assert len(found.items) == 12
    statuses = {status for *_, status in log}
    assert {429, 200} <= statuses and statuses & {500, 502, 503, 504}
    queries = [parse_qs(urlsplit(target).query) for _, _, target, _ in log]
    assert any("cursor" in q for q in queries), "no Link was followed"
    # a window reaching the cap of 3 was halved: more windows than 30-day cuts
    assert found.windows > len(windows(found.start, found.end, datetime.now(timezone.utc),
                                       timedelta(days=30)))  # fmt: skip
    assert all(q.get("hasSlido") == ["true"] for q in queries if q)
    assert found.org_id == recent.sessions[0].org_id  # from /people/me


def test_discovery_keeps_only_instances_with_a_valid_id_that_do_not_deny_slido():
    from toolkit.ingest.discovery import _usable

    good = {"id": "abc_I_1", "meetingType": "meeting", "hasSlido": True}
    assert _usable(good) and _usable({"id": "abc_I_2"})
    assert not _usable({**good, "hasSlido": False})
    assert not _usable({**good, "meetingType": "scheduledMeeting"})
    assert not _usable({**good, "id": "../etc/passwd"}) and not _usable({"id": 7})
    assert not _usable(["not", "an", "object"])


def test_an_explicit_org_skips_people_me_and_the_sessions_file_lists_org_and_session(
    recent: SampleInfo,
):
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN) as box:
        found = discover(options(box, days=10, org_id="my-org"))
        paths = [urlsplit(target).path for _, _, target, _ in box.request_log]
    assert "/v1/people/me" not in paths
    lines = sessions_file_text(found).splitlines()
    assert lines[0].startswith("#")
    assert lines[1:] == [f"my-org,{item['id']}" for item in found.items]
    assert len(found.items) == 2  # the sessions of the last 10 days


def test_a_wrong_discovery_token_is_an_auth_error_that_does_not_quote_it(recent: SampleInfo):
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN) as box:
        opts = options(box)
        wrong = DiscoveryOptions(**{**opts.__dict__, "token": Secret("wrong-token-123")})
        with pytest.raises(AuthError) as caught:
            discover(wrong)
    assert "401" in str(caught.value) and "wrong-token-123" not in str(caught.value)


def test_the_sandbox_refuses_has_filters_without_ended_meeting_instances(recent: SampleInfo):
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN) as box:
        response = requests.get(
            f"{box.base_url}/meetings",
            params={"hasSlido": "true"},
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
            timeout=10,
        )
    assert response.status_code == 400 and "meetingType" in response.json()["message"]


def test_the_sandbox_lists_the_last_7_days_when_no_window_is_given(recent: SampleInfo):
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN) as box:
        response = requests.get(
            f"{box.base_url}/meetings",
            params={"meetingType": "meeting", "state": "ended", "hasSlido": "true"},
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
            timeout=10,
        )
    assert [i["id"] for i in response.json()["items"]] == [recent.sessions[-1].session_id]


def test_a_next_link_to_another_host_is_not_followed():
    from toolkit.ingest.discovery import same_origin

    base = "https://webexapis.com/v1"
    assert same_origin("https://webexapis.com/v1/meetings?cursor=x", base)
    assert not same_origin("http://webexapis.com/v1/meetings", base)
    assert not same_origin("https://evil.example/v1/meetings", base)
    assert not same_origin("https://webexapis.com:8443/v1/meetings", base)


def test_the_token_path_takes_only_post_and_the_others_only_get(recent: SampleInfo):
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN) as box:
        got = requests.get(f"{box.base_url}/access_token", timeout=10)
        posted = requests.post(
            f"{box.base_url}/meetings",
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
            timeout=10,
        )
    assert (got.status_code, got.headers["Allow"]) == (405, "POST")
    assert (posted.status_code, posted.headers["Allow"]) == (405, "GET")
