"""Every HTTP call of the toolkit: a configured `requests` session, and one GET with retries.

`new_session()` (in `transport`, re-exported here) is the session each worker uses:
proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) and the CA bundle
(`REQUESTS_CA_BUNDLE`, else `SSL_CERT_FILE`, else certifi's) from the environment,
certificates always verified, redirects never followed, and a bearer `auth` so that
`~/.netrc` never replaces our Authorization header. A `Requester` reads that
environment once, when it is made (`transport.Route`), and sends each GET through
`Session.send`. `Requester.get` is one GET with the toolkit's retry policy: 5xx and network
errors retried with backoff, 423/429 waited out through the shared `RateGate`
(`Retry-After`, at most `--max-wait`), a 401 retried once when the `TokenSource`
renews the token, errors that quote status, meaning and trackingid, never a token.

Example (discovery):
    >>> req = Requester(base, token)  # doctest: +SKIP
    >>> resp = req.get(f"{base}/meetings", {"max": "100"}, context="meetings")
    >>> resp.json()["items"], resp.links.get("next", {}).get("url")
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import requests.utils
import urllib3

from toolkit.config import Secret, check_transport, is_loopback
from toolkit.errors import ApiError, AuthError, UsageError
from toolkit.ingest.auth import TokenSource, redact, token_source
from toolkit.ingest.retry import TRANSIENT, WAIT_STATUSES, RateGate, RetryPolicy, parse_retry_after
from toolkit.ingest.transport import CA_ENV, USER_AGENT, BearerAuth, Route, ca_bundle, new_session

__all__ = [  # the session's names live in `transport`; callers may take them from here
    "CA_ENV",
    "MEANINGS",
    "USER_AGENT",
    "BearerAuth",
    "Failure",
    "Requester",
    "ca_bundle",
    "check_environment",
    "check_proxy",
    "new_session",
    "tracking_id",
]
MEANINGS = {
    401: "the access token is missing, invalid or expired (admin tokens last at most 12 hours)",
    403: "the token may not read this resource (check its scopes)",
    404: "not found: check the API base URL",
    423: "the resource is locked; try again later",
    429: "rate limited by the API",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
T = TypeVar("T")


def check_proxy(url: str) -> None:
    """Refuse a plain-HTTP base whose requests the environment sends through a remote proxy.

    Over plain HTTP the proxy reads the Authorization header: only a loopback proxy may.

    Raises:
        UsageError: naming the proxy's host and how to bypass it (`NO_PROXY`).
    """
    if urlsplit(url).scheme != "http":
        return
    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    if not proxy:
        return
    host = urlsplit(proxy if "://" in proxy else f"http://{proxy}").hostname or ""
    if not is_loopback(host):
        raise UsageError(
            f"refusing to send the access token over plain HTTP through the proxy at {host}; "
            f"add {urlsplit(url).hostname} to NO_PROXY, or use https"
        )


def check_environment(base_url: str) -> None:
    """Check, before any request, the base URL, the proxy it would go through and the CA bundle.

    Raises:
        UsageError: as `config.check_transport`, `check_proxy` and `ca_bundle` do.
    """
    check_transport(base_url)
    check_proxy(base_url)
    ca_bundle()


@dataclass
class Failure:
    """An attempt that did not give an answer: a status, or a network or body problem."""

    status: int | None
    reason: str
    tracking_id: str | None
    retry_after: str | None = None
    location: str | None = None


class Requester:
    """GETs with the toolkit's retry policy over one session (one per worker thread).

    Args:
        base_url: the API base; checked by `config.check_transport` and `check_proxy`.
        token: a `Secret` or a `TokenSource`.
        policy: retry and timeout settings.
        gate: the wait gate shared by the workers of one run.
        sleep: injected for tests.
        meanings: what each status means, for error messages.
    """

    def __init__(
        self,
        base_url: str,
        token: Secret | TokenSource,
        policy: RetryPolicy | None = None,
        gate: RateGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
        meanings: Mapping[int, str] = MEANINGS,
    ):
        check_transport(base_url)
        check_proxy(base_url)
        self.origin = _origin(base_url)  # the token goes nowhere else
        self.tokens = token_source(token)
        self.policy = policy or RetryPolicy()
        self.gate = gate or RateGate(sleep=sleep)
        self.session = new_session(self.tokens)
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        self._route = Route(self.session, base_url, timeout)
        self.meanings = meanings
        self.waited = 0.0  # seconds inside HTTP calls: the server and the network
        self._sleep = sleep
        self._sent: dict[str, Secret] = {}  # every token handed out, to redact
        self._rng = random.Random()
        self._checked = ""  # the last URL found on the origin: the events URL, page after page

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()

    def redact(self, text: str) -> str:
        """`text` without any token this requester has sent."""
        return redact(text, *self._sent.values())

    def get(
        self, url: str, params: Mapping[str, str] | None = None, context: str = ""
    ) -> requests.Response:
        """GET `url` until a 200 answer, retrying what is transient; the body is read.

        Args:
            url: the full URL (a `Link` header's `next` URL as it is).
            params: query parameters.
            context: what is asked for, starting each error message ("session X").

        Raises:
            AuthError: 401 (no renewed token) or 403.
            ApiError: another 4xx, a redirect, TLS verification, or retries exhausted.
        """
        return self.fetch(url, params, context, _as_is)

    def fetch(
        self,
        url: str,
        params: Mapping[str, str] | None,
        context: str,
        read: Callable[[requests.Response], T | Failure],
    ) -> T:
        """As `get`, with `read` turning a 200 answer into the result or a retryable Failure."""
        if url != self._checked and _origin(url) != self.origin:  # a URL the server made up
            raise ApiError(
                self.redact(
                    f"{context}: the API pointed to {urlsplit(url).hostname}, not the "
                    "API base's host; not followed, so the token is not sent elsewhere"
                )
            )
        self._checked = url
        attempt, renewed = 0, False
        while True:
            token = self.tokens.current()
            self._sent.setdefault(token.reveal(), token)
            answer = self._attempt(url, params, token, context)
            outcome = answer if isinstance(answer, Failure) else read(answer)
            if not isinstance(outcome, Failure):
                return outcome
            if outcome.status == 401 and not renewed and self.tokens.renew(token):
                renewed = True  # a new token: not an attempt of the retry policy
                continue
            attempt += 1
            self._after_failure(outcome, attempt, context)

    def _attempt(
        self, url: str, params: Mapping[str, str] | None, token: Secret, context: str
    ) -> requests.Response | Failure:
        """One GET once the gate opens: its 200 answer (body read) or the failure."""
        self.gate.wait()
        began = time.perf_counter()
        try:
            resp = self._route.get(url, params, token)
            _read_body(resp)
        except requests.exceptions.SSLError as exc:
            if _verify_failed(exc):
                raise self._tls_error(url, exc, context) from None
            return Failure(None, f"network error: {_network_reason(exc)}", None)
        except NETWORK_ERRORS as exc:
            return Failure(None, f"network error: {_network_reason(exc)}", None)
        finally:
            self.waited += time.perf_counter() - began
        if resp.status_code != 200:
            return Failure(
                resp.status_code,
                resp.reason or "error",
                tracking_id(resp),
                resp.headers.get("Retry-After"),
                resp.headers.get("Location"),
            )
        return resp

    def _after_failure(self, failure: Failure, attempt: int, context: str) -> None:
        """Raise if the failure is final, else wait as the policy says before the next try."""
        status = failure.status
        if status is not None and status not in TRANSIENT and status not in WAIT_STATUSES:
            raise self._final_error(failure, context)
        if attempt >= self.policy.attempts:
            raise ApiError(
                self._describe(failure, context) + f"; gave up after {attempt} attempts",
                status,
                failure.tracking_id,
            )
        wait = None
        if status in WAIT_STATUSES:
            wait = parse_retry_after(failure.retry_after)
            if wait is not None and wait > self.policy.max_wait:
                raise ApiError(
                    self._describe(failure, context) + f"; asked to wait {wait:.0f}"
                    f" s, more than the {self.policy.max_wait:.0f} s allowed (--max-wait)",
                    status,
                    failure.tracking_id,
                )
        if wait is None or wait <= 0:
            wait = self.policy.backoff_for(attempt, self._rng)
        if status in WAIT_STATUSES:
            self.gate.hold(wait)
        else:
            self._sleep(wait)

    def _final_error(self, failure: Failure, context: str) -> Exception:
        message = self._describe(failure, context)
        if failure.status in (401, 403):
            return AuthError(message)
        if failure.status is not None and 300 <= failure.status < 400:
            message += (
                f"; redirect to {failure.location or 'an unknown place'} not followed, "
                "so the token is not sent elsewhere"
            )
        # the Location came from the server, which may have put the token in it
        return ApiError(self.redact(message), failure.status, failure.tracking_id)

    def _describe(self, failure: Failure, context: str) -> str:
        if failure.status is None:
            head = failure.reason
        else:
            meaning = self.meanings.get(failure.status, failure.reason)
            head = f"HTTP {failure.status}: {meaning}"
        prefix = f"{context}: " if context else ""
        return self.redact(f"{prefix}{head} (trackingid {failure.tracking_id or 'none'})")

    def _tls_error(self, url: str, exc: BaseException, context: str) -> ApiError:
        detail = next(
            (e.verify_message for e in _causes(exc) if isinstance(e, ssl.SSLCertVerificationError)),
            None,
        )
        prefix = f"{context}: " if context else ""
        return ApiError(
            self.redact(
                f"{prefix}TLS certificate verification failed for {urlsplit(url).hostname}"
                f"{f' ({detail})' if detail else ''}; if your network re-signs TLS traffic "
                "(an inspecting proxy), set REQUESTS_CA_BUNDLE to its CA bundle (PEM)"
            )
        )


def tracking_id(resp: requests.Response) -> str | None:
    """The answer's TrackingID header, else an error body's `trackingId`, at most 200 chars."""
    value = resp.headers.get("TrackingID")
    if value:
        return value[:200]
    body = resp.content
    if resp.status_code != 200 and body[:1] == b"{":
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):  # an error body nested too deep is no id
            return None
        if isinstance(doc, dict) and isinstance(doc.get("trackingId"), str):
            return doc["trackingId"][:200]
    return None


NETWORK_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,  # reading the body: a reset, a timeout, bad gzip
    http.client.HTTPException,
    OSError,
)


def _read_body(resp: requests.Response) -> None:
    """Read the body whole, decompressed, as `resp.content` then holds it.

    One read of the raw stream, where `content` would assemble it from 10 kB chunks.
    """
    resp._content = resp.raw.read(decode_content=True)  # what .content returns


def _origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme, host and port, as urllib3 reads them (the default port made explicit)."""
    parts = urllib3.util.parse_url(url)
    scheme = (parts.scheme or "").lower()
    host = parts.host.lower() if parts.host else None
    return scheme, host, parts.port or {"http": 80, "https": 443}.get(scheme)


def _as_is(resp: requests.Response) -> requests.Response:
    return resp


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it wraps: requests and urllib3 nest them in args and reason."""
    todo: list[Any] = [exc]
    seen: set[int] = set()
    while todo:
        item = todo.pop(0)  # outermost first
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]


def _verify_failed(exc: BaseException) -> bool:
    return any(isinstance(e, ssl.SSLCertVerificationError) for e in _causes(exc)) or (
        "CERTIFICATE_VERIFY_FAILED" in str(exc)
    )


def _network_reason(exc: BaseException) -> str:
    """The innermost error's class name: `NewConnectionError` rather than `ConnectionError`."""
    names = [type(e).__name__ for e in _causes(exc) if not isinstance(e, requests.RequestException)]
    inner = [n for n in names if n not in ("MaxRetryError", "ProtocolError")]
    return inner[0] if inner else type(exc).__name__
