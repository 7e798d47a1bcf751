"""Tokens for unattended use: the token file, renewal against the sandbox, rotation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest
import requests

from toolkit.config import Secret
from toolkit.errors import AuthError, UsageError
from toolkit.ingest import tokens
from toolkit.ingest.retry import RetryPolicy
from toolkit.ingest.tokens import RefreshingToken, TokenFile, read_token_file, write_token_file
from toolkit.sandbox.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN

from .conftest import SANDBOX_TOKEN

FAST = RetryPolicy(attempts=8, backoff=0.001, backoff_max=0.01)


def refreshing(box, path: Path | None, clock=None, **tokens_kw) -> RefreshingToken:
    held = TokenFile(None, Secret(DEFAULT_REFRESH_TOKEN), None)
    for name, value in tokens_kw.items():
        setattr(held, name, value)
    kw = {"clock": clock} if clock else {}
    return RefreshingToken(
        box.base_url,
        Secret(DEFAULT_CLIENT_ID),
        Secret(DEFAULT_CLIENT_SECRET),
        held,
        path,
        FAST,
        sleep=lambda _s: None,
        **kw,
    )


def me(box, token: Secret) -> int:
    headers = {"Authorization": f"Bearer {token.reveal()}"}
    return requests.get(f"{box.base_url}/people/me", headers=headers, timeout=10).status_code


def test_a_token_file_holds_a_bare_token_or_json(tmp_path: Path):
    bare = tmp_path / "bare"
    bare.write_text("abc\n")
    assert read_token_file(bare).access.reveal() == "abc"  # type: ignore[union-attr]
    doc = tmp_path / "doc.json"
    doc.write_text('{"access_token": "a", "refresh_token": "r", "expires_at": 1700000000}')
    held = read_token_file(doc)
    assert (held.access.reveal(), held.refresh.reveal(), held.expires_at) == (  # type: ignore[union-attr]
        "a",
        "r",
        1700000000,
    )
    doc.write_text('{"access_token": "secret-value", "expires_at": "soon"')
    with pytest.raises(UsageError) as caught:
        read_token_file(doc)
    assert "secret-value" not in str(caught.value)


def test_the_token_renews_itself_and_writes_the_rotated_refresh_token_back_0600(
    sandbox_factory, tmp_path: Path
):
    box = sandbox_factory()
    path = tmp_path / "token.json"
    path.write_text(f'{{"refresh_token": "{DEFAULT_REFRESH_TOKEN}"}}')
    os.chmod(path, 0o644)
    source = refreshing(box, path)
    first = source.current()
    assert me(box, first) == 200 and source.renewals == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = orjson.loads(path.read_bytes())
    assert saved["access_token"] == first.reveal()
    assert saved["refresh_token"] not in ("", DEFAULT_REFRESH_TOKEN)
    assert saved["expires_at"] > 0
    # the old refresh token is spent; the saved one works, and renews again
    assert source.renew(first) is True and source.renewals == 2
    assert orjson.loads(path.read_bytes())["refresh_token"] != saved["refresh_token"]
    assert not list(tmp_path.glob(".token-*")), "a temporary file was left behind"
    again = read_token_file(path)
    assert again.refresh is not None and again.refresh.reveal() != saved["refresh_token"]


def test_an_expired_refresh_token_is_an_auth_error_naming_the_fix_not_the_secret(
    sandbox_factory, tmp_path: Path
):
    box = sandbox_factory()
    source = refreshing(box, None, refresh=Secret("spent-refresh-token"))
    with pytest.raises(AuthError) as caught:
        source.current()
    message = str(caught.value)
    assert "HTTP 400" in message and "refresh token" in message
    assert "spent-refresh-token" not in message and DEFAULT_CLIENT_SECRET not in message


def test_renewal_happens_before_expiry_and_once_for_workers_sharing_a_rejected_token(
    sandbox_factory,
):
    box = sandbox_factory(token_lifetime=600)
    now = [1000.0]
    source = refreshing(box, None, clock=lambda: now[0])
    first = source.current()
    now[0] += 200  # 400 s left, more than the margin (300 s, at most half the lifetime)
    assert source.current().reveal() == first.reveal()
    now[0] += 150  # 250 s left: renewed before it expires
    second = source.current()
    assert second.reveal() != first.reveal() and source.renewals == 2
    # a worker reporting the old token after another renewed: no new request
    assert source.renew(first) is True and source.renewals == 2


def test_the_token_request_is_retried_through_429_and_5xx(sandbox_factory):
    box = sandbox_factory(rate_limit_every=3, error_rate=0.3, retry_after="0", seed=3)
    source = refreshing(box, None)
    for _ in range(3):
        source.renew(source.current())
    statuses = [status for _, method, _, status in box.request_log if method == "POST"]
    assert 200 in statuses and 429 in statuses


def test_an_issued_access_token_expires_after_its_requests(sandbox_factory):
    box = sandbox_factory(token_requests=2)
    token = refreshing(box, None).current()
    assert [me(box, token) for _ in range(3)] == [200, 200, 401]
    assert me(box, Secret(SANDBOX_TOKEN)) == 200  # the fixed token never expires


def test_the_source_is_static_without_client_credentials(monkeypatch, tmp_path: Path):
    for name in (tokens.CLIENT_ID_ENV, tokens.CLIENT_SECRET_ENV, tokens.REFRESH_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEBEX_ACCESS_TOKEN", "plain")
    monkeypatch.delenv("WEBEX_ACCESS_TOKEN_FILE", raising=False)
    source = tokens.load_token_source("http://127.0.0.1:1/v1")
    assert isinstance(source, Secret) and source.reveal() == "plain"
    monkeypatch.setenv(tokens.CLIENT_ID_ENV, "id")
    monkeypatch.setenv(tokens.CLIENT_SECRET_ENV, "secret")
    monkeypatch.setenv(tokens.REFRESH_ENV, "refresh")
    assert isinstance(tokens.load_token_source("http://127.0.0.1:1/v1"), RefreshingToken)
    monkeypatch.setenv(tokens.DISCOVERY_ENV, "admin")
    assert tokens.discovery_token(source).reveal() == "admin"  # type: ignore[union-attr]


def test_write_token_file_replaces_a_symlinked_files_target(tmp_path: Path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_token_file(link, TokenFile(Secret("a"), Secret("r"), 5.0))
    assert link.is_symlink() and orjson.loads(real.read_bytes())["refresh_token"] == "r"
