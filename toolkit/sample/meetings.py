"""The meeting metadata of a sample dataset: List Meetings items, one JSON line each.

Every session of the dataset is an ended meeting instance with Slido (`hasSlido`
true), whose actual start and end span its events. Besides them, the dataset has
ended meetings that had no Slido (`hasSlido` false, no events), one after each
session, so a client that forgets `hasSlido=true` finds too many. The items carry
the fields `discover` reads (see `shared/api/list-meetings.md`, section 5), seeded
like the rest of the dataset.
"""

from __future__ import annotations

import base64
import random
import unicodedata
from datetime import datetime, timezone
from typing import Any

from toolkit.sample.text import FIRST_NAMES, LAST_NAMES

MEETINGS_FILE = "meetings.jsonl"
SITE_URL = "example.webex.com"
TITLES = (
    "Quarterly all-hands",
    "Product town hall",
    "Compliance training",
    "Customer advisory board",
    "Engineering review",
    "Sales kickoff",
    "Board briefing",
    "Benefits Q&A",
)
WITHOUT_SLIDO_AFTER_MS = 2 * 3600 * 1000  # a meeting without Slido, two hours after each


def iso_ms(ms: int) -> str:
    """An epoch-milliseconds time as the API writes it: `2026-03-03T15:00:00Z`."""
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def person_id(user_uuid: str) -> str:
    """A Webex person id: base64 (unpadded) of `ciscospark://us/PEOPLE/<uuid>`."""
    raw = f"ciscospark://us/PEOPLE/{user_uuid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _ascii(name: str) -> str:
    """A name as an email's local part: lower case, accents and apostrophes dropped."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def meeting_item(
    session_id: str,
    start_ms: int,
    end_ms: int,
    rng: random.Random,
    has_slido: bool = True,
) -> dict[str, Any]:
    """One ended meeting instance as List Meetings returns it (nested objects left out).

    Args:
        session_id: the instance id, `<seriesId>_I_<conference>`.
        start_ms: the actual start, epoch milliseconds.
        end_ms: the actual end.
        rng: draws the title and host.
        has_slido: whether the instance had Slido interactions.
    """
    series = session_id.split("_I_", 1)[0]
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    host_uuid = f"{rng.getrandbits(128):032x}"
    scheduled = datetime.fromtimestamp(start_ms // 3_600_000 * 3600, tz=timezone.utc)
    return {
        "id": session_id,
        "meetingSeriesId": series,
        "scheduledMeetingId": f"{series}_{scheduled:%Y%m%dT%H%M%SZ}",
        "title": rng.choice(TITLES),
        "meetingType": "meeting",
        "state": "ended",
        "scheduledType": "meeting",
        "timezone": "UTC",
        "start": iso_ms(start_ms),
        "end": iso_ms(end_ms),
        "hostUserId": person_id(host_uuid),
        "hostDisplayName": f"{first} {last}",
        "hostEmail": f"{_ascii(first)}.{_ascii(last)}@example.com",
        "siteUrl": SITE_URL,
        "webLink": f"https://{SITE_URL}/example/j.php?MTID={session_id}",
        "hasChat": rng.random() < 0.5,
        "hasRecording": rng.random() < 0.5,
        "hasPolls": has_slido,
        "hasQA": has_slido,
        "hasSlido": has_slido,
    }


def plan_meetings(sessions: list[tuple[str, int, int]], seed: int) -> list[dict[str, Any]]:
    """The meeting items of a dataset: each session's, and one without Slido after each.

    Args:
        sessions: (session_id, first event ms, last event ms) per session.
        seed: the dataset's seed.

    Returns:
        The items, in order of start.
    """
    rng = random.Random(f"slido-meetings:{seed}")
    items = []
    for session_id, first_ms, last_ms in sessions:
        start = first_ms - 60_000 - int(rng.random() * 120_000)
        end = last_ms + 60_000 + int(rng.random() * 300_000)
        items.append(meeting_item(session_id, start, end, rng))
        other = f"{rng.getrandbits(128):032x}_I_{rng.getrandbits(59):018d}"
        later = end + WITHOUT_SLIDO_AFTER_MS
        items.append(meeting_item(other, later, later + 45 * 60_000, rng, has_slido=False))
    return sorted(items, key=lambda item: (item["start"], item["id"]))
