"""The shared state of one simulated session: clock, RNG, people and the output buffer.

The Q&A and poll simulators (`sample_qaa`, `sample_polls`) both act through a
`Context`: they advance nothing themselves, read `now`, pick people and append
finished events with `emit`. Every dict appended is new or never mutated again,
so a consumer may keep the events it receives.
"""

from __future__ import annotations

import random
from typing import Any, TypeVar

from toolkit.sample.text import FIRST_NAMES, GUEST_NAMES, LAST_NAMES

T = TypeVar("T")
Event = dict[str, Any]

MAX_PEOPLE = 400
MIN_PEOPLE = 12
GUEST_SHARE = 0.15


class Person:
    """A participant or admin: the user id and the `user` object snapshots carry."""

    __slots__ = ("anonymous_user", "user", "user_id")

    def __init__(self, user_id: str, name: str, unverified_name: str):
        self.user_id = user_id
        self.user = {"userId": user_id, "name": name, "unverifiedName": unverified_name}
        self.anonymous_user = {"userId": user_id, "name": "", "unverifiedName": ""}


class Context:
    """Clock, RNG, people and event buffer of one session being generated."""

    def __init__(
        self, org_id: str, session_id: str, rng: random.Random, start_ms: int, n_events: int
    ):
        self.org_id = org_id
        self.session_id = session_id
        self.rng = rng
        self.random = rng.random
        self.now = start_ms
        self.out: list[Event] = []
        self.anonymity = False  # the session's anonymityEnabled, kept by the session driver
        duration_ms = int((50 + 40 * rng.random()) * 60_000)
        self._spread = 2 * max(2, duration_ms // max(n_events, 1)) - 1
        size = min(MAX_PEOPLE, max(MIN_PEOPLE, n_events // 15))
        self.people = [self.new_person(self.chance(GUEST_SHARE)) for _ in range(size)]
        self.hosts = [self.new_person(False) for _ in range(1 + int(rng.random() * 2))]
        self.moderators = [*self.hosts, self.new_person(False)]

    def tick(self) -> None:
        """Advance the clock by at least one millisecond."""
        self.now += 1 + int(self.random() * self._spread)

    def emit(self, actor: str, data: Event) -> None:
        """Append one event: the envelope around `data`, at the current time."""
        self.out.append(
            {
                "createdAtMs": self.now,
                "sessionId": self.session_id,
                "sessionOrgId": self.org_id,
                "userId": actor,
                "data": data,
            }
        )

    def chance(self, p: float) -> bool:
        """True with probability `p`."""
        return self.random() < p

    def pick(self, seq: tuple[T, ...] | list[T]) -> T:
        """One element of a non-empty sequence, uniformly."""
        return seq[int(self.random() * len(seq))]

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return low + int(self.random() * (high - low + 1))

    def new_id(self) -> str:
        """A fresh lowercase UUID-like id."""
        return format_uuid(self.rng.getrandbits(128))

    def new_person(self, guest: bool) -> Person:
        """A new user: a verified name, or for a guest only a typed (unverified) one."""
        user_id = self.new_id()
        if guest:
            typed = self.pick(GUEST_NAMES)
            return Person(user_id, typed, typed)
        return Person(user_id, f"{self.pick(FIRST_NAMES)} {self.pick(LAST_NAMES)}", "")

    def participant(self) -> Person:
        """A random participant."""
        return self.people[int(self.random() * len(self.people))]

    def host(self) -> Person:
        """A random host (they create polls and change settings)."""
        return self.pick(self.hosts)

    def moderator(self) -> Person:
        """A random moderator (the hosts plus one dedicated moderator)."""
        return self.pick(self.moderators)


def format_uuid(bits: int, version: int | None = None) -> str:
    """Format 128 bits as a lowercase UUID string; with `version`, an RFC 4122 one."""
    if version is not None:
        bits = (bits & ~(0xF << 76) & ~(0x3 << 62)) | (version << 76) | (0x2 << 62)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
