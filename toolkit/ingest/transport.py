"""The configured `requests` session of one worker, and its GETs to one API origin.

`new_session()`: proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) and the CA bundle
(`REQUESTS_CA_BUNDLE`, else `SSL_CERT_FILE`, else certifi's) from the environment,
certificates always verified, redirects never followed, and a bearer `auth` so that
`~/.netrc` never replaces our Authorization header.

`Route`: the GETs a `Requester` makes to its one origin. What `Session.request` works
out anew for every request but depends only on the origin (the proxies and CA bundle
the environment gives it, the headers, the adapter) is worked out once, and each GET
is a `PreparedRequest` handed to `Session.send`: a sync asks one host for thousands
of pages, and the per-request work was most of the client's time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode, urlsplit

import requests
import requests.adapters
import requests.auth
from requests.structures import CaseInsensitiveDict

from toolkit.config import Secret
from toolkit.errors import UsageError
from toolkit.ingest.auth import TokenSource

if TYPE_CHECKING:
    from requests.sessions import _Settings

USER_AGENT = "slido-compliance-toolkit/0.1"
CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")  # the first set wins


class BearerAuth(requests.auth.AuthBase):
    """Sets `Authorization: Bearer ...` from a token or a source, on every request.

    Being an explicit `auth`, it also stops requests from taking credentials from
    `~/.netrc` (which it does whenever a request has no auth of its own).
    """

    def __init__(self, token: Secret | TokenSource | None):
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._token
        if token is not None and not isinstance(token, Secret):
            token = token.current()
        if token:
            r.headers["Authorization"] = f"Bearer {token.reveal()}"
        return r


def ca_bundle() -> str | bool:
    """The CA bundle to verify with: from the environment, else True (certifi's).

    requests reads `REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE` itself, but not
    `SSL_CERT_FILE`, which agency machines often set for their re-signing proxy.

    Raises:
        UsageError: the variable names a file or folder that does not exist.
    """
    for name in CA_ENV:
        path = os.environ.get(name)
        if path:
            if not os.path.exists(path):
                raise UsageError(
                    f"{name} is set to {path}, which does not exist; point it at the CA "
                    "bundle (PEM) your network's TLS certificates are signed with, or unset it"
                )
            return path
    return True


class _Session(requests.Session):
    """A requests session that never follows a redirect, and reads the environment once a host.

    requests reads the proxy variables on every request, walking the whole
    environment several times; a sync asks one host for thousands of pages.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], _Settings] = {}

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """No redirect target: a 3xx answer is returned as it is (the token stays here)."""
        return None

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        """As requests merges them, computed once per scheme, host and call options."""
        if proxies or cert is not None or not isinstance(url, str):  # a caller's own
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify)
        settings = self._environment.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, {}, stream, verify, cert)
            self._environment[key] = settings
        merged = settings.copy()
        merged["proxies"] = dict(settings["proxies"])  # a caller's changes stay its own
        return merged


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter, remembering the connection pool of each origin and its TLS options.

    `HTTPAdapter.send` looks the pool up for every request (the URL parsed, the proxy
    selected, `isdir` on the CA bundle, the pool manager's key built) and checks the
    CA bundle's path again (`cert_verify`); a pool depends only on the origin, the
    proxy and the verify and cert options, which are the same for all of a worker's
    requests. A pool the manager has since closed is looked up again.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pools: dict[tuple[Any, ...], Any] = {}
        self._verified: dict[int, tuple[Any, ...]] = {}  # pool id: (the pool, its options)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        """The pool for the request's origin, proxy, verify and cert, as requests picks it."""
        url = request.url or ""
        end = url.find("/", url.find("//") + 2)
        key = (url if end < 0 else url[:end], verify, cert, tuple((proxies or {}).items()))
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # None: closed by the pool manager
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._pools) > 16:  # origins come one or two per worker
                self._pools.clear()
            self._pools[key] = pool
        return pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """As requests sets a pool's TLS options, once per pool and options."""
        options = (url[:5].lower() == "https", verify, cert)
        done = self._verified.get(id(conn))
        if done is None or done[0] is not conn or done[1:] != options:
            super().cert_verify(conn, url, verify, cert)
            if len(self._verified) > 16:
                self._verified.clear()
            self._verified[id(conn)] = (conn, *options)

    def close(self) -> None:
        """Close the pools, forgetting them."""
        self._pools.clear()
        self._verified.clear()
        super().close()


def new_session(token: Secret | TokenSource | None = None) -> requests.Session:
    """A session for one worker: environment proxies and CA bundle, no redirects, bearer auth.

    Args:
        token: sent as the bearer on every request that brings no auth of its own;
            with None, requests made through the session carry no Authorization
            (still never one from `~/.netrc`).
    """
    session = _Session()
    session.trust_env = True  # proxies and CA bundle from the environment, as documented
    session.verify = ca_bundle()
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"})
    session.auth = BearerAuth(token)
    for prefix in ("https://", "http://"):
        session.mount(prefix, _Adapter())
    return session


class Route:
    """GETs to one origin over a session, as `session.get` would send them, prepared cheaply.

    The environment's settings (proxies, `NO_PROXY`, CA bundle) are read once, when
    the route is made, exactly as `Session.merge_environment_settings` reads them for
    the origin; the session's headers are merged once. Each GET then only sets its
    URL and bearer. Redirects are not followed (`allow_redirects=False`, and the
    session has no redirect target); `~/.netrc` is never read (the bearer is ours).

    Args:
        session: the worker's session (`new_session()`).
        origin_url: a URL of the origin every GET goes to (the API base).
        timeout: (connect, read) seconds.
    """

    def __init__(
        self, session: requests.Session, origin_url: str, timeout: tuple[float, float]
    ) -> None:
        self.session = session
        settings = session.merge_environment_settings(origin_url, {}, True, None, None)
        self._send_options: dict[str, Any] = {
            "stream": True,  # the body is read by the caller, in one piece
            "timeout": timeout,
            "allow_redirects": False,
            "verify": settings["verify"],
            "proxies": settings["proxies"],
            "cert": settings["cert"],
        }
        # as requests merges them: the session's headers, those set to None dropped
        headers = {k: v for k, v in session.headers.items() if v is not None}
        self._headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(cast(dict[str, str], headers))
        self._urls: dict[str, str] = {}  # a URL as requests prepares it

    def get(self, url: str, params: Mapping[str, str] | None, token: Secret) -> requests.Response:
        """GET `url?params` with `token` as the bearer; the answer's body is not read yet."""
        request = requests.PreparedRequest()
        request.method = "GET"
        request.url = self._url(url, params)
        request.headers = self._headers.copy()
        request.headers["Authorization"] = f"Bearer {token.reveal()}"
        if self.session.cookies:  # none from the APIs, but a server may set one
            request.prepare_cookies(self.session.cookies)
        return self.session.send(request, **self._send_options)

    def _url(self, url: str, params: Mapping[str, str] | None) -> str:
        """`url` with `params` as requests writes them (quoted once, no fragment moved)."""
        base = self._urls.get(url)
        if base is None:
            prepared = requests.PreparedRequest()
            prepared.prepare_url(url, None)
            base = prepared.url or url
            if len(self._urls) < 64:  # the events URL, and a few others
                self._urls[url] = base
        if not params:
            return base
        if "#" in base:  # the query goes before a fragment: let requests place it
            prepared = requests.PreparedRequest()
            prepared.prepare_url(url, dict(params))
            return prepared.url or url
        return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}"
