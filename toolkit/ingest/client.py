"""The List Compliance Events client: one GET with retries, and paging.

Knows nothing of DuckDB or Arrow. The token is sent only in the Authorization
header, never over plain HTTP to another host, and is redacted from every message.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

from toolkit.config import Secret, check_transport
from toolkit.errors import ApiError, AuthError
from toolkit.ingest.events import decode_page
from toolkit.store.records import KnownPage

EVENTS_PATH = "/slido/compliance/events"
TRANSIENT = frozenset(range(500, 600))  # every 5xx: the contract calls them transient
WAIT_STATUSES = frozenset({423, 429})
MEANINGS = {
    400: "bad request: check the org and session ids",
    401: "the access token is missing, invalid or expired (admin tokens last at most 12 hours)",
    403: "the token may not read compliance events of this org (needs a compliance officer "
    "token with the spark-compliance scopes)",
    404: "not found: check the API base URL",
    423: "the resource is locked; try again later",
    429: "rate limited by the API",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
USER_AGENT = "slido-compliance-toolkit/0.1"
HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per page, backoff, the longest Retry-After we accept."""

    attempts: int = 6
    backoff: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 300.0
    connect_timeout: float = 10.0
    read_timeout: float = 120.0


@dataclass
class Page:
    """One page: its items, the next token (None at the end), and what came with it.

    `digest` is the SHA-256 of the body. A page whose digest the caller knew (see
    `iter_pages`) is not decoded: its `items` are empty and its `next` is the known one.
    """

    items: list[Any]
    next: str | None
    tracking_id: str | None
    size: int
    digest: bytes


class RateGate:
    """A shared 'not before' time: when the API asks one worker to wait, all wait."""

    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._lock = threading.Lock()
        self._until = 0.0
        self._sleep = sleep
        self._clock = clock

    def hold(self, seconds: float) -> None:
        """Make every worker wait at least `seconds` from now before its next request."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def wait(self) -> None:
        """Sleep until the gate opens."""
        while True:
            with self._lock:
                remaining = self._until - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)


class Client:
    """A keep-alive client for one API base URL and token.

    Args:
        base_url: e.g. `https://webexapis.com/v1` or a loopback sandbox.
        token: the bearer token.
        policy: retry and timeout settings.
        gate: shared wait gate (one per sync, shared by its workers).
        sleep: injected for tests; `time.sleep` by default.
    """

    def __init__(
        self,
        base_url: str,
        token: Secret,
        policy: RetryPolicy | None = None,
        gate: RateGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        check_transport(base_url)
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._token = token
        self._sleep = sleep
        self.gate = gate or RateGate(sleep=sleep)
        self._http = _Connection(self.base_url, self.policy)
        self._path = (urllib3.util.parse_url(self.base_url).path or "") + EVENTS_PATH
        self._rng = random.Random()

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._http.close()

    @property
    def waited(self) -> float:
        """Seconds spent so far waiting for answers to begin (not reading them)."""
        return self._http.waited

    def iter_pages(
        self,
        org_id: str,
        session_id: str,
        known: Mapping[bytes, KnownPage] | None = None,
    ) -> Iterator[Page]:
        """Yield every page of a session's events until `next` is empty or missing.

        The request for the next page is sent before a page is yielded, so the server
        prepares it (and the network carries it) while the caller works on this one.

        Args:
            org_id: the session's org.
            session_id: the session.
            known: pages by the SHA-256 of their body; a body received again is not
                decoded (the same bytes hold the same items and next token).

        Raises:
            ApiError: the server repeats a token (a loop), or a page fails for good.
            AuthError: 401 or 403.
        """
        known = known or {}
        seen: set[str] = set()
        params = _params(org_id, session_id, None)
        page = self._retry(params, known, session_id)
        sent: _Failure | None = None
        while True:
            looping = page.next in seen
            if page.next and not looping:
                seen.add(page.next)
                params = _params(org_id, session_id, page.next)
                sent = self._send(params)
            yield page
            if not page.next:
                return
            if looping:
                raise ApiError(
                    f"session {session_id}: the API repeated pagination token "
                    f"{page.next[:24]!r}; stopped instead of looping forever "
                    f"(trackingid {page.tracking_id or 'none'})"
                )
            page = self._retry(params, known, session_id, sent or self._receive(known))

    def get_page(
        self,
        org_id: str,
        session_id: str,
        start: str | None = None,
        known: Mapping[bytes, KnownPage] | None = None,
    ) -> Page:
        """GET one page, retrying what is transient; see RetryPolicy and `iter_pages`."""
        return self._retry(_params(org_id, session_id, start), known or {}, session_id)

    def _retry(
        self,
        params: dict[str, str],
        known: Mapping[bytes, KnownPage],
        session_id: str,
        outcome: Page | _Failure | None = None,
    ) -> Page:
        """The page, from `outcome` (a first attempt already made) or new attempts."""
        attempt = 0
        while True:
            attempt += 1
            if outcome is None:
                outcome = self._send(params) or self._receive(known)
            if isinstance(outcome, Page):
                return outcome
            self._after_failure(outcome, attempt, session_id)
            outcome = None

    def _send(self, params: dict[str, str]) -> _Failure | None:
        """Send one request once the gate opens; `_receive` reads its answer.

        Returns:
            The failure to send, or None.
        """
        self.gate.wait()
        headers = {**HEADERS, "Authorization": f"Bearer {self._token.reveal()}"}
        try:
            self._http.send(f"{self._path}?{urlencode(params)}", headers)
        except NETWORK_ERRORS as exc:
            self._http.close()
            return _Failure(None, f"network error: {type(exc).__name__}", None, None)
        return None

    def _receive(self, known: Mapping[bytes, KnownPage]) -> Page | _Failure:
        """Read the answer to the request sent last, as a page or a failure."""
        try:
            resp, body = self._http.receive()
        except NETWORK_ERRORS as exc:
            self._http.close()
            return _Failure(None, f"network error: {type(exc).__name__}", None, None)
        tracking = _tracking_id(resp, body)
        if resp.status != 200:
            return _Failure(
                resp.status,
                resp.reason or "error",
                tracking,
                resp.headers.get("Retry-After"),
                resp.headers.get("Location"),
            )
        digest = hashlib.sha256(body).digest()  # releases the GIL: other workers go on
        page = known.get(digest)
        if page is not None:
            return Page([], page.next, tracking, len(body), digest)
        return _decode(body, tracking, digest)

    def _after_failure(self, failure: _Failure, attempt: int, session_id: str) -> None:
        status = failure.status
        if status is not None and status not in TRANSIENT and status not in WAIT_STATUSES:
            raise self._final_error(failure, session_id)
        if attempt >= self.policy.attempts:
            raise ApiError(
                self._describe(failure, session_id) + f"; gave up after {attempt} attempts",
                status,
                failure.tracking_id,
            )
        wait = None
        if status in WAIT_STATUSES:
            wait = parse_retry_after(failure.retry_after)
            if wait is not None and wait > self.policy.max_wait:
                raise ApiError(
                    self._describe(failure, session_id) + f"; asked to wait {wait:.0f}"
                    f" s, more than the {self.policy.max_wait:.0f} s allowed "
                    "(--max-wait)",
                    status,
                    failure.tracking_id,
                )
        if wait is None or wait <= 0:
            wait = self._backoff(attempt)
        if status in WAIT_STATUSES:
            self.gate.hold(wait)
        else:
            self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_max, self.policy.backoff * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _final_error(self, failure: _Failure, session_id: str) -> Exception:
        message = self._describe(failure, session_id)
        if failure.status in (401, 403):
            return AuthError(message)
        if failure.status is not None and 300 <= failure.status < 400:
            message += (
                f"; redirect to {failure.location or 'an unknown place'} not followed, "
                "so the token is not sent elsewhere"
            )
        # the Location came from the server, which may have put the token in it
        return ApiError(redact(message, self._token), failure.status, failure.tracking_id)

    def _describe(self, failure: _Failure, session_id: str) -> str:
        if failure.status is None:
            head = failure.reason
        else:
            meaning = MEANINGS.get(failure.status, failure.reason)
            head = f"HTTP {failure.status}: {meaning}"
        text = f"session {session_id}: {head} (trackingid {failure.tracking_id or 'none'})"
        return redact(text, self._token)


NETWORK_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class _Connection:
    """One keep-alive connection to the API's host, over urllib3's HTTP(S) connection.

    A request is sent and its answer read in two steps, so a caller can work while
    the server answers. No proxy or .netrc from the environment, no redirects
    followed, no retries here (the client retries with its own policy); certificates
    are checked against certifi's CA bundle, as requests does.
    """

    def __init__(self, base_url: str, policy: RetryPolicy):
        url = urllib3.util.parse_url(base_url)
        self.https = url.scheme == "https"  # lower-cased, as urllib3 reads it
        self.host = (url.host or "").strip("[]")  # an IPv6 literal without its brackets
        self.port = url.port
        self.policy = policy
        self._conn: HTTPConnection | None = None
        self._awaiting = False  # a request sent whose answer was not read
        self.waited = 0.0  # seconds in getresponse: the server and the network, not us

    def _new(self) -> HTTPConnection:
        timeout = self.policy.connect_timeout
        if self.https:
            return HTTPSConnection(
                self.host,
                self.port,
                timeout=timeout,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
            )
        return HTTPConnection(self.host, self.port, timeout=timeout)

    def send(self, target: str, headers: dict[str, str]) -> None:
        """Send a GET for `target` (path and query), reconnecting if the server hung up."""
        if self._conn is not None and (self._awaiting or not self._conn.is_connected):
            self.close()  # dropped by the server, or an answer nobody will read
        conn = self._conn = self._conn or self._new()
        conn.timeout = self.policy.connect_timeout
        self._awaiting = True
        conn.request("GET", target, headers=headers, preload_content=False)

    def receive(self) -> tuple[urllib3.BaseHTTPResponse, bytes]:
        """The answer to the request sent last, its body read whole and decompressed."""
        conn = self._conn
        if conn is None or not self._awaiting:
            raise http.client.ResponseNotReady("no request awaits an answer")
        conn.timeout = self.policy.read_timeout
        began = time.perf_counter()
        try:
            resp = conn.getresponse()
        finally:
            self.waited += time.perf_counter() - began
        body = resp.read(decode_content=True)
        self._awaiting = False
        if resp.headers.get("Connection", "").lower() == "close":
            self.close()
        return resp, body

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        if self._conn is not None:
            self._conn.close()
        self._conn, self._awaiting = None, False


def _params(org_id: str, session_id: str, start: str | None) -> dict[str, str]:
    params = {"sessionOrgId": org_id, "sessionId": session_id}
    if start:
        params["start"] = start
    return params


@dataclass
class _Failure:
    status: int | None
    reason: str
    tracking_id: str | None
    retry_after: str | None
    location: str | None = None


def _decode(body: bytes, tracking: str | None, digest: bytes) -> Page | _Failure:
    try:
        doc = decode_page(body)
    except ValueError:
        return _Failure(None, f"broken response body ({len(body)} bytes, not JSON)", tracking, None)
    if not isinstance(doc, dict) or not isinstance(doc.get("items", []), list):
        return _Failure(None, "response body is not an object with an items list", tracking, None)
    nxt = doc.get("next")
    if nxt is not None and not isinstance(nxt, str):
        return _Failure(None, "response 'next' is not a string", tracking, None)
    items = doc.get("items") or []
    return Page(items, nxt or None, tracking, len(body), digest)


def _tracking_id(resp: urllib3.BaseHTTPResponse, body: bytes) -> str | None:
    value = resp.headers.get("TrackingID")
    if value:
        return value[:200]
    if resp.status != 200 and body[:1] == b"{":
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):  # an error body nested too deep is no id
            return None
        if isinstance(doc, dict) and isinstance(doc.get("trackingId"), str):
            return doc["trackingId"][:200]
    return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (seconds or HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return None
    return seconds


def redact(text: str, token: Secret) -> str:
    """Replace any occurrence of the token in a message with ***."""
    secret = token.reveal()
    return text.replace(secret, "***") if secret else text
