"""The sandbox: a loopback HTTP twin of the List Compliance Events API, with fault options.

It serves a sample dataset (see `toolkit.sample`) with the upstream contract:

- `GET /v1/slido/compliance/events?sessionOrgId=ORG&sessionId=SID[&start=TOKEN]` with
  `Authorization: Bearer TOKEN`; pages of at most `page_size` (256) items in no
  order (a seeded shuffle), opaque `next` tokens, no `next` on the last page.
- 401 for a missing or wrong token; 400 for a missing, repeated or invalid
  `sessionOrgId`/`sessionId` or a `start` token it did not hand out; 403 when the
  session is in the dataset but under another org; 200 with no items for a session
  not in the dataset (as Webex answers for a session without events); 404 for other
  paths; 405 for other methods. Every response carries a `TrackingID` header, and
  errors a JSON body `{"message", "errors", "trackingId"}`.
- Events newer than `now_ms - lag_ms` are held back (15 minutes by default).
- `GET /v1/meetings` (List Meetings over the dataset's `meetings.jsonl`, see
  `sandbox.meetings`), `GET /v1/people/me` (the org of the dataset's first session,
  as a base64 `orgId`) and `POST /v1/access_token` (refresh grants with rotating
  refresh tokens; issued access tokens expire, see `sandbox.oauth`).

Faults (`Faults`) are decided per request from the seed and the request's number,
counting only requests that pass those checks, so a run is reproducible; a faulted
request does not move the listing on (nor spend a refresh token), and its retry
gets the same page. They apply to every path above.

Example:
    >>> with Sandbox("data/sample") as box:  # doctest: +SKIP
    ...     requests.get(f"{box.base_url}/slido/compliance/events", ...)
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson

from toolkit.config import ID_RE, is_loopback
from toolkit.errors import UsageError
from toolkit.sample.generate import read_manifest
from toolkit.sandbox.faults import DEFAULT_LAG_MS, FaultPlan, Faults, fault_options
from toolkit.sandbox.http import (
    Handler,
    RefusedError,
    Response,
    Server,
    Server6,
    error_response,
)
from toolkit.sandbox.meetings import Meeting, MeetingList, load_meetings, org_person
from toolkit.sandbox.oauth import TokenIssuer
from toolkit.sandbox.pages import SessionPages

__all__ = [
    "DEFAULT_LAG_MS",
    "DEFAULT_TOKEN",
    "Faults",
    "RefusedError",
    "Sandbox",
    "fault_options",
    "serve",
]

EVENTS_PATH = "/v1/slido/compliance/events"
MEETINGS_PATH = "/v1/meetings"
PEOPLE_ME_PATH = "/v1/people/me"
TOKEN_PATH = "/v1/access_token"  # noqa: S105 (a path)
ROUTES = {
    EVENTS_PATH: "_events",
    MEETINGS_PATH: "_meetings",
    PEOPLE_ME_PATH: "_people_me",
    TOKEN_PATH: "_token",
}
DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 (a fixed, public, loopback-only token)
HTML_BODY = (
    b"<!DOCTYPE html><html><head><title>Service maintenance</title></head>"
    b"<body><h1>We'll be back soon</h1></body></html>"
)
AUTH_MESSAGE = "The request requires a valid access token set in the Authorization request header."


Headers = list[tuple[str, str]]


class Sandbox:
    """A running sandbox server; a context manager that starts and stops it.

    Args:
        dataset_dir: a dataset written by `toolkit.sample.write_sample`.
        token: the bearer token clients must send.
        faults: page shape and faults; none by default.
        host: a loopback address to listen on; any other is refused.
        port: the port; 0 picks a free one (see `base_url`).
        tls: a server-side TLS context (tests: a test CA's certificate); serves https.

    Raises:
        UsageError: for a non-loopback host, an empty token, a missing or invalid
            dataset, or a port that cannot be bound (raised by `start`).
    """

    def __init__(
        self,
        dataset_dir: str | Path,
        token: str = DEFAULT_TOKEN,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ):
        if not is_loopback(host):
            raise UsageError(f"the sandbox only listens on loopback addresses, not {host!r}")
        if not token:
            raise UsageError("the sandbox needs a non-empty token")
        self.dataset_dir = Path(dataset_dir)
        self.faults = faults or Faults()
        self.host, self.port = host, port
        self.tls = tls
        self.request_log: list[tuple[float, str, str, int]] = []
        f = self.faults
        self.oauth = TokenIssuer(token, f.token_lifetime, f.token_requests)
        self.meeting_list = MeetingList([], f.meetings_cap)
        self._org_id = ""
        self._lock = threading.Lock()
        self._plan = FaultPlan(self.faults)
        self._sessions: dict[str, SessionPages] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The API base URL to give a client, e.g. `http://127.0.0.1:8765/v1`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/v1"

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Sandbox:
        """Index the dataset and serve it from a daemon thread; return self."""
        if self._server is not None:
            return self
        self._sessions = self._load()
        self.meeting_list.meetings = self._load_meetings()
        server_class = Server6 if ":" in self.host else Server
        try:
            server = server_class((self.host, self.port), Handler)
        except OSError as exc:
            self._close_sessions()
            raise UsageError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror}; choose another port"
            ) from None
        if self.tls is not None:  # the handshake in each connection's thread, not accept's
            server.socket = self.tls.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        server.sandbox = self
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and the dataset files."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_sessions()

    def _load(self) -> dict[str, SessionPages]:
        info = read_manifest(self.dataset_dir)
        sessions: dict[str, SessionPages] = {}
        try:
            for s in info.sessions:
                if s.session_id in sessions:
                    raise UsageError(f"session {s.session_id} is listed twice in the manifest")
                sessions[s.session_id] = self._pages(s.org_id, s.session_id, s.file)
        except OSError as exc:
            error = UsageError(f"cannot read {exc.filename}: {exc.strerror}")
        except UsageError as exc:
            error = exc
        else:
            return sessions
        for pages in sessions.values():
            pages.close()
        raise error

    def _load_meetings(self) -> list[Meeting]:
        """The dataset's meeting items; the org of /people/me is its first session's."""
        info = read_manifest(self.dataset_dir)
        self._org_id = info.sessions[0].org_id if info.sessions else ""
        path = self.dataset_dir / info.meetings if info.meetings else None
        try:
            return load_meetings(path)
        except OSError as exc:
            self._close_sessions()
            raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from None
        except ValueError as exc:
            self._close_sessions()
            raise UsageError(f"invalid meetings file in {self.dataset_dir}: {exc}") from None

    def _pages(self, org_id: str, session_id: str, file: str | None) -> SessionPages:
        """Index a session's file (None: a session without events)."""
        f = self.faults
        path = self.dataset_dir / file if file is not None else None
        layout = (f.page_size, f.duplicate_rate, f.oversize_page)
        return SessionPages(org_id, session_id, path, f.seed, layout)

    def _close_sessions(self) -> None:
        for pages in self._sessions.values():
            pages.close()
        self._sessions = {}

    def log(self, method: str, target: str, status: int) -> None:
        """Record one request in `request_log` (status 0: the connection was dropped)."""
        with self._lock:
            self.request_log.append((time.monotonic(), method, target, status))

    # -- answering -------------------------------------------------------------------------

    def respond(
        self,
        method: str,
        target: str,
        authorization: str | None,
        tracking_id: str,
        body: bytes = b"",
    ) -> Response:
        """The response to one request, faults included."""
        parts = urlsplit(target)
        route = ROUTES.get(parts.path)
        if route is None:
            return error_response(404, f"no resource at {parts.path}", tracking_id)
        allowed = "POST" if parts.path == TOKEN_PATH else "GET"
        if method != allowed:
            response = error_response(405, f"{method} is not allowed here", tracking_id)
            response.headers.append(("Allow", allowed))
            return response
        if allowed == "GET" and not self._authorized(authorization):
            return error_response(401, AUTH_MESSAGE, tracking_id)
        try:
            answer: Response = getattr(self, route)(parts.query, body, tracking_id)
        except RefusedError as refusal:
            return error_response(refusal.status, refusal.message, tracking_id)
        return answer

    def _authorized(self, authorization: str | None) -> bool:
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        return scheme.lower() == "bearer" and self.oauth.accepts(credentials.strip())

    def _events(self, query: str, _body: bytes, tracking_id: str) -> Response:
        pages, page = self._resolve(query)
        return self._serve(lambda: (self._page_body(pages, page), []), tracking_id)

    def _meetings(self, query: str, _body: bytes, tracking_id: str) -> Response:
        body, link = self.meeting_list.page(query, self.base_url + "/meetings", self._now())
        headers = [("Link", link)] if link else []
        return self._serve(lambda: (body, headers), tracking_id)

    def _people_me(self, _query: str, _body: bytes, tracking_id: str) -> Response:
        return self._serve(lambda: (orjson.dumps(org_person(self._org_id)), []), tracking_id)

    def _token(self, _query: str, body: bytes, tracking_id: str) -> Response:
        # the fault is decided before the grant, so a faulted request spends no token
        return self._serve(lambda: (self.oauth.grant(body), []), tracking_id)

    def _now(self) -> datetime:
        now_ms = self.faults.now_ms
        seconds = now_ms / 1000 if now_ms is not None else time.time()
        return datetime.fromtimestamp(seconds, tz=timezone.utc)

    def _resolve(self, query: str) -> tuple[SessionPages, int]:
        params = parse_qs(query, keep_blank_values=True)
        org_id = _single(params, "sessionOrgId")
        session_id = _single(params, "sessionId")
        pages = self._sessions.get(session_id)
        if pages is not None and pages.org_id != org_id:
            raise RefusedError(403, f"the token may not read session {session_id} of org {org_id}")
        if pages is None:
            pages = self._pages(org_id, session_id, None)
        if "start" not in params:
            return pages, 0
        start = params["start"]
        if len(start) != 1 or not start[0] or len(start[0]) > 128:
            raise RefusedError(400, "start must be one token taken from a response's next")
        try:
            return pages, pages.page_of(start[0])
        except ValueError as exc:
            raise RefusedError(400, f"invalid start token: {exc}") from None

    def _serve(self, build: Callable[[], tuple[bytes, Headers]], tracking_id: str) -> Response:
        """Answer with the fault this request draws, else with what `build` makes."""
        fault = self._plan.decide()
        if self.faults.latency:
            time.sleep(self.faults.latency)
        if fault in ("429", "423"):
            return self._retry_later(int(fault), tracking_id)
        if fault == "drop":
            return Response(0, drop=True)
        if fault.isdigit():
            return error_response(int(fault), "sandbox fault: try again later", tracking_id)
        body, headers = build()
        if fault == "truncate":
            return Response(200, body[: len(body) // 2])
        if fault == "html":
            return Response(200, HTML_BODY, content_type="text/html;charset=UTF-8")
        return Response(200, body, headers=headers)

    def _retry_later(self, status: int, tracking_id: str) -> Response:
        message = "too many requests" if status == 429 else "the resource is locked"
        response = error_response(status, message, tracking_id)
        if self.faults.retry_after is not None:
            response.headers.append(("Retry-After", self.faults.retry_after))
        return response

    def _page_body(self, pages: SessionPages, page: int) -> bytes:
        f = self.faults
        now_ms = f.now_ms if f.now_ms is not None else int(time.time() * 1000)
        lines = pages.read(page, now_ms - f.lag_ms)
        last = pages.layout.pages - 1
        if f.repeat_next and page == last:
            tail = b',"next":"' + pages.token(last).encode() + b'"}'
        elif page < last:
            tail = b',"next":"' + pages.token(page + 1).encode() + b'"}'
        else:
            tail = b',"next":""}' if f.empty_next else b"}"
        return b"".join((b'{"items":[', b",".join(lines), b"]", tail))


def _single(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name)
    if not values:
        raise RefusedError(400, f"the query parameter {name} is required")
    if len(values) > 1:
        raise RefusedError(400, f"the query parameter {name} is given more than once")
    if not ID_RE.fullmatch(values[0]):
        raise RefusedError(400, f"{name} must be 1 to 128 letters, digits, '_' or '-'")
    return values[0]


def serve(
    dataset_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = DEFAULT_TOKEN,
    faults: Faults | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve a dataset until interrupted (Ctrl-C), for the `sandbox` command.

    Args:
        dataset_dir: the dataset to serve.
        host: a loopback address.
        port: the port; 0 picks a free one.
        token: the bearer token clients must send.
        faults: page shape and faults.
        on_ready: called with the base URL once the server listens.

    Raises:
        UsageError: as `Sandbox` does.
    """
    with Sandbox(dataset_dir, token=token, faults=faults, host=host, port=port) as box:
        if on_ready is not None:
            on_ready(box.base_url)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return
