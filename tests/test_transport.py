"""The prepared GETs of `transport.Route`: the requests `session.get` would send, made cheaply."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from toolkit.config import Secret
from toolkit.ingest.client import Client
from toolkit.ingest.transport import Route, new_session

from .conftest import SANDBOX_TOKEN
from .proxy import Proxy


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy or netrc from the machine."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("http://127.0.0.1:9/v1/slido/compliance/events", {"sessionOrgId": "o", "sessionId": "s"}),
        ("https://webexapis.com/v1/x", {"start": "a b+c/d=e&f?g%h~i", "é": "ü"}),
        ("https://webexapis.com/v1/meetings?max=100&cursor=b2Zmc2V0OjEwMA==", {"from": "2026"}),
        ("https://webexapis.com/v1/a path/ü?q=1 2", None),
        ("https://webexapis.com/v1/x#frag", {"start": "t"}),
        ("https://WebexAPIs.com:443/v1/x", {}),
    ],
)
def test_a_route_writes_the_url_requests_would(url, params):
    session = new_session()
    route = Route(session, "https://webexapis.com/v1", (1.0, 1.0))
    expected = session.prepare_request(requests.Request("GET", url, params=params)).url
    assert route._url(url, params) == expected
    assert route._url(url, params) == expected  # and again, from what it remembered


def test_a_route_sends_the_session_headers_and_one_bearer(sandbox_factory, sample_dataset):
    session = sample_dataset.sessions[0]
    box = sandbox_factory(page_size=500)
    with Proxy() as proxy, new_session() as http:
        http.proxies = {}  # the route reads the environment, as session.get does
        route = Route(http, box.base_url, (5.0, 5.0))
        params = {"sessionOrgId": session.org_id, "sessionId": session.session_id}
        resp = route.get(f"{box.base_url}/slido/compliance/events", params, Secret(SANDBOX_TOKEN))
        assert resp.status_code == 200 and resp.json()["items"]
        assert resp.request.headers["Authorization"] == f"Bearer {SANDBOX_TOKEN}"
        assert resp.request.headers["User-Agent"].startswith("slido-compliance-toolkit/")
    assert proxy.seen == []  # no proxy in the environment: none used


def test_a_pool_the_manager_closed_is_looked_up_again(sandbox_factory, sample_dataset):
    session = sample_dataset.sessions[0]
    box = sandbox_factory()
    client = Client(box.base_url, Secret(SANDBOX_TOKEN))
    try:
        first = client.get_page(session.org_id, session.session_id)
        client.session.get_adapter(box.base_url).poolmanager.clear()  # closes its pools
        again = client.get_page(session.org_id, session.session_id)
        assert again.digest == first.digest
    finally:
        client.close()
    assert len(box.request_log) == 2
