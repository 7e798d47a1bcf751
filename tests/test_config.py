"""Settings: ids, base URLs, the token's handling."""

from __future__ import annotations

import base64

import pytest

from toolkit import config
from toolkit.errors import UsageError
from toolkit.ingest import tokens

UUID = "a1111111-1a11-111a-1a11-1a1111a1111a"


def test_secret_never_shows_itself():
    secret = config.Secret("tok-123")
    assert "tok-123" not in repr(secret) + str(secret) + f"{secret}" + repr([secret])
    assert secret.reveal() == "tok-123"


def test_ids_with_underscores_from_the_documented_example_are_accepted():
    sid = "abcdef0123456789abcdef0123456789_I_000000000000000000"
    assert config.check_id(sid) == sid


@pytest.mark.parametrize("bad", ["", "a b", "x' OR '1'='1", "é", "a" * 129, "../etc"])
def test_invalid_ids_are_refused_before_any_request(bad):
    with pytest.raises(UsageError, match="not valid"):
        config.check_id(bad)


def test_base64_org_ids_are_reduced_to_their_uuid():
    spark = base64.b64encode(f"ciscospark://us/ORGANIZATION/{UUID}".encode()).decode().rstrip("=")
    assert config.normalize_org_id(spark) == UUID
    assert config.normalize_org_id(UUID) == UUID


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/v1", "refusing to send the access token over plain HTTP to example"),
        ("http://10.0.0.1/v1", "refusing to send the access token over plain HTTP to 10.0.0.1"),
        ("ftp://127.0.0.1/v1", r"'ftp://127.0.0.1/v1' is not an http\(s\) URL with a host"),
        ("webexapis.com/v1", "write it plainly, e.g. https://webexapis.com/v1"),
    ],
)
def test_plain_http_or_odd_schemes_are_refused_for_other_hosts(url, message):
    with pytest.raises(UsageError, match=message):
        config.check_transport(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://localhost/v1",
        "http://[::1]:9/v1",
        "https://webexapis.com/v1",
    ],
)
def test_https_and_loopback_http_are_allowed(url):
    config.check_transport(url)


def test_gov_flag_selects_the_government_base(monkeypatch):
    monkeypatch.delenv(config.BASE_ENV, raising=False)
    assert config.base_url(gov=True) == config.GOV_BASE
    assert config.base_url() == config.COMMERCIAL_BASE
    monkeypatch.setenv(config.BASE_ENV, "http://127.0.0.1:1/v1/")
    assert config.base_url() == "http://127.0.0.1:1/v1"


def test_token_comes_from_env_or_file_and_is_required(monkeypatch, tmp_path):
    for name in (config.TOKEN_ENV, config.TOKEN_FILE_ENV, tokens.REFRESH_ENV):
        monkeypatch.delenv(name, raising=False)
    base = "http://127.0.0.1:1/v1"
    with pytest.raises(UsageError, match="no access token"):
        tokens.load_token_source(base)
    monkeypatch.setenv(config.TOKEN_ENV, "from-env")
    assert tokens.load_token_source(base).reveal() == "from-env"
    (tmp_path / "t").write_text("from-file\n")
    assert tokens.load_token_source(base, tmp_path / "t").reveal() == "from-file"


def test_sessions_file_takes_org_session_lines_and_comments(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(f"# sessions\n{UUID}, s_I_1\n\ns-2  # bare id\n")
    refs = config.read_sessions_file(path, default_org=UUID)
    assert refs == [config.SessionRef(UUID, "s_I_1"), config.SessionRef(UUID, "s-2")]
    path.write_text("only-a-session\n")
    with pytest.raises(UsageError, match=r"s.csv:1: expected 'org,session'"):
        config.read_sessions_file(path)
