"""The HTTP plumbing of the sandbox: a quiet threading server and its request handler.

The handler knows nothing of datasets or faults: it hands each request to the
server's `sandbox.respond(method, target, authorization, tracking_id)` and writes
the `Response` it gets back, adding `Content-Length` and a `TrackingID` header.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import orjson

JSON_TYPE = "application/json;charset=UTF-8"
MAX_BODY = 64 * 1024  # a token request is a few hundred bytes


class RefusedError(Exception):
    """A request the sandbox answers with a 4xx status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Response:
    """What to answer one request with; `drop` closes the connection unanswered instead."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    close: bool = False


def error_response(status: int, message: str, tracking_id: str) -> Response:
    """A Webex-style JSON error."""
    body = {"message": message, "errors": [{"description": message}], "trackingId": tracking_id}
    return Response(status, orjson.dumps(body))


class Responder(Protocol):
    """What the server asks for answers and reports requests to (the `Sandbox`)."""

    def respond(
        self,
        method: str,
        target: str,
        authorization: str | None,
        tracking_id: str,
        body: bytes = b"",
    ) -> Response: ...

    def log(self, method: str, target: str, status: int) -> None: ...


class Server(ThreadingHTTPServer):
    """A threading HTTP server that tracks its connections and keeps stderr quiet."""

    daemon_threads = True
    sandbox: Responder

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]):
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: the only errors reaching here are clients going away mid-answer."""

    def close_connections(self) -> None:
        """Shut down every open connection, so idle keep-alive threads end."""
        with self.connections_lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class Server6(Server):
    """The same, over IPv6."""

    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    """One connection: answers each request with what the sandbox says."""

    protocol_version = "HTTP/1.1"
    server_version = "SlidoComplianceSandbox/1"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120
    server: Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default request log on stderr."""

    def do_GET(self) -> None:
        self._reply("GET")

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "0")
        size = int(length) if length.isdigit() else 0
        self._reply("POST", self.rfile.read(min(size, MAX_BODY)))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer malformed requests in JSON too; an unknown method gets the usual 405/404."""
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            self._reply(self.command)
            return
        tracking_id = new_tracking_id()
        response = error_response(code, message or HTTPStatus(code).phrase, tracking_id)
        response.close = True
        self.server.sandbox.log(self.command or "", getattr(self, "path", ""), code)
        self._write(response, tracking_id)

    def _reply(self, method: str, body: bytes = b"") -> None:
        sandbox = self.server.sandbox
        tracking_id = new_tracking_id()
        try:
            response = sandbox.respond(
                method, self.path, self.headers.get("Authorization"), tracking_id, body
            )
        except Exception:  # a sandbox bug must still answer, and in the API's shape
            response = error_response(500, "sandbox failure", tracking_id)
        response.close = response.close or method != "GET"
        sandbox.log(method, self.path, response.status)
        self._write(response, tracking_id)

    def _write(self, response: Response, tracking_id: str) -> None:
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("TrackingID", tracking_id)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


def new_tracking_id() -> str:
    """A unique id for one response, like the `trackingid` Webex sends."""
    return f"SANDBOX_{uuid.uuid4()}"
