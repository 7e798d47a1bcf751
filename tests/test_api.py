"""The HTTP client's pure parts: Retry-After, the shared wait gate, redaction."""

from __future__ import annotations

import email.utils
import socket
import time

import pytest
import requests

from toolkit.config import Secret
from toolkit.ingest.client import (
    Client,
    RateGate,
    parse_retry_after,
    redact,
)
from toolkit.store.records import KnownPage

from .conftest import SANDBOX_TOKEN


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("nan", None),
    ],
)
def test_retry_after_seconds_and_unusable_values(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_http_date_is_seconds_from_now():
    now = 1_800_000_000.0
    value = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(value, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) is None


class FakeClock:
    """A clock that advances only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_gate_makes_every_worker_wait_out_the_longest_hold():
    clock = FakeClock()
    gate = RateGate(sleep=clock.sleep, clock=lambda: clock.now)
    gate.hold(5)
    gate.hold(2)
    gate.wait()
    assert sum(clock.slept) == pytest.approx(5)
    gate.wait()
    assert sum(clock.slept) == pytest.approx(5)


def test_redact_removes_the_token_from_messages():
    assert redact("bad token abc123 here", Secret("abc123")) == "bad token *** here"


@pytest.mark.parametrize("base", ["https://webexapis.com/v1", "HTTPS://webexapis.com/v1"])
def test_an_https_base_verifies_certificates_and_follows_no_redirect(base, monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    client = Client(base, Secret(SANDBOX_TOKEN))
    try:
        assert isinstance(client.session, requests.Session)
        assert client.session.verify is True
        assert client.session.get_redirect_target(requests.Response()) is None
    finally:
        client.close()


def test_a_page_whose_body_is_known_is_not_decoded(sandbox_factory, sample_dataset):
    session = sample_dataset.sessions[0]
    client = Client(sandbox_factory(page_size=50).base_url, Secret(SANDBOX_TOKEN))
    try:
        first = client.get_page(session.org_id, session.session_id)
        assert len(first.items) == 50 and first.next and len(first.digest) == 32
        known = {first.digest: KnownPage("the-next-token-remembered", 50)}
        again = client.get_page(session.org_id, session.session_id, known=known)
        assert (again.items, again.next, again.digest) == (
            [],
            "the-next-token-remembered",
            first.digest,
        )
        other = client.get_page(session.org_id, session.session_id, first.next, known=known)
        assert len(other.items) == 50 and other.digest != first.digest
    finally:
        client.close()


def test_the_next_page_is_asked_for_before_this_one_is_handed_over(sandbox_factory, sample_dataset):
    session = sample_dataset.sessions[0]
    box = sandbox_factory(page_size=50)
    client = Client(box.base_url, Secret(SANDBOX_TOKEN))
    try:
        pages = client.iter_pages(session.org_id, session.session_id)
        first = next(pages)
        deadline = time.monotonic() + 5
        while len(box.request_log) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert f"start={first.next}" in box.request_log[1][2]  # sent while we held page one
        rest = list(pages)
        assert sum(len(p.items) for p in [first, *rest]) == session.events
        assert len(box.request_log) == 1 + len(rest)  # no page asked for twice
        # a caller that stops early leaves an answer unread: the next request still works
        abandoned = client.iter_pages(session.org_id, session.session_id)
        next(abandoned)
        abandoned.close()
        assert client.get_page(session.org_id, session.session_id).digest == first.digest
    finally:
        client.close()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_pages_are_read_from_an_ipv6_loopback_base(sample_dataset):
    from toolkit.sandbox.server import Sandbox

    session = sample_dataset.sessions[0]
    with Sandbox(sample_dataset.out_dir, host="::1", token=SANDBOX_TOKEN) as box:
        assert box.base_url.startswith("http://[::1]:")
        client = Client(box.base_url, Secret(SANDBOX_TOKEN))
        try:
            pages = list(client.iter_pages(session.org_id, session.session_id))
        finally:
            client.close()
    assert sum(len(p.items) for p in pages) == session.events
