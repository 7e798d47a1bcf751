"""A forwarding HTTP proxy on loopback, for tests: plain GETs forwarded, CONNECT tunnelled.

It records what it was asked (method, target, the Authorization header's scheme),
so a test can tell which requests went through it and with what credentials.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset(
    [
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ]
)


class Seen:
    """One request the proxy received."""

    def __init__(self, method: str, target: str, authorization: str | None):
        self.method = method
        self.target = target
        self.auth_scheme = (authorization or "").split(" ", 1)[0] or None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.server.seen.append(Seen("GET", self.path, self.headers.get("Authorization")))
        url = urlsplit(self.path)
        upstream = http.client.HTTPConnection(url.hostname or "", url.port or 80, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            upstream.request(
                "GET", url.path + (f"?{url.query}" if url.query else ""), None, headers
            )
            answer = upstream.getresponse()
            body = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self) -> None:
        self.server.seen.append(Seen("CONNECT", self.path, self.headers.get("Authorization")))
        host, _, port = self.path.rpartition(":")
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        _pipe(self.connection, upstream)
        upstream.close()
        self.close_connection = True


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    while True:
        ready, _, _ = select.select([a, b], [], [], 30)
        if not ready:
            return
        for source in ready:
            target = b if source is a else a
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            target.sendall(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client going away mid-answer."""


class Proxy:
    """The proxy on 127.0.0.1, a free port, in a daemon thread; a context manager.

    `url` is what to put in `HTTP_PROXY`/`HTTPS_PROXY`; `seen` what it was asked.
    """

    def __init__(self) -> None:
        self._server = _Server()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def seen(self) -> list[Seen]:
        """The requests received so far."""
        return self._server.seen

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        with contextlib.suppress(OSError):
            self._server.server_close()
