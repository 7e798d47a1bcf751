"""One simulated Slido session, streamed as compliance events in time order.

The session opens with its `session` and `qaa` settings, then every step advances
the clock and performs one weighted action: participants answer the active poll,
ask, upvote and reply; hosts run their poll agenda; moderators review answers and
questions; rarely a host changes a setting. A step emits one or two events and the
stream stops at exactly `n_events`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from toolkit.sample.context import Context, Event
from toolkit.sample.polls import PollSim
from toolkit.sample.qaa import QaaSim

# (share of steps, action name) in the order they are tried; the rest asks a question.
ACTION_SHARES = (
    (0.45, "polls.participate"),
    (0.03, "polls.agenda"),
    (0.02, "polls.review"),
    (0.09, "qaa.ask"),
    (0.20, "qaa.upvote"),
    (0.02, "qaa.remove_upvote"),
    (0.05, "qaa.reply"),
    (0.005, "qaa.delete_reply"),
    (0.08, "qaa.moderate"),
    (0.015, "qaa.delete_question"),
    (0.003, "toggle_setting"),
)


class SessionSim:
    """The actions of one session; `run()` yields its events."""

    def __init__(
        self, org_id: str, session_id: str, n_events: int, rng: random.Random, start_ms: int
    ):
        self.ctx = ctx = Context(org_id, session_id, rng, start_ms, n_events)
        ctx.anonymity = ctx.chance(0.75)
        self.qaa = QaaSim(ctx)
        self.polls = PollSim(ctx)
        self.n_events = n_events
        self.session_created = start_ms
        self.qaa_created = 0
        self.table = self._action_table()

    def _action_table(self) -> list[tuple[float, Callable[[], bool]]]:
        owners = {"polls": self.polls, "qaa": self.qaa}
        table, edge = [], 0.0
        for share, name in ACTION_SHARES:
            owner, _, method = name.rpartition(".")
            edge += share
            table.append((edge, getattr(owners.get(owner, self), method)))
        return table

    def run(self) -> Iterator[Event]:
        """Yield the session's events, oldest first, exactly `n_events` of them."""
        ctx = self.ctx
        remaining = self.n_events
        self._open()
        while True:
            out = ctx.out
            del out[remaining:]
            remaining -= len(out)
            yield from out
            out.clear()
            if remaining <= 0:
                return
            ctx.tick()
            self._step(remaining)

    def _step(self, remaining: int) -> None:
        if remaining < 2:  # only one-event actions fit
            if not self.polls.participate():
                self.qaa.ask()
            return
        r = self.ctx.random()
        for edge, action in self.table:
            if r < edge:
                if action():
                    return
                break
        self.qaa.ask()

    def _open(self) -> None:
        host = self.ctx.host().user_id
        self.ctx.emit(host, self._session_snapshot())
        self.ctx.tick()
        self.qaa_created = self.ctx.now
        self.ctx.emit(host, self._qaa_snapshot())

    def toggle_setting(self) -> bool:
        """A host switches Q&A moderation or the session's anonymity. One event."""
        ctx = self.ctx
        if ctx.chance(0.5):
            self.qaa.moderation = not self.qaa.moderation
            ctx.emit(ctx.host().user_id, self._qaa_snapshot())
        else:
            ctx.anonymity = not ctx.anonymity
            ctx.emit(ctx.host().user_id, self._session_snapshot())
        return True

    def _session_snapshot(self) -> Event:
        ctx = self.ctx
        return {
            "type": "session",
            "sessionId": ctx.session_id,
            "createdAtMs": self.session_created,
            "modifiedAtMs": ctx.now,
            "isDeleted": False,
            "anonymityEnabled": ctx.anonymity,
        }

    def _qaa_snapshot(self) -> Event:
        ctx = self.ctx
        return {
            "type": "qaa",
            "sessionId": ctx.session_id,
            "createdAtMs": self.qaa_created,
            "modifiedAtMs": ctx.now,
            "isDeleted": False,
            "enabled": True,
            "moderation": self.qaa.moderation,
        }


def iter_session_events(
    org_id: str, session_id: str, n_events: int, rng: random.Random, start_ms: int
) -> Iterator[Event]:
    """Yield one session's compliance events, oldest first.

    Args:
        org_id: the `sessionOrgId` of every event.
        session_id: the meeting instance id of every event.
        n_events: how many events to yield, exactly.
        rng: the random source; the same state gives the same events.
        start_ms: when the session starts, in epoch milliseconds.

    Yields:
        Events shaped as the API serves them, each a fresh dict the caller may keep.
    """
    return SessionSim(org_id, session_id, n_events, rng, start_ms).run()
