"""The sandbox's serving options and faults, and the per-request fault decision.

Faults are decided from the seed and the number of the request (counting only
requests that pass authentication and parameter checks, on every path), so the same
request sequence meets the same faults. Pages are stateless functions of the
`start` token: a faulted request consumes nothing, and its retry gets the same page.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any

from toolkit.errors import UsageError

DEFAULT_LAG_MS = 15 * 60 * 1000
RATES = ("error_rate", "truncate_rate", "non_json_rate", "drop_rate", "duplicate_rate")
COUNTS = ("rate_limit_every", "locked_every", "oversize_page", "lag_ms", "token_requests")


def _opt(default: Any, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class Faults:
    """How the sandbox serves: the page shape, and the faults to inject.

    Every field is also meant as a CLI flag (`--page-size`, `--error-rate`, ...);
    `fault_options()` gives each field's one-line help. `page_size` and
    `empty_next` are not faults, but they shape what a client must cope with.

    Raises:
        UsageError: for a value out of range, naming the flag.
    """

    page_size: int = _opt(256, "items per page at most (the API's limit is 256)")
    """Items per page at most; the upstream API pages by 256."""

    empty_next: bool = _opt(False, 'end the last page with "next": "" instead of no next')
    """End the listing with `"next": ""` rather than leaving `next` out."""

    latency: float = _opt(0.0, "seconds to wait before answering each events request")
    """Seconds added to every events request (after the checks, faulted or not)."""

    rate_limit_every: int = _opt(0, "answer every Nth events request 429 (0: never)")
    """Answer every Nth events request `429 Too Many Requests`, with `retry_after`."""

    rate_limit_session: str | None = _opt(
        None, "answer 429s to this session only, counting --rate-limit-every among its requests"
    )
    """Rate-limit one session only: `rate_limit_every` then counts that session's requests,
    and no other session is answered 429, so a test can see whether the others pause."""

    locked_every: int = _opt(0, "answer every Nth events request 423 Locked (0: never)")
    """Answer every Nth events request `423 Locked`, with `retry_after`.

    When a request is both, 429 wins."""

    retry_after: str | None = _opt("1", "Retry-After value for 429 and 423, as is (none: omit)")
    """The `Retry-After` header value, sent verbatim, so tests can send "0", "", "abc" or
    an HTTP date; None sends no header."""

    error_rate: float = _opt(0.0, "share of events requests answered with a 5xx status")
    """Share of events requests answered with a status drawn from `error_statuses`."""

    error_statuses: tuple[int, ...] = _opt((500, 502, 503, 504), "the 5xx statuses to use")
    """The statuses `error_rate` draws from; each must be 5xx."""

    truncate_rate: float = _opt(0.0, "share of pages sent 200 with the body cut in half")
    """Share of pages answered 200 with the first half of the body only (and a matching
    Content-Length), so the HTTP exchange is clean but the JSON is not."""

    non_json_rate: float = _opt(0.0, "share of pages sent 200 with an HTML body")
    """Share of pages answered 200 with a `text/html` maintenance page."""

    drop_rate: float = _opt(0.0, "share of events requests closed without an answer")
    """Share of events requests whose connection is closed without any response."""

    repeat_next: bool = _opt(False, "make the last page point to itself forever")
    """The last page carries its own token as `next`, so the listing never ends; a client
    must notice a token it has already followed."""

    oversize_page: int = _opt(0, "extra items on the first page, beyond page_size (0: none)")
    """Put this many extra items on the first page, breaking the 256-item promise."""

    duplicate_rate: float = _opt(0.0, "share of each page re-serving events of the page before")
    """Each page after the first also re-serves this share of `page_size` events of the
    page before; pages shrink to make room, so they stay within `page_size`."""

    lag_ms: int = _opt(DEFAULT_LAG_MS, "hold back events newer than this many ms before now")
    """Availability lag: events with `createdAtMs > now_ms - lag_ms` are not served yet."""

    now_ms: int | None = _opt(None, "the current time in epoch ms for the lag (none: real time)")
    """The clock for the lag, in epoch milliseconds; None reads the real time."""

    meetings_cap: int = _opt(10_000, "most meeting instances one List Meetings query lists")
    """The cap on one List Meetings query's instances, all pages together (10,000
    upstream); tests lower it to make a client split its windows."""

    token_lifetime: float = _opt(3600.0, "seconds an access token from /access_token lasts")
    """Seconds an access token issued by `POST /access_token` is valid (401 after)."""

    token_requests: int = _opt(0, "requests an issued access token answers (0: no limit)")
    """Requests an issued access token answers before it expires: a clock tests can
    count on. The fixed `--token` never expires."""

    seed: int = _opt(0, "seed of the page order and of the faults")
    """Seeds the order of events in pages, the page tokens and every fault draw."""

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise UsageError(f"--page-size must be at least 1, got {self.page_size}")
        for name in RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"--{flag(name)} must be between 0 and 1, got {value}")
        for name in COUNTS:
            if getattr(self, name) < 0:
                raise UsageError(f"--{flag(name)} must not be negative")
        if self.meetings_cap < 1:
            raise UsageError("--meetings-cap must be at least 1")
        if self.token_lifetime <= 0:
            raise UsageError("--token-lifetime must be positive")
        if self.latency < 0:
            raise UsageError("--latency must not be negative")
        if not self.error_statuses or any(not 500 <= s <= 599 for s in self.error_statuses):
            raise UsageError(f"--error-statuses must be 5xx codes, got {self.error_statuses}")


def flag(name: str) -> str:
    """The CLI flag name of a `Faults` field, without the leading dashes."""
    return name.replace("_", "-")


def make_faults(values: dict[str, Any]) -> Faults:
    """Faults from CLI values: "none" or "" for retry_after omits it, statuses are a list."""
    values = dict(values)
    if isinstance(values.get("error_statuses"), str):
        try:
            values["error_statuses"] = tuple(
                int(s) for s in values["error_statuses"].split(",") if s.strip()
            )
        except ValueError:
            raise UsageError(
                "--error-statuses takes comma-separated numbers, e.g. 500,503"
            ) from None
    if values.get("retry_after") in ("none", "None"):
        values["retry_after"] = None
    return Faults(**values)


def fault_options() -> dict[str, str]:
    """Every `Faults` field with its one-line help, for building CLI flags."""
    return {f.name: f.metadata["help"] for f in fields(Faults)}


class FaultPlan:
    """Numbers the events requests and decides each one's fault."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self._counter = itertools.count(1)
        self._limited = itertools.count(1)  # requests of `rate_limit_session`
        self._lock = threading.Lock()

    def decide(self, session_id: str = "") -> str:
        """The next request's fault: "429", "423", "drop", "5xx" code, "truncate", "html" or ""."""
        f = self.faults
        with self._lock:
            n = next(self._counter)
            if f.rate_limit_session is not None:  # count that session's requests only
                n_limited = next(self._limited) if session_id == f.rate_limit_session else 0
            else:
                n_limited = n
        if f.rate_limit_every and n_limited and n_limited % f.rate_limit_every == 0:
            return "429"
        if f.locked_every and n % f.locked_every == 0:
            return "423"
        if not (f.drop_rate or f.error_rate or f.truncate_rate or f.non_json_rate):
            return ""
        rng = random.Random(f"sandbox-fault:{f.seed}:{n}")
        drop, error, truncate, html, which = (rng.random() for _ in range(5))
        if drop < f.drop_rate:
            return "drop"
        if error < f.error_rate:
            return str(f.error_statuses[int(which * len(f.error_statuses))])
        if truncate < f.truncate_rate:
            return "truncate"
        return "html" if html < f.non_json_rate else ""
