"""The List Compliance Events client: a session's pages, one asked for ahead.

Knows nothing of DuckDB or Arrow. Every request goes through `http.Requester` (the
configured `requests` session, retries, the shared wait gate); the token is sent
only in the Authorization header, never over plain HTTP to another host, and is
redacted from every message.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import requests

from toolkit.config import Secret
from toolkit.errors import ApiError
from toolkit.ingest.auth import TokenSource, redact
from toolkit.ingest.http import MEANINGS, USER_AGENT, Failure, Requester, tracking_id
from toolkit.ingest.items import decode_page
from toolkit.ingest.retry import TRANSIENT, WAIT_STATUSES, RateGate, RetryPolicy, parse_retry_after

if TYPE_CHECKING:  # a name for annotations: importing the store would load DuckDB and Arrow
    from toolkit.store.records import KnownPage

__all__ = [
    "EVENTS_MEANINGS",
    "EVENTS_PATH",
    "TRANSIENT",
    "USER_AGENT",
    "WAIT_STATUSES",
    "Client",
    "Page",
    "RateGate",
    "RetryPolicy",
    "parse_retry_after",
    "redact",
]

EVENTS_PATH = "/slido/compliance/events"
EVENTS_MEANINGS = {
    **MEANINGS,
    400: "bad request: check the org and session ids",
    403: "the token may not read compliance events of this org (needs a compliance officer "
    "token with the spark-compliance scopes)",
}
AHEAD = 2  # pages fetched and decoded before the caller asks: enough to hide one answer's wait


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


class Client:
    """A keep-alive client for one API base URL and token (one per worker thread).

    Args:
        base_url: e.g. `https://webexapis.com/v1` or a loopback sandbox.
        token: the bearer token, or a `TokenSource` that may renew it after a 401.
        policy: retry and timeout settings.
        gate: shared wait gate (one per sync, shared by its workers).
        sleep: injected for tests; `time.sleep` by default.
    """

    def __init__(
        self,
        base_url: str,
        token: Secret | TokenSource,
        policy: RetryPolicy | None = None,
        gate: RateGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self._http = Requester(self.base_url, token, policy, gate, sleep, EVENTS_MEANINGS)
        self.policy, self.gate = self._http.policy, self._http.gate
        self._url = self.base_url + EVENTS_PATH
        self.waited = 0.0  # seconds the caller waited for answers to begin (not reading them)

    @property
    def session(self) -> requests.Session:
        """The requests session every call of this client goes through."""
        return self._http.session

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._http.close()

    def iter_pages(
        self,
        org_id: str,
        session_id: str,
        known: Mapping[bytes, KnownPage] | None = None,
    ) -> Iterator[Page]:
        """Yield every page of a session's events until `next` is empty or missing.

        A fetch thread asks for the next page as soon as it has decoded this one, so
        the server prepares it (and the network carries it) while the caller works.

        Args:
            org_id: the session's org.
            session_id: the session.
            known: pages by the SHA-256 of their body; a body received again is not
                decoded (the same bytes hold the same items and next token).

        Raises:
            ApiError: the server repeats a token (a loop), or a page fails for good.
            AuthError: 401 or 403.
        """
        ahead = _LookAhead(partial(self._fetch, org_id, session_id, known or {}), session_id)
        try:
            while (item := ahead.take()) is not None:
                page, waited = item
                self.waited += waited
                yield page
        finally:
            ahead.stop()

    def get_page(
        self,
        org_id: str,
        session_id: str,
        start: str | None = None,
        known: Mapping[bytes, KnownPage] | None = None,
    ) -> Page:
        """GET one page, retrying what is transient; see RetryPolicy and `iter_pages`."""
        page, network = self._fetch(org_id, session_id, known or {}, start)
        self.waited += network
        return page

    def _fetch(
        self, org_id: str, session_id: str, known: Mapping[bytes, KnownPage], start: str | None
    ) -> tuple[Page, float]:
        """One page with retries, and the seconds its HTTP calls took."""
        params = {"sessionOrgId": org_id, "sessionId": session_id}
        if start:
            params["start"] = start
        before = self._http.waited
        page = self._http.fetch(
            self._url, params, f"session {session_id}", partial(_read_page, known=known)
        )
        return page, self._http.waited - before


class _LookAhead:
    """A thread paging one session into a small queue, ahead of the caller.

    It ends after the last page, at the first error (handed to the caller) or when
    stopped; the caller's wait for each page counts at most that page's network time
    (a wait for the thread's decoding is work, not network).
    """

    def __init__(self, fetch: Callable[[str | None], tuple[Page, float]], session_id: str) -> None:
        self._fetch = fetch
        self._session_id = session_id
        self._queue: queue.Queue[tuple[Page, float] | BaseException | None] = queue.Queue(AHEAD)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fetch", daemon=True)
        self._thread.start()

    def take(self) -> tuple[Page, float] | None:
        """The next page and the seconds waited for it; None after the last page."""
        began = time.perf_counter()
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        if item is None:
            return None
        page, network = item
        return page, min(time.perf_counter() - began, network)

    def stop(self) -> None:
        """Stop the thread: it ends after the request it is making, if any."""
        self._stopped.set()
        while True:  # a thread blocked handing over a page takes the freed place and ends
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _run(self) -> None:
        try:
            self._page_all()
        except BaseException as exc:  # handed to the caller, who raises it
            self._queue.put(exc)
        else:
            self._queue.put(None)

    def _page_all(self) -> None:
        seen: set[str] = set()
        start: str | None = None
        while not self._stopped.is_set():
            page, network = self._fetch(start)
            self._queue.put((page, network))
            if not page.next:
                return
            if page.next in seen:
                raise ApiError(
                    f"session {self._session_id}: the API repeated pagination token "
                    f"{page.next[:24]!r}; stopped instead of looping forever "
                    f"(trackingid {page.tracking_id or 'none'})"
                )
            seen.add(start := page.next)


def _read_page(resp: requests.Response, known: Mapping[bytes, KnownPage]) -> Page | Failure:
    """A 200 answer as a page; a body known as a stored page is not decoded."""
    body = resp.content
    tracking = tracking_id(resp)
    digest = hashlib.sha256(body).digest()  # releases the GIL: other workers go on
    page = known.get(digest)
    if page is not None:
        return Page([], page.next, tracking, len(body), digest)
    return _decode(body, tracking, digest)


def _decode(body: bytes, tracking: str | None, digest: bytes) -> Page | Failure:
    try:
        doc = decode_page(body)
    except ValueError:
        return Failure(None, f"broken response body ({len(body)} bytes, not JSON)", tracking)
    if not isinstance(doc, dict) or not isinstance(doc.get("items", []), list):
        return Failure(None, "response body is not an object with an items list", tracking)
    nxt = doc.get("next")
    if nxt is not None and not isinstance(nxt, str):
        return Failure(None, "response 'next' is not a string", tracking)
    items = doc.get("items") or []
    return Page(items, nxt or None, tracking, len(body), digest)
