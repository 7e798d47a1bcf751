"""A JSON GET with the events client's retry rules, for discovery's requests.

429 and 423 wait `Retry-After` on the shared gate; 5xx, network errors and broken
bodies back off and retry; a 401 renews the token once when its source can; other
4xx are final. Messages quote the status, its meaning and the `trackingid`, never
the token or a URL the server sent (it could carry one). No redirect is followed
and nothing is read from the environment (proxies, .netrc).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, Union

import requests

from toolkit.config import Secret, check_transport
from toolkit.errors import ApiError, AuthError
from toolkit.ingest.client import USER_AGENT, RateGate, RetryPolicy, parse_retry_after

WAIT_STATUSES = frozenset({423, 429})


@dataclass(frozen=True)
class _Failure:
    status: int | None  # None: a network error or a broken body
    tracking_id: str | None
    retry_after: str | None


class TokenSource(Protocol):
    """A token that may change: the one to send now, and a renewal after a 401."""

    def current(self) -> Secret:
        """The token to send now (renewed first when near expiry)."""
        ...

    def renew(self, rejected: Secret) -> bool:
        """After a 401 with `rejected`: True when another token is now current."""
        ...


TokenLike = Union[Secret, TokenSource]  # noqa: UP007 (a runtime alias on Python 3.10)


def current_token(token: TokenLike) -> Secret:
    """The token to send now, from a plain `Secret` or a token source."""
    return token if isinstance(token, Secret) else token.current()


class JsonGetter:
    """GETs JSON documents with retries over one keep-alive session.

    Args:
        token: a `Secret`, or a source that can renew it.
        policy: attempts, backoff, the longest Retry-After accepted, timeouts.
        gate: the shared wait gate.
        sleep: injected for tests.
    """

    def __init__(
        self,
        token: TokenLike,
        policy: RetryPolicy | None = None,
        gate: RateGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.token = token
        self.policy = policy or RetryPolicy()
        self.gate = gate or RateGate(sleep=sleep)
        self.meanings: dict[int, str] = {}
        self._sleep = sleep
        self._rng = random.Random()
        self._http = requests.Session()
        self._http.trust_env = False
        self._http.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._http.close()

    def get(self, url: str, params: dict[str, str], what: str) -> tuple[Any, str | None]:
        """The decoded JSON body at `url` and the `rel="next"` link of its `Link` header.

        Args:
            url: the URL (checked: https, or http to a loopback host only).
            params: query parameters to add.
            what: the resource, for messages (e.g. "meetings").

        Raises:
            AuthError: 401 (after one renewal, when possible) or 403.
            ApiError: another 4xx, or failures after `policy.attempts` tries.
        """
        check_transport(url)
        renewed = False
        for attempt in range(1, self.policy.attempts + 1):
            self.gate.wait()
            sent = current_token(self.token)
            outcome = self._once(url, params, sent)
            if not isinstance(outcome, _Failure):
                return outcome
            if outcome.status == 401 and not renewed and self._renew(sent):
                renewed = True
                continue
            self._after_failure(outcome, attempt, what)
        raise AssertionError("unreachable")  # the last failure raises

    def _renew(self, rejected: Secret) -> bool:
        return not isinstance(self.token, Secret) and self.token.renew(rejected)

    def _once(
        self, url: str, params: dict[str, str], token: Secret
    ) -> tuple[Any, str | None] | _Failure:
        """One request: (body, next link), or how it failed."""
        headers = {"Authorization": f"Bearer {token.reveal()}"}
        timeouts = (self.policy.connect_timeout, self.policy.read_timeout)
        try:
            resp = self._http.get(
                url, params=params, headers=headers, timeout=timeouts, allow_redirects=False
            )
        except requests.RequestException:
            return _Failure(None, None, None)
        tracking = resp.headers.get("TrackingID")
        if resp.status_code != 200:
            return _Failure(resp.status_code, tracking, resp.headers.get("Retry-After"))
        try:
            doc = resp.json()
        except ValueError:
            return _Failure(None, tracking, None)  # a broken body: transient, as for events
        return doc, resp.links.get("next", {}).get("url")

    def _after_failure(self, failure: _Failure, attempt: int, what: str) -> None:
        status, tracking = failure.status, failure.tracking_id
        text = self._describe(status, tracking, what)
        if status is not None and status < 500 and status not in WAIT_STATUSES:
            raise (AuthError if status in (401, 403) else ApiError)(text)
        if attempt >= self.policy.attempts:
            raise ApiError(f"{text}; gave up after {attempt} attempts", status, tracking)
        wait = parse_retry_after(failure.retry_after) if status in WAIT_STATUSES else None
        if wait is not None and wait > self.policy.max_wait:
            raise ApiError(
                f"{text}; asked to wait {wait:.0f} s, more than the "
                f"{self.policy.max_wait:.0f} s allowed (--max-wait)",
                status,
                tracking,
            )
        if wait is None or wait <= 0:
            ceiling = min(self.policy.backoff_max, self.policy.backoff * 2 ** (attempt - 1))
            wait = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        if status in WAIT_STATUSES:
            self.gate.hold(wait)
        else:
            self._sleep(wait)

    def _describe(self, status: int | None, tracking: str | None, what: str) -> str:
        if status is None:
            head = "network error or a body that is not JSON"
        else:
            head = f"HTTP {status}: {self.meanings.get(status, _REASONS.get(status, 'error'))}"
        return f"GET /{what}: {head} (trackingid {tracking or 'none'})"


_REASONS = {
    423: "the resource is locked; try again later",
    429: "rate limited by the API",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
