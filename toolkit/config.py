"""Settings from the environment and flags; the token lives in a type that never prints."""

from __future__ import annotations

import base64
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from toolkit.errors import UsageError

COMMERCIAL_BASE = "https://webexapis.com/v1"
GOV_BASE = "https://api-usgov.webex.com/v1"
DEFAULT_DB = Path("data/compliance.duckdb")
TOKEN_ENV = "WEBEX_ACCESS_TOKEN"  # noqa: S105 (a variable name, not a secret)
TOKEN_FILE_ENV = "WEBEX_ACCESS_TOKEN_FILE"  # noqa: S105
BASE_ENV = "WEBEX_API_BASE"
DB_ENV = "SLIDO_DB"

# The documented pattern [a-z0-9-]* is contradicted by its own example (..._I_...).
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ORG_PREFIX = "ciscospark://"


class Secret:
    """A string that never shows itself in repr, str or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        """Return the secret value, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def db_path(path: str | Path | None = None) -> Path:
    """The database path: the argument, else `SLIDO_DB`, else `data/compliance.duckdb`."""
    return Path(path or os.environ.get(DB_ENV) or DEFAULT_DB)


def base_url(url: str | None = None, gov: bool = False) -> str:
    """The API base URL: `--base-url`, else `--gov`, else `WEBEX_API_BASE`, else commercial."""
    if url and gov:
        raise UsageError("--base-url and --gov both choose the API base; give only one")
    chosen = url or (GOV_BASE if gov else None) or os.environ.get(BASE_ENV) or COMMERCIAL_BASE
    check_transport(chosen)
    return chosen.rstrip("/")


def is_loopback(host: str) -> bool:
    """True for localhost and addresses in 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_transport(url: str) -> None:
    """Refuse any base URL over which the token would travel in clear to another host.

    The host is judged as urllib3 (the client's transport) will connect to it: a URL
    that two parsers read as different hosts (`http://evil\\@127.0.0.1/`) is refused,
    as is one carrying a user name or password (a credential in the wrong place).
    """
    parts = urlsplit(url)
    if _UNSAFE_URL.search(url) or parts.hostname != _host_urllib3_uses(url):
        raise UsageError(
            "API base URL has a backslash, space or control character, or names its "
            "host ambiguously; write it plainly, e.g. https://webexapis.com/v1"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"API base URL {url!r} is not an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"API base URL for {parts.hostname} carries a user name or password; remove it "
            "(the token comes from WEBEX_ACCESS_TOKEN)"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"refusing to send the access token over plain HTTP to {parts.hostname}; "
            "use https, or a loopback address for a local sandbox"
        )


_UNSAFE_URL = re.compile(r"[\\\s\x00-\x1f\x7f]")


def _host_urllib3_uses(url: str) -> str | None:
    """The host urllib3 reads from the URL, lower-case, without brackets."""
    try:
        host = parse_url(url).host
    except LocationParseError:
        return None
    return host.strip("[]").lower() if host else None


def normalize_org_id(org: str) -> str:
    """Validate an org id; a base64 `ciscospark://.../ORGANIZATION/<uuid>` id becomes the UUID."""
    org = org.strip()
    decoded = _decode_spark_id(org)
    if decoded is not None:
        org = decoded
    return check_id(org, "org id")


def check_id(value: str, what: str = "session id") -> str:
    """Return the id if it is 1-128 letters, digits, `_` or `-`; else raise UsageError."""
    value = value.strip()
    if not ID_RE.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise UsageError(f"{what} {shown!r} is not valid: use 1 to 128 letters, digits, '_' or '-'")
    return value


def _decode_spark_id(value: str) -> str | None:
    try:
        padded = value + "=" * (-len(value) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        return None
    if text.startswith(_ORG_PREFIX) and "/ORGANIZATION/" in text:
        return text.rsplit("/", 1)[-1]
    return None


@dataclass(frozen=True)
class SessionRef:
    """One session to sync: the org that owns it and the meeting instance id."""

    org_id: str
    session_id: str


def read_sessions_file(path: str | Path, default_org: str | None = None) -> list[SessionRef]:
    """Read `org,session` lines (or bare session ids with `default_org`); `#` starts a comment."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read sessions file {path}: {exc.strerror}") from None
    refs = []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 1 and default_org:
            parts = [default_org, parts[0]]
        if len(parts) != 2:
            raise UsageError(f"{path}:{number}: expected 'org,session', got {line[:60]!r}")
        refs.append(SessionRef(normalize_org_id(parts[0]), check_id(parts[1])))
    return refs


def session_refs(
    org: str | None, sessions: tuple[str, ...] | list[str], sessions_file: str | Path | None
) -> list[SessionRef]:
    """The sessions named by `--org`/`--session` and `--sessions-file`, validated."""
    if sessions and not org:
        raise UsageError("--session needs --org (the Webex org id that owns the session)")
    refs = []
    if sessions:
        org_id = normalize_org_id(org or "")
        refs = [SessionRef(org_id, check_id(s)) for s in sessions]
    if sessions_file:
        refs += read_sessions_file(sessions_file, normalize_org_id(org) if org else None)
    return refs
