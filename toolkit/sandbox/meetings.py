"""The sandbox's `GET /v1/meetings` and `GET /v1/people/me`, from a dataset's meetings.

List Meetings as `shared/api/list-meetings.md` describes it, for ended instances:
`meetingType`, `state`, the `has*` flags (which need `meetingType=meeting` and
`state=ended`), `from` (inclusive) and `to` (exclusive) matched against an
instance's start, with the 7-day defaults, `hostEmail`, `siteUrl`, `max` (1 to
100, default 10), at most `cap` instances per query (10,000 upstream), and pages
linked by a `Link: <...>; rel="next"` header whose URL carries an opaque cursor.
Items are served as the dataset's bytes, oldest first.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson

from toolkit.sandbox.http import RefusedError

DEFAULT_CAP = 10_000
DEFAULT_WINDOW = timedelta(days=7)
MAX_PAGE = 100
FLAGS = (
    "hasChat",
    "hasRecording",
    "hasTranscription",
    "hasSummary",
    "hasClosedCaption",
    "hasPolls",
    "hasQA",
    "hasSlido",
)
_CURSOR = "cursor"


@dataclass(frozen=True)
class Meeting:
    """One item of the dataset: its bytes and the fields the filters read."""

    line: bytes
    start: datetime
    state: str
    meeting_type: str
    host_email: str
    site_url: str
    flags: dict[str, bool]


def load_meetings(path: Path | None) -> list[Meeting]:
    """The meeting items of a `meetings.jsonl` file, oldest first (none without a file).

    Raises:
        ValueError: for a line that is not an item with an `id` and a parseable `start`.
    """
    if path is None:
        return []
    items = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if line.strip():
            items.append(_meeting(line, f"{path.name}:{number}"))
    return sorted(items, key=lambda m: m.start)


def _meeting(line: bytes, where: str) -> Meeting:
    doc = orjson.loads(line)
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise ValueError(f"{where}: not a meeting item with an id")
    start = parse_time(str(doc.get("start", "")))
    if start is None:
        raise ValueError(f"{where}: no valid start")
    flags = {name: bool(doc.get(name)) for name in FLAGS}
    return Meeting(
        line,
        start,
        str(doc.get("state", "")),
        str(doc.get("meetingType", "")),
        str(doc.get("hostEmail", "")).lower(),
        str(doc.get("siteUrl", "")).lower(),
        flags,
    )


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time (`Z` or an offset; naive is UTC), or None if it is not one."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class MeetingList:
    """Answers List Meetings queries over a dataset's items.

    Args:
        meetings: the items, oldest first.
        cap: the most instances one query lists, whatever the paging.
    """

    def __init__(self, meetings: list[Meeting], cap: int = DEFAULT_CAP):
        self.meetings = meetings
        self.cap = cap

    def page(self, query: str, url: str, now: datetime) -> tuple[bytes, str | None]:
        """One page of the listing: the JSON body and the `Link` header (None on the last).

        Args:
            query: the request's query string.
            url: the absolute URL of `/meetings`, for the next link.
            now: the current time, for the default window.

        Raises:
            RefusedError: 400 for a query the API would refuse.
        """
        params = parse_qs(query, keep_blank_values=True)
        offset = _cursor(params)
        matches = self._matches(params, now)[: self.cap]
        size = _max(params)
        chosen = matches[offset : offset + size]
        body = b'{"items":[' + b",".join(m.line for m in chosen) + b"]}"
        if offset + size >= len(matches):
            return body, None
        return body, f'<{url}?{_next_query(params, offset + size)}>; rel="next"'

    def _matches(self, params: dict[str, list[str]], now: datetime) -> list[Meeting]:
        kind = _one(params, "meetingType") or "meetingSeries"
        state = _one(params, "state")
        flags = {name: _bool(params, name) for name in FLAGS if name in params}
        if flags and (kind != "meeting" or state != "ended"):
            raise RefusedError(400, 'the has* filters need meetingType "meeting" and state "ended"')
        start, end = _window(params, now)
        if kind != "meeting":
            return []  # the dataset holds ended instances only
        host, site = _one(params, "hostEmail").lower(), _one(params, "siteUrl").lower()
        return [
            m
            for m in self.meetings
            if start <= m.start < end
            and (not state or m.state == state)
            and all(m.flags[name] == value for name, value in flags.items())
            and (not host or m.host_email == host)
            and (not site or m.site_url == site)
        ]


def _one(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name, [])
    if len(values) > 1:
        raise RefusedError(400, f"the query parameter {name} is given more than once")
    return values[0] if values else ""


def _bool(params: dict[str, list[str]], name: str) -> bool:
    value = _one(params, name).lower()
    if value not in ("true", "false"):
        raise RefusedError(400, f"{name} must be true or false")
    return value == "true"


def _max(params: dict[str, list[str]]) -> int:
    value = _one(params, "max") or "10"
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise RefusedError(400, f"max must be a number from 1 to {MAX_PAGE}")
    return int(value)


def _window(params: dict[str, list[str]], now: datetime) -> tuple[datetime, datetime]:
    start, end = _time(params, "from"), _time(params, "to")
    if start is None:
        end = end or now
        start = end - DEFAULT_WINDOW
    elif end is None:
        end = start + DEFAULT_WINDOW
    if start > end:
        raise RefusedError(400, "from cannot be after to")
    return start, end


def _time(params: dict[str, list[str]], name: str) -> datetime | None:
    text = _one(params, name)
    if not text:
        return None
    when = parse_time(text)
    if when is None:
        raise RefusedError(400, f"{name} must be an ISO 8601 time, got {text[:40]!r}")
    return when


def _cursor(params: dict[str, list[str]]) -> int:
    token = _one(params, _CURSOR)
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (ValueError, UnicodeError):
        text = ""
    kind, _, number = text.partition(":")
    if kind != "offset" or not number.isdigit():
        raise RefusedError(400, "invalid cursor: take it from a Link header")
    return int(number)


def _next_query(params: dict[str, list[str]], offset: int) -> str:
    kept = [(k, v) for k, values in params.items() if k != _CURSOR for v in values]
    token = base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()
    return urlencode([*kept, (_CURSOR, token)])


def org_person(org_id: str) -> dict[str, Any]:
    """`GET /people/me` for the sandbox's administrator, in the org of `org_id`."""
    spark = f"ciscospark://us/ORGANIZATION/{org_id}".encode()
    person = b"ciscospark://us/PEOPLE/5a4d6f3e-0000-4000-8000-000000000001"
    return {
        "id": _b64(person),
        "emails": ["compliance.admin@example.com"],
        "displayName": "Sandbox Administrator",
        "orgId": _b64(spark),
        "type": "person",
    }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
