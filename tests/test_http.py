"""The transport through real sockets: proxies, a test CA, ~/.netrc, renewed tokens."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme

from toolkit.config import Secret
from toolkit.errors import EXIT_API, EXIT_AUTH, ApiError, AuthError, UsageError
from toolkit.ingest.auth import redact
from toolkit.ingest.client import Client
from toolkit.ingest.http import Requester, new_session
from toolkit.sandbox.server import Sandbox

from .conftest import SANDBOX_TOKEN
from .proxy import Proxy

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")
CA_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy, CA bundle or netrc from the machine: each test sets what it tests."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name in CA_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    """A test CA and its certificate as a PEM file."""
    ca = trustme.CA()
    pem = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    return ca, pem


@pytest.fixture
def tls_sandbox(sample_dataset, test_ca) -> Iterator[Sandbox]:
    """The sandbox over https on 127.0.0.1, its certificate signed by the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca[0].issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with Sandbox(sample_dataset.out_dir, token=SANDBOX_TOKEN, tls=context) as box:
        yield box


def _page_all(base_url: str, session, token: Secret | object = None) -> int:
    client = Client(base_url, token or Secret(SANDBOX_TOKEN))  # type: ignore[arg-type]
    try:
        return sum(len(p.items) for p in client.iter_pages(session.org_id, session.session_id))
    finally:
        client.close()


def test_requests_go_through_the_proxy_named_by_http_proxy(
    sandbox_factory, sample_dataset, monkeypatch
):
    session = sample_dataset.sessions[0]
    box = sandbox_factory(page_size=200)
    with Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        assert _page_all(box.base_url, session) == session.events
    pages = -(-session.events // 200)
    assert len(proxy.seen) == len(box.request_log) == pages
    assert all(s.target.startswith(box.base_url) for s in proxy.seen)
    assert {s.auth_scheme for s in proxy.seen} == {"Bearer"}


def test_no_proxy_bypasses_the_proxy(sandbox_factory, sample_dataset, monkeypatch):
    session = sample_dataset.sessions[0]
    box = sandbox_factory()
    with Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        assert _page_all(box.base_url, session) == session.events
    assert proxy.seen == [] and box.request_log


def test_a_remote_proxy_never_sees_the_token_over_plain_http(sandbox_factory, monkeypatch):
    box = sandbox_factory()
    monkeypatch.setenv("HTTP_PROXY", "http://192.0.2.1:3128")  # TEST-NET-1: nothing there
    with pytest.raises(UsageError, match=r"plain HTTP through the proxy at 192\.0\.2\.1.*NO_PROXY"):
        Client(box.base_url, Secret(SANDBOX_TOKEN))
    assert box.request_log == []


def test_netrc_credentials_do_not_replace_the_bearer(
    sandbox_factory, sample_dataset, monkeypatch, tmp_path
):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password from-netrc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    session = sample_dataset.sessions[0]
    box = sandbox_factory()
    url = f"{box.base_url}/slido/compliance/events"
    with Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        # what requests does by itself: the netrc file is read and its login sent
        assert requests.get(url, timeout=10).status_code == 401
        assert _page_all(box.base_url, session) == session.events
        with new_session() as bare:  # no token: no Authorization at all, not netrc's
            assert bare.get(url, timeout=10).status_code == 401
    schemes = [s.auth_scheme for s in proxy.seen]
    assert schemes[0] == "Basic" and schemes[-1] is None
    assert set(schemes[1:-1]) == {"Bearer"}


def test_an_https_sandbox_is_trusted_through_requests_ca_bundle(
    tls_sandbox, sample_dataset, test_ca, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(test_ca[1]))
    session = sample_dataset.sessions[1]
    assert tls_sandbox.base_url.startswith("https://127.0.0.1:")
    assert _page_all(tls_sandbox.base_url, session) == session.events


def test_ssl_cert_file_is_honoured_when_requests_ca_bundle_is_unset(
    tls_sandbox, sample_dataset, test_ca, monkeypatch
):
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca[1]))
    session = sample_dataset.sessions[1]
    assert _page_all(tls_sandbox.base_url, session) == session.events


def test_https_goes_through_the_proxy_as_a_tunnel(
    tls_sandbox, sample_dataset, test_ca, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(test_ca[1]))
    session = sample_dataset.sessions[1]
    with Proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        assert _page_all(tls_sandbox.base_url, session) == session.events
    assert proxy.seen and {s.method for s in proxy.seen} == {"CONNECT"}
    assert {s.auth_scheme for s in proxy.seen} == {None}  # the token stays inside TLS


def test_an_untrusted_certificate_is_refused_by_name(tls_sandbox, sample_dataset):
    session = sample_dataset.sessions[0]
    client = Client(tls_sandbox.base_url, Secret(SANDBOX_TOKEN))
    try:
        with pytest.raises(ApiError, match=r"TLS certificate verification failed for 127\.0\.0\.1"):
            client.get_page(session.org_id, session.session_id)
    finally:
        client.close()
    assert tls_sandbox.request_log == []  # nothing reached the server, no retry either


def test_sync_exits_4_naming_certificate_verification_without_a_traceback(
    tls_sandbox, sample_dataset, tmp_path
):
    session = sample_dataset.sessions[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    env["WEBEX_ACCESS_TOKEN"] = SANDBOX_TOKEN
    args = ["sync", "--base-url", tls_sandbox.base_url, "--db", str(tmp_path / "c.duckdb")]
    args += ["--org", session.org_id, "--session", session.session_id]
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == EXIT_API, out
    assert "certificate verification failed" in out and "REQUESTS_CA_BUNDLE" in out
    assert "Traceback" not in out and SANDBOX_TOKEN not in out


def test_a_ca_bundle_that_does_not_exist_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(UsageError, match=r"REQUESTS_CA_BUNDLE is set to .*missing\.pem"):
        Client("https://webexapis.com/v1", Secret(SANDBOX_TOKEN))


class Renewing:
    """A token source that starts with a stale token and renews to the right one once."""

    def __init__(self, stale: str, fresh: str | None):
        self.tokens = [Secret(stale)]
        self.fresh = fresh
        self.renewals = 0

    def current(self) -> Secret:
        return self.tokens[-1]

    def renew(self, rejected: Secret) -> bool:
        self.renewals += 1
        if self.fresh is None or rejected is not self.tokens[0]:
            return False
        self.tokens.append(Secret(self.fresh))
        return True


def test_a_401_renews_the_token_and_retries_once(sandbox_factory, sample_dataset):
    session = sample_dataset.sessions[0]
    box = sandbox_factory()
    source = Renewing("stale-token-from-an-hour-ago", SANDBOX_TOKEN)
    assert _page_all(box.base_url, session, source) == session.events
    assert source.renewals == 1
    statuses = [entry[3] for entry in box.request_log]
    assert statuses[0] == 401 and set(statuses[1:]) == {200}


def test_a_401_that_cannot_be_renewed_ends_with_an_auth_error(sandbox_factory, sample_dataset):
    session = sample_dataset.sessions[0]
    box = sandbox_factory()
    source = Renewing("stale-token-from-an-hour-ago", None)
    with pytest.raises(AuthError, match="HTTP 401") as caught:
        _page_all(box.base_url, session, source)
    assert "stale-token" not in str(caught.value)
    assert source.renewals == 1 and len(box.request_log) == 1


def test_redaction_covers_every_token_the_source_handed_out(sandbox_factory, sample_dataset):
    session = sample_dataset.sessions[0]
    box = sandbox_factory()
    source = Renewing("stale-token-from-an-hour-ago", SANDBOX_TOKEN)
    requester = Requester(box.base_url, source)  # type: ignore[arg-type]
    try:
        url = f"{box.base_url}/slido/compliance/events"
        params = {"sessionOrgId": session.org_id, "sessionId": session.session_id}
        assert requester.get(url, params, "session x").json()["items"]
        text = f"went stale-token-from-an-hour-ago then {SANDBOX_TOKEN}."
        assert requester.redact(text) == "went *** then ***."
    finally:
        requester.close()


def test_a_short_token_is_redacted_as_a_token_not_as_every_letter():
    message = "session s: network error: NewConnectionError (trackingid none)"
    assert redact(message, Secret("t")) == message
    assert redact("sent t, then ?access_token=t&x=1 and /t/", Secret("t")) == (
        "sent ***, then ?access_token=***&x=1 and /***/"
    )
    long = Secret("abcdefghijklmnopqrstuvwxyz-0123456789")
    assert redact(f"Bearer {long.reveal()}.", long, Secret("abc")) == "Bearer ***."


def _sync(*args: str, token: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    env["WEBEX_ACCESS_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "toolkit", "sync", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_sync_with_a_short_token_keeps_messages_legible(sandbox_factory, sample_dataset, tmp_path):
    box = sandbox_factory(token="the-sandbox-wants-another-token")
    org = sample_dataset.sessions[0].org_id
    args = ["--base-url", box.base_url, "--db", str(tmp_path / "c.duckdb"), "--org", org]
    for session in sample_dataset.sessions[:2]:
        args += ["--session", session.session_id]
    proc = _sync(*args, token="t")
    assert proc.returncode == EXIT_AUTH
    assert proc.stdout.count("HTTP 401: the access token is missing, invalid or expired") == 2
    assert "***" not in proc.stdout + proc.stderr  # nothing to redact: the token was not echoed
    assert "Warning" not in proc.stderr  # a loopback sandbox takes any token


def test_sync_warns_once_of_a_token_too_short_for_the_real_api():
    proc = _sync("--org", "not an id!", "--session", "x", token="short-token")
    assert proc.returncode == 2  # the org id, checked after the warning: nothing sent
    warning = "Warning: the access token is only 11 characters long, too short to be a real"
    assert proc.stderr.count(warning) == 1
    assert "short-token" not in proc.stderr and "org id 'not an id!'" in proc.stderr


@pytest.mark.parametrize(
    "elsewhere",
    [
        "http://192.0.2.1/v1/meetings?max=1",
        "https://127.0.0.1:{port}/v1/meetings",
        "http://127.0.0.1:1/v1/meetings",
        "http://localhost:{port}/v1/meetings",
    ],
)
def test_a_url_off_the_api_base_is_never_sent_the_token(sandbox_factory, elsewhere):
    box = sandbox_factory()
    requester = Requester(box.base_url, Secret(SANDBOX_TOKEN))
    try:
        with pytest.raises(ApiError, match="not followed, so the token is not sent elsewhere"):
            requester.get(elsewhere.format(port=box.port), context="meetings")
    finally:
        requester.close()
    assert box.request_log == []


def test_a_full_url_on_the_api_base_is_fetched_as_a_link_next_url_would_be(
    sandbox_factory, sample_dataset
):
    session = sample_dataset.sessions[0]
    box = sandbox_factory(page_size=10)
    requester = Requester(box.base_url, Secret(SANDBOX_TOKEN))
    query = f"sessionOrgId={session.org_id}&sessionId={session.session_id}"
    try:
        resp = requester.get(f"{box.base_url}/slido/compliance/events?{query}", context="x")
    finally:
        requester.close()
    assert resp.status_code == 200 and len(resp.json()["items"]) == 10
