"""The token a client sends: where it comes from, and how it is kept out of messages.

Clients take a `Secret` or a `TokenSource`. A source hands out the token to send now
and, after a 401, may renew it (a refreshing source lives in `tokens.py`); a bare
`Secret` is wrapped in `StaticToken`, which never renews. `redact` removes from a
message every token a source handed out, as a token (not as any substring equal to it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol
from urllib.parse import urlsplit

from toolkit.config import Secret, is_loopback

SHORT_TOKEN = 20  # characters; Webex access tokens are over a hundred
# RFC 6750 b64token characters but '.', '+', '/', '~' (which also end words and paths):
# a token is redacted where it is not part of a longer run of these
_TOKEN_CHARS = "A-Za-z0-9_-"  # noqa: S105 (a character class)


class TokenSource(Protocol):
    """Where a client gets its bearer token. Implementations are thread-safe."""

    def current(self) -> Secret:
        """The token to send now (a source may renew it first when it is near expiry)."""
        ...

    def renew(self, rejected: Secret) -> bool:
        """After a 401 with `rejected`: True when another token is now current (retry).

        False means there is nothing better: the client gives up (AuthError, exit 3).
        """
        ...


class StaticToken:
    """One fixed token: `current()` is always it, `renew()` always False."""

    def __init__(self, token: Secret):
        self._token = token

    def current(self) -> Secret:
        """The token."""
        return self._token

    def renew(self, rejected: Secret) -> bool:
        """A fixed token cannot be renewed."""
        return False


def token_source(token: Secret | TokenSource) -> TokenSource:
    """A `TokenSource` for either a bare `Secret` (wrapped in `StaticToken`) or a source."""
    return StaticToken(token) if isinstance(token, Secret) else token


def redact(text: str, *tokens: Secret) -> str:
    """Replace each token in `text` with `***` where it stands as a token.

    An occurrence inside a longer run of token characters (letters, digits, `_`, `-`)
    is another word, not the token: a token `t` leaves `network error` alone.
    """
    for secret in _longest_first(tokens):
        pattern = rf"(?<![{_TOKEN_CHARS}]){re.escape(secret)}(?![{_TOKEN_CHARS}])"
        text = re.sub(pattern, "***", text)
    return text


def short_token_warning(token: Secret, base_url: str) -> str | None:
    """A warning (never showing the token) when it is too short to be a real access token.

    None for a loopback base: a local sandbox takes any token.
    """
    length = len(token.reveal())
    if length >= SHORT_TOKEN or is_loopback(urlsplit(base_url).hostname or ""):
        return None
    return (
        f"the access token is only {length} characters long, too short to be a real Webex "
        "token; check WEBEX_ACCESS_TOKEN (or the token file)"
    )


def _longest_first(tokens: Iterable[Secret]) -> list[str]:
    """The tokens' texts, longest first, so a token inside another is not redacted first."""
    return sorted({t.reveal() for t in tokens if t.reveal()}, key=len, reverse=True)
