"""The sandbox's `POST /v1/access_token` and the tokens it accepts.

An integration (`DEFAULT_CLIENT_ID`, `DEFAULT_CLIENT_SECRET`) trades a refresh token
for a new access token and a new refresh token (`grant_type=refresh_token`): the
refresh token rotates, the one used is spent. An access token issued here answers
for `lifetime` seconds, or `uses` requests when that is set (a test's deterministic
clock), then 401. The fixed `--token` stays valid for ever, as before. Every value
here is public and loopback-only: the sandbox is a test double, not a vault.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

import orjson

from toolkit.sandbox.http import RefusedError

DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 (public, loopback only)
DEFAULT_REFRESH_TOKEN = "sandbox-refresh"  # noqa: S105
REFRESH_LIFETIME = 90 * 24 * 3600  # what Webex gives a refresh token


@dataclass
class _Issued:
    expires: float
    uses_left: int | None


class TokenIssuer:
    """Issues and checks access tokens, and rotates refresh tokens.

    Args:
        static_token: the fixed token, valid for ever.
        lifetime: seconds an issued access token is valid.
        uses: requests an issued access token answers before it expires (0: no limit).
        refresh_token: the first refresh token the integration holds.
        clock: injected for tests; `time.monotonic` by default.
    """

    def __init__(
        self,
        static_token: str,
        lifetime: float = 3600.0,
        uses: int = 0,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._static = static_token.encode()
        self.lifetime, self.uses = lifetime, uses
        self._clock = clock
        self._lock = threading.Lock()
        self._access: dict[str, _Issued] = {}
        self._refresh = {refresh_token}
        self.grants = 0  # refresh grants served, for tests

    def accepts(self, token: str) -> bool:
        """True when `token` is the fixed token or an issued one not yet expired."""
        if hmac.compare_digest(token.encode("utf-8", "replace"), self._static):
            return True
        with self._lock:
            issued = self._access.get(token)
            if issued is None or self._clock() >= issued.expires:
                return False
            if issued.uses_left is not None:
                if issued.uses_left <= 0:
                    return False
                issued.uses_left -= 1
            return True

    def grant(self, body: bytes) -> bytes:
        """Answer a token request (form-encoded body) with the new tokens, as JSON.

        Raises:
            RefusedError: 400 for a wrong grant type or a spent or unknown refresh
                token, 401 for a wrong client id or secret.
        """
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        field = {name: (values[0] if len(values) == 1 else "") for name, values in form.items()}
        if field.get("grant_type") != "refresh_token":
            raise RefusedError(400, "grant_type must be refresh_token")
        client_ok = hmac.compare_digest(field.get("client_id", ""), DEFAULT_CLIENT_ID)
        secret_ok = hmac.compare_digest(field.get("client_secret", ""), DEFAULT_CLIENT_SECRET)
        if not (client_ok and secret_ok):
            raise RefusedError(401, "invalid client id or client secret")
        with self._lock:
            old = field.get("refresh_token", "")
            if old not in self._refresh:
                raise RefusedError(400, "invalid_grant: the refresh token is unknown or spent")
            self._refresh.discard(old)
            return self._issue()

    def _issue(self) -> bytes:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        uses = self.uses or None
        self._access[access] = _Issued(self._clock() + self.lifetime, uses)
        self._refresh.add(refresh)
        self.grants += 1
        return orjson.dumps(
            {
                "access_token": access,
                "expires_in": max(1, round(self.lifetime)),
                "refresh_token": refresh,
                "refresh_token_expires_in": REFRESH_LIFETIME,
                "token_type": "Bearer",
            }
        )
