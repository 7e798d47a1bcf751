"""Tokens for unattended use: the token file, and an access token that renews itself.

An integration's access token lasts hours; its refresh token buys a new one with
`POST {base}/access_token` (`grant_type=refresh_token`, the client id and secret).
`RefreshingToken` is a token source (`current()`, `renew(rejected)`) that renews
shortly before the token expires and again when the API answers 401, and writes
what it got back to the token file (temporary file + rename, mode 0600) when there
is one, so a rotated refresh token is never lost. `load_token_source` picks a
static token or a refreshing one from the environment and the token file.

Secrets stay in `Secret`; a message never quotes one (see `redact_all`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import requests

from toolkit.config import TOKEN_ENV, TOKEN_FILE_ENV, Secret
from toolkit.errors import ApiError, AuthError, UsageError
from toolkit.ingest.auth import TokenSource
from toolkit.ingest.http import check_environment, new_session, tracking_id
from toolkit.ingest.retry import RetryPolicy, parse_retry_after

CLIENT_ID_ENV = "WEBEX_CLIENT_ID"
CLIENT_SECRET_ENV = "WEBEX_CLIENT_SECRET"  # noqa: S105 (a variable name)
REFRESH_ENV = "WEBEX_REFRESH_TOKEN"
DISCOVERY_ENV = "WEBEX_DISCOVERY_TOKEN"
TOKEN_PATH = "/access_token"  # noqa: S105 (a path)
MARGIN = 300.0  # renew this long before expiry (at most half the token's lifetime)
RETRY_STATUSES = frozenset({423, 429, *range(500, 600)})


@dataclass
class TokenFile:
    """What a token file holds: a bare access token, or the JSON of a refreshing one."""

    access: Secret | None
    refresh: Secret | None = None
    expires_at: float | None = None


def read_token_file(path: str | Path) -> TokenFile:
    """Read a token file: a bare token, or `{"access_token", "refresh_token", "expires_at"}`.

    Raises:
        UsageError: the file cannot be read, or its JSON is not of that shape (the
            message never quotes the content).
    """
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"cannot read token file {path}: {exc.strerror}") from None
    if not text.startswith("{"):
        return TokenFile(Secret(text) if text else None)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise UsageError(f"token file {path} starts with '{{' but is not valid JSON") from None
    return _token_json(doc, path)


def _token_json(doc: Any, path: str | Path) -> TokenFile:
    def text(name: str) -> Secret | None:
        value = doc.get(name)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"token file {path}: {name} must be a string")
        return Secret(value) if value else None

    expires = doc.get("expires_at") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or (
        expires is not None and (not isinstance(expires, int | float) or isinstance(expires, bool))
    ):
        raise UsageError(
            f"token file {path}: expected an object with access_token, refresh_token "
            "and expires_at (Unix seconds)"
        )
    return TokenFile(text("access_token"), text("refresh_token"), expires)


def write_token_file(path: str | Path, tokens: TokenFile) -> None:
    """Replace the token file atomically with the tokens as JSON, readable by its owner only.

    The file is written in the same folder under a temporary name (mode 0600 from
    the start) and renamed over the old one, so a reader sees the old or the new
    file whole, and a crash leaves the old one.
    """
    target = Path(os.path.realpath(path))  # a symlinked token file stays a symlink
    doc = {
        "access_token": tokens.access.reveal() if tokens.access else None,
        "refresh_token": tokens.refresh.reveal() if tokens.refresh else None,
        "expires_at": int(tokens.expires_at) if tokens.expires_at else None,
    }
    fd, tmp = tempfile.mkstemp(prefix=".token-", dir=target.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(doc) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"cannot rewrite token file {path}: {exc.strerror}") from None


class RefreshingToken:
    """An access token renewed with a refresh token: a thread-safe `TokenSource`.

    Args:
        base_url: the API base; tokens come from `{base_url}/access_token`.
        client_id: the integration's client id.
        client_secret: the integration's client secret.
        tokens: the refresh token, and the access token and its expiry if known.
        token_file: where to write renewed tokens (None: keep them in memory only).
        policy: retries for the token request (429, 423, 5xx, network errors).
        clock: Unix seconds; injected for tests.
        sleep: injected for tests.
    """

    def __init__(
        self,
        base_url: str,
        client_id: Secret,
        client_secret: Secret,
        tokens: TokenFile,
        token_file: str | Path | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        check_environment(base_url)
        self.url = base_url.rstrip("/") + TOKEN_PATH
        self._client = (client_id, client_secret)
        self._tokens = tokens
        self._file = token_file
        self._policy = policy or RetryPolicy(attempts=4)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._margin = MARGIN
        self.renewals = 0

    def current(self) -> Secret:
        """The access token to send now, renewed first when missing or about to expire."""
        with self._lock:
            access, expires = self._tokens.access, self._tokens.expires_at
            if access is None or (expires is not None and self._clock() >= expires - self._margin):
                self._renew()
            assert self._tokens.access is not None  # set by _renew
            return self._tokens.access

    def renew(self, rejected: Secret) -> bool:
        """After a 401 with `rejected`: renew (unless another thread just did); True if renewed.

        Raises:
            AuthError: the token endpoint refused the client or the refresh token.
            ApiError: the token endpoint failed after retries.
        """
        with self._lock:
            access = self._tokens.access
            if access is not None and access.reveal() != rejected.reveal():
                return True  # another worker renewed it meanwhile
            self._renew()
            return True

    def secrets(self) -> list[Secret]:
        """Every secret this source holds, for redacting messages."""
        found = [*self._client, self._tokens.access, self._tokens.refresh]
        return [s for s in found if s]

    def _renew(self) -> None:
        if self._tokens.refresh is None:
            raise AuthError("the access token cannot be renewed: no refresh token")
        doc = self._request()
        access, refresh = doc.get("access_token"), doc.get("refresh_token")
        lifetime = doc.get("expires_in")
        if not isinstance(access, str) or not access:
            raise ApiError(f"{self.url} answered without an access_token")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else None
        self._margin = min(MARGIN, seconds / 2) if seconds else MARGIN
        self._tokens = TokenFile(
            Secret(access),
            Secret(refresh) if isinstance(refresh, str) and refresh else self._tokens.refresh,
            self._clock() + seconds if seconds else None,
        )
        self.renewals += 1
        if self._file is not None:
            write_token_file(self._file, self._tokens)

    def _request(self) -> dict[str, Any]:
        """POST the refresh grant, retrying what is transient; the decoded answer."""
        client_id, client_secret = self._client
        assert self._tokens.refresh is not None
        form = {
            "grant_type": "refresh_token",
            "client_id": client_id.reveal(),
            "client_secret": client_secret.reveal(),
            "refresh_token": self._tokens.refresh.reveal(),
        }
        with new_session() as http:  # proxies and CA bundle as for every call; no bearer
            for attempt in range(1, self._policy.attempts + 1):
                answer = self._post(http, form, attempt)
                if answer is not None:
                    return answer
        raise AssertionError("unreachable")  # _post raises on the last attempt

    def _post(
        self, http: requests.Session, form: dict[str, str], attempt: int
    ) -> dict[str, Any] | None:
        timeouts = (self._policy.connect_timeout, self._policy.read_timeout)
        try:
            resp = http.post(self.url, data=form, timeout=timeouts, allow_redirects=False)
        except requests.RequestException as exc:
            self._again(attempt, f"network error: {type(exc).__name__}", None, None)
            return None
        tracking = tracking_id(resp)
        if resp.status_code in RETRY_STATUSES:
            what = f"HTTP {resp.status_code}"
            self._again(attempt, what, tracking, resp.headers.get("Retry-After"))
            return None
        if resp.status_code != 200 and resp.status_code not in (400, 401, 403):
            raise ApiError(
                f"renewing the access token failed: HTTP {resp.status_code} from {self.url} "
                f"(trackingid {tracking or 'none'}); check the API base URL",
                resp.status_code,
                tracking,
            )
        if resp.status_code != 200:
            raise AuthError(
                f"renewing the access token failed: HTTP {resp.status_code} from {self.url} "
                f"(trackingid {tracking or 'none'}); the client id, secret or refresh "
                "token is wrong, spent or expired: authorize the integration again and "
                "put the new refresh token in the token file"
            )
        try:
            doc = resp.json()
        except ValueError:
            self._again(attempt, "a body that is not JSON", tracking, None)
            return None
        return doc if isinstance(doc, dict) else {}

    def _again(
        self, attempt: int, what: str, tracking: str | None, retry_after: str | None
    ) -> None:
        if attempt >= self._policy.attempts:
            raise ApiError(
                f"renewing the access token failed: {what} from {self.url} "
                f"(trackingid {tracking or 'none'}); gave up after {attempt} attempts"
            )
        wait = parse_retry_after(retry_after)
        if wait is None or wait > self._policy.max_wait:
            wait = min(self._policy.backoff_max, self._policy.backoff * 2 ** (attempt - 1))
        self._sleep(wait)


def load_token_source(base_url: str, token_file: str | Path | None = None) -> Secret | TokenSource:
    """The events token: refreshing when client credentials and a refresh token are set.

    The token file (`--token-file`, else `WEBEX_ACCESS_TOKEN_FILE`) holds a bare token
    or the JSON of a refreshing one; else `WEBEX_ACCESS_TOKEN` and `WEBEX_REFRESH_TOKEN`.
    With `WEBEX_CLIENT_ID`, `WEBEX_CLIENT_SECRET` and a refresh token, the token renews
    itself (and rewrites the token file, if any); otherwise it is sent as it is.

    Raises:
        UsageError: no token at all, or a token file that cannot be read.
    """
    path = token_file or os.environ.get(TOKEN_FILE_ENV) or None
    tokens = read_token_file(path) if path else TokenFile(_env(TOKEN_ENV))
    tokens.refresh = tokens.refresh or _env(REFRESH_ENV)
    client_id, client_secret = _env(CLIENT_ID_ENV), _env(CLIENT_SECRET_ENV)
    if tokens.refresh and client_id and client_secret:
        return RefreshingToken(base_url, client_id, client_secret, tokens, path)
    if tokens.access is None:
        raise UsageError(_missing(tokens, client_id, client_secret))
    return tokens.access


def _missing(tokens: TokenFile, client_id: Secret | None, client_secret: Secret | None) -> str:
    if tokens.refresh and not (client_id and client_secret):
        return (
            f"a refresh token but no access token: set {CLIENT_ID_ENV} and "
            f"{CLIENT_SECRET_ENV} so the toolkit can renew it"
        )
    return (
        f"no access token: set {TOKEN_ENV} (or {TOKEN_FILE_ENV} to a file holding it), or "
        f"{CLIENT_ID_ENV}, {CLIENT_SECRET_ENV} and {REFRESH_ENV} for a token that renews itself"
    )


def discovery_token(events_token: Secret | TokenSource) -> Secret | TokenSource:
    """The token for List Meetings: `WEBEX_DISCOVERY_TOKEN` if set, else the events token."""
    return _env(DISCOVERY_ENV) or events_token


def _env(name: str) -> Secret | None:
    value = os.environ.get(name, "").strip()
    return Secret(value) if value else None
