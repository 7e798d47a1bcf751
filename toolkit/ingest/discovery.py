"""Discovery: the ended meeting instances that had Slido, from the List Meetings API.

`GET {base}/meetings?meetingType=meeting&state=ended&hasSlido=true&from&to&max=100`,
following `Link: <...>; rel="next"` until there is none (see
`shared/api/list-meetings.md`). A long period is cut into windows (`windows`): the
API lists at most 10,000 instances per query, so a window that reaches the cap is
halved and asked again; no window ends less than 15 minutes ago, since an ended
instance is listed only 15 minutes after it ends. Each instance's `id` is the
compliance API's `sessionId`. The org comes from `--org`, else from `GET
{base}/people/me` (its base64 `orgId` decoded to the UUID).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import requests

from toolkit.config import ID_RE, Secret, normalize_org_id
from toolkit.errors import ApiError, UsageError
from toolkit.ingest.auth import TokenSource
from toolkit.ingest.http import MEANINGS as HTTP_MEANINGS
from toolkit.ingest.http import Failure, Requester, tracking_id
from toolkit.ingest.retry import RetryPolicy

LATENCY = timedelta(minutes=15)  # ended instances are listed 15 minutes after they end
WINDOW = timedelta(days=7)  # the API's own default window
SMALLEST_WINDOW = timedelta(minutes=1)
CAP = 10_000  # instances one query lists at most, all pages together
PAGE_SIZE = 100
MEANINGS = {
    **HTTP_MEANINGS,
    400: "bad request: check --from, --to, --host and --site",
    401: "the discovery token is missing, invalid or expired",
    403: "the token may not list the org's meetings (needs an admin token with the "
    "meeting:admin_schedule_read scope; set WEBEX_DISCOVERY_TOKEN)",
    404: "not found: check the API base URL",
}


@dataclass(frozen=True)
class DiscoveryOptions:
    """Where and how to discover: base URL, token, period, filters, retries.

    `start`/`end` bound the period (end exclusive); `cap` is the API's per-query
    limit (lowered in tests), `window` the longest window asked for at once,
    `page_size` the `max` of each request (100, the API's largest).
    """

    base_url: str
    token: Secret | TokenSource
    start: datetime
    end: datetime
    org_id: str | None = None
    host_email: str | None = None
    site_url: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    cap: int = CAP
    window: timedelta = WINDOW
    page_size: int = PAGE_SIZE
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Discovery:
    """What discovery found: the org, the Slido instances (oldest first) and its effort."""

    org_id: str
    items: list[dict[str, Any]]
    windows: int = 0
    pages: int = 0
    skipped: int = 0  # items without a usable id, or saying they had no Slido
    start: datetime | None = None
    end: datetime | None = None


def windows(
    start: datetime, end: datetime, now: datetime, size: timedelta = WINDOW
) -> list[tuple[datetime, datetime]]:
    """Cut [start, end) into consecutive windows of at most `size`, ending 15 minutes ago.

    Args:
        start: the period's start (inclusive).
        end: its end (exclusive); moved back to `now - 15 minutes` if later.
        now: the current time.
        size: the longest window.

    Returns:
        The windows in order; none when the period is empty after the move.
    """
    end = min(end, now - LATENCY)
    cuts = []
    while start < end:
        cuts.append((start, min(start + size, end)))
        start += size
    return cuts


def period(
    start: datetime | None, end: datetime | None, days: int | None, now: datetime
) -> tuple[datetime, datetime]:
    """The period to discover: `--from`/`--to`, else the last `days` (7) up to now.

    Raises:
        UsageError: `--days` together with `--from`, or `--from` after `--to`.
    """
    if days is not None and start is not None:
        raise UsageError("--days and --from both set where the period starts; give only one")
    end = end or now
    start = start or end - timedelta(days=7 if days is None else days)
    if start >= end:
        raise UsageError(f"--from {start:%Y-%m-%d %H:%M} is not before --to {end:%Y-%m-%d %H:%M}")
    return start, end


def parse_date(text: str, flag: str) -> datetime:
    """A date or ISO 8601 time from the command line; naive ones are UTC.

    Raises:
        UsageError: naming the flag, for text that is not a date.
    """
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {text[:40]!r} is not a date: use e.g. 2026-03-01 or 2026-03-01T12:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def discover(options: DiscoveryOptions) -> Discovery:
    """List the ended instances with Slido in the options' period.

    Returns:
        The org and the instances, each once, oldest first.

    Raises:
        AuthError: 401 (after one renewal, if the token can) or 403.
        ApiError: the API failed after retries, or answered something unusable.
    """
    getter = Requester(
        options.base_url, options.token, options.policy, sleep=options.sleep, meanings=MEANINGS
    )
    try:
        org_id = options.org_id or org_of_token(getter, options.base_url)
        found = Discovery(org_id, [])
        cuts = windows(options.start, options.end, options.now(), options.window)
        found.start, found.end = (cuts[0][0], cuts[-1][1]) if cuts else (None, None)
        seen: dict[str, dict[str, Any]] = {}
        for window in cuts:
            _discover_window(getter, options, window, found, seen)
    finally:
        getter.close()
    found.items = sorted(seen.values(), key=lambda item: (str(item.get("start")), item["id"]))
    return found


def org_of_token(getter: Requester, base_url: str) -> str:
    """The org of the token's user: `GET /people/me`, its base64 `orgId` as a UUID.

    Raises:
        ApiError: the answer has no usable `orgId`.
    """
    doc, _ = get_json(getter, base_url.rstrip("/") + "/people/me", {}, "GET /people/me")
    org = doc.get("orgId") if isinstance(doc, dict) else None
    if not isinstance(org, str):
        raise ApiError("GET /people/me answered without an orgId; give the org with --org")
    try:
        return normalize_org_id(org)
    except UsageError:
        raise ApiError(
            "GET /people/me answered an orgId that is not an org id; use --org"
        ) from None


def get_json(
    getter: Requester, url: str, params: dict[str, str], context: str
) -> tuple[Any, str | None]:
    """The decoded JSON body and the `rel="next"` URL of the `Link` header, with retries.

    A body that is not JSON is retried as a transient failure, as the events client does.
    """
    return getter.fetch(url, params, context, _json_and_next)


def _json_and_next(resp: requests.Response) -> tuple[Any, str | None] | Failure:
    try:
        doc = resp.json()
    except ValueError:
        size = len(resp.content)
        return Failure(None, f"broken response body ({size} bytes, not JSON)", tracking_id(resp))
    return doc, resp.links.get("next", {}).get("url")


def _discover_window(
    getter: Requester,
    options: DiscoveryOptions,
    window: tuple[datetime, datetime],
    found: Discovery,
    seen: dict[str, dict[str, Any]],
) -> None:
    """List one window; one that reaches the cap is halved and each half listed."""
    items = _list_window(getter, options, window, found)
    start, end = window
    if len(items) >= options.cap and end - start > SMALLEST_WINDOW:
        middle = start + (end - start) / 2
        for half in ((start, middle), (middle, end)):
            _discover_window(getter, options, half, found, seen)
        return
    found.windows += 1
    for item in items:
        if _usable(item):
            seen[item["id"]] = item
        else:
            found.skipped += 1


def _list_window(
    getter: Requester,
    options: DiscoveryOptions,
    window: tuple[datetime, datetime],
    found: Discovery,
) -> list[Any]:
    """Every item of one window, page after page along the `Link` header."""
    url: str | None = options.base_url.rstrip("/") + "/meetings"
    params = _query(options, window)
    items: list[Any] = []
    followed: set[str] = set()
    while url is not None:
        doc, link = get_json(getter, url, params, "GET /meetings")
        found.pages += 1
        page = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(page, list):
            raise ApiError("GET /meetings answered a body without an items list")
        items += page
        url, params = link, {}
        if url is not None and not same_origin(url, options.base_url):
            raise ApiError(
                f"GET /meetings: the next link points to {urlsplit(url).hostname or 'nowhere'}, "
                "not the API's host; not followed, so the token is not sent elsewhere"
            )
        if url in followed:
            raise ApiError("GET /meetings repeated a next link; stopped instead of looping")
        if url is not None:
            followed.add(url)
    return items


def same_origin(url: str, base_url: str) -> bool:
    """True when `url` has the scheme, host and port of the API base (a safe next link)."""
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _query(options: DiscoveryOptions, window: tuple[datetime, datetime]) -> dict[str, str]:
    query = {
        "meetingType": "meeting",
        "state": "ended",
        "hasSlido": "true",
        "from": _iso(window[0]),
        "to": _iso(window[1]),
        "max": str(options.page_size),
    }
    if options.host_email:
        query["hostEmail"] = options.host_email
    if options.site_url:
        query["siteUrl"] = options.site_url
    return query


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _usable(item: Any) -> bool:
    """An item with a valid instance id that does not say it had no Slido."""
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str)
        and ID_RE.fullmatch(item["id"]) is not None
        and item.get("hasSlido") is not False
        and item.get("meetingType", "meeting") == "meeting"
    )


def sessions_file_text(found: Discovery) -> str:
    """The `org,session` lines `sync --sessions-file` reads, one per instance."""
    header = f"# {len(found.items)} meeting instances with Slido, found by discover\n"
    return header + "".join(f"{found.org_id},{item['id']}\n" for item in found.items)
