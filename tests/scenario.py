"""One hand-written meeting whose audit answers are obvious, shared by the query and report tests.

Cast: u-host (Hannah Host, runs the meeting), u-mod (moderator), u-alice (Alice),
u-bob (posts anonymously), u-carol (a guest, "Carol", unverified) and u-mallory,
whose name and texts are hostile.

Q&A: q1 by Alice, approved by u-mod, upvoted by Carol, replied to by Hannah and
Carol, answered by Hannah. q2 posted anonymously by Bob, then deleted by Bob.
q3 by Mallory (a formula and a script, a profanity flag), deleted by u-mod.

Polls: p1 "Approve the minutes?" (Yes, No and a hostile third option). Under result
res-1 Alice, Carol and
Bob (anonymously) answer; Hannah resets it (res-2); then Alice says Yes, Carol
says Yes and deletes her answer, Mallory says No and u-mod rejects it; then
Hannah retitles the poll. Current result: Yes 1, No 0, the third 0, one respondent.
p2 is a text poll with two answers (Alice; Bob anonymously).

Plus one event of an unknown type, one rejected item, and one sync that
started 20 minutes after the last event, so the session is settled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import ORG, SESSION, T0, envelope, event_id, insert_events
from toolkit.store.database import connect

HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","click") <script>alert(1)</script>'
OTHER_SESSION = "abcdef0123456789abcdef0123456789_I_000000000000000002"
S = 1000  # one second in ms
LAST_EVENT_MS = T0 + 950 * S
SYNC_STARTED_MS = LAST_EVENT_MS + 20 * 60 * S


def _user(user_id: str, name: str | None, unverified: str | None = None) -> dict[str, Any]:
    return {"userId": user_id, "name": name, "unverifiedName": unverified}


ALICE = _user("u-alice", "Alice")
BOB = _user("u-bob", "Bob")
CAROL = _user("u-carol", None, "Carol")
HANNAH = _user("u-host", "Hannah Host")
MALLORY = _user("u-mallory", HOSTILE)


def _question(
    qid: str, text: str, user: dict[str, Any], at: int, modified: int, **extra: Any
) -> dict[str, Any]:
    data = {
        "type": "qaaQuestion",
        "questionId": qid,
        "createdAtMs": at,
        "modifiedAtMs": modified,
        "isDeleted": False,
        "text": text,
        "isAnonymous": False,
        "user": user,
        "status": "public",
        "upvotes": 0,
        "replyCount": 0,
        "profanities": [],
    }
    return {**data, **extra}


def _reply(rid: str, text: str, user: dict[str, Any], at: int) -> dict[str, Any]:
    return {
        "type": "qaaQuestionReply",
        "questionId": "q1",
        "replyId": rid,
        "createdAtMs": at,
        "modifiedAtMs": at,
        "isDeleted": False,
        "user": user,
        "isAnonymous": False,
        "text": text,
    }


def _action(action: str, at: int) -> dict[str, Any]:
    return {
        "type": "qaaQuestionAction",
        "questionId": "q1",
        "createdAtMs": at,
        "modifiedAtMs": at,
        "isDeleted": False,
        "action": action,
    }


def _poll(title: str, result_id: str, at: int, modified: int) -> dict[str, Any]:
    return {
        "type": "poll",
        "pollId": "p1",
        "createdAtMs": at,
        "modifiedAtMs": modified,
        "isDeleted": False,
        "pollType": "simple",
        "questionType": "choice",
        "title": title,
        "options": {
            "o-yes": {"title": "Yes", "isCorrect": False, "order": 1},
            "o-no": {"title": "No", "isCorrect": False, "order": 2},
            "o-x": {"title": HOSTILE, "isCorrect": False, "order": 3},
        },
        "isLocked": False,
        "activePollResultId": result_id,
        "order": 1,
    }


def _answer(
    aid: str,
    user: str,
    result_id: str,
    at: int,
    option: str | None = None,
    text: str | None = None,
    anonymous: bool = False,
    deleted_at: int | None = None,
    poll_id: str = "p1",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "pollAnswer",
        "userId": user,
        "pollId": poll_id,
        "pollResultId": result_id,
        "pollAnswerId": aid,
        "createdAtMs": at,
        "modifiedAtMs": deleted_at or at,
        "isDeleted": deleted_at is not None,
        "isAnonymous": anonymous,
    }
    if option:
        data["options"] = {option: {}}
    if text:
        data["text"] = text
    return data


def qa_events() -> list[dict[str, Any]]:
    """The session settings and the Q&A: 14 events."""
    q1 = _question(
        "q1", "When is the budget vote?", ALICE, T0 + 60 * S, T0 + 60 * S, status="in-review"
    )
    q3 = _question(
        "q3",
        FORMULA,
        MALLORY,
        T0 + 300 * S,
        T0 + 300 * S,
        profanities=[{"first": 0, "last": 3, "isEmoji": False}],
    )
    q2 = _question(
        "q2", "Why was the audit delayed?", BOB, T0 + 180 * S, T0 + 180 * S, isAnonymous=True
    )
    return [
        envelope(
            {
                "type": "session",
                "createdAtMs": T0,
                "modifiedAtMs": T0,
                "isDeleted": False,
                "anonymityEnabled": True,
            },
            T0,
        ),
        envelope(
            {
                "type": "qaa",
                "createdAtMs": T0,
                "modifiedAtMs": T0,
                "isDeleted": False,
                "enabled": True,
                "moderation": True,
            },
            T0,
        ),
        envelope(q1, T0 + 60 * S, "u-alice"),
        envelope({**q1, "status": "public", "modifiedAtMs": T0 + 120 * S}, T0 + 120 * S, "u-mod"),
        envelope(_action("approve", T0 + 120 * S), T0 + 120 * S, "u-mod"),
        envelope(
            {**q1, "status": "public", "upvotes": 1, "modifiedAtMs": T0 + 130 * S},
            T0 + 130 * S,
            "u-carol",
        ),
        envelope(_action("upvote", T0 + 130 * S), T0 + 130 * S, "u-carol"),
        envelope(_reply("r2", "Same question here", CAROL, T0 + 140 * S), T0 + 140 * S, "u-carol"),
        envelope(_reply("r1", "Next Tuesday", HANNAH, T0 + 150 * S), T0 + 150 * S, "u-host"),
        envelope(_action("answer", T0 + 160 * S), T0 + 160 * S, "u-host"),
        envelope(q2, T0 + 180 * S, "u-bob"),
        envelope({**q2, "isDeleted": True, "modifiedAtMs": T0 + 240 * S}, T0 + 240 * S, "u-bob"),
        envelope(q3, T0 + 300 * S, "u-mallory"),
        envelope({**q3, "isDeleted": True, "modifiedAtMs": T0 + 360 * S}, T0 + 360 * S, "u-mod"),
    ]


def poll_events() -> list[dict[str, Any]]:
    """Two polls, their answers, a review and an event of an unknown type: 16 events."""
    at = T0 + 600 * S
    text_poll = {
        "type": "poll",
        "pollId": "p2",
        "createdAtMs": T0 + 900 * S,
        "modifiedAtMs": T0 + 900 * S,
        "isDeleted": False,
        "pollType": "simple",
        "questionType": "text",
        "title": "Any other business?",
        "activePollResultId": "res-t",
        "order": 2,
    }
    review = {
        "type": "pollAnswerReview",
        "pollId": "p1",
        "pollResultId": "res-2",
        "pollAnswerId": "a6",
        "createdAtMs": T0 + 740 * S,
        "modifiedAtMs": T0 + 740 * S,
        "isDeleted": False,
        "approval": "rejected",
    }
    return [
        envelope(_poll("Approve the minutes?", "res-1", at, at), at),
        envelope(
            {
                "type": "activePoll",
                "createdAtMs": at,
                "modifiedAtMs": at + 10 * S,
                "isDeleted": False,
                "activePollId": "p1",
            },
            at + 10 * S,
        ),
        envelope(_answer("a1", "u-alice", "res-1", at + 20 * S, "o-yes"), at + 20 * S, "u-alice"),
        envelope(_answer("a2", "u-carol", "res-1", at + 30 * S, "o-no"), at + 30 * S, "u-carol"),
        envelope(
            _answer("a3", "u-bob", "res-1", at + 40 * S, "o-yes", anonymous=True),
            at + 40 * S,
            "u-bob",
        ),
        envelope(_poll("Approve the minutes?", "res-2", at, at + 100 * S), at + 100 * S),
        envelope(_answer("a4", "u-alice", "res-2", at + 110 * S, "o-yes"), at + 110 * S, "u-alice"),
        envelope(_answer("a5", "u-carol", "res-2", at + 120 * S, "o-yes"), at + 120 * S, "u-carol"),
        envelope(
            _answer("a6", "u-mallory", "res-2", at + 130 * S, "o-no"), at + 130 * S, "u-mallory"
        ),
        envelope(review, at + 140 * S, "u-mod"),
        envelope(
            _answer("a5", "u-carol", "res-2", at + 120 * S, "o-yes", deleted_at=at + 150 * S),
            at + 150 * S,
            "u-carol",
        ),
        envelope(_poll("Approve the minutes of March?", "res-2", at, at + 200 * S), at + 200 * S),
        envelope(text_poll, T0 + 900 * S),
        envelope(
            _answer(
                "t1",
                "u-alice",
                "res-t",
                T0 + 910 * S,
                text="<img src=x onerror=alert(1)>",
                poll_id="p2",
            ),
            T0 + 910 * S,
            "u-alice",
        ),
        envelope(
            _answer(
                "t2",
                "u-bob",
                "res-t",
                T0 + 920 * S,
                text="More coffee",
                anonymous=True,
                poll_id="p2",
            ),
            T0 + 920 * S,
            "u-bob",
        ),
        envelope({"type": "mysteryWidget", "widgetId": "w1"}, LAST_EVENT_MS),
    ]


def other_session_events() -> list[dict[str, Any]]:
    """A second, quiet session: one question by Alice, a day later."""
    at = T0 + 86_400 * S
    question = _question("q9", "Hello?", ALICE, at, at)
    return [envelope(question, at, "u-alice", session=OTHER_SESSION)]


def all_events() -> list[dict[str, Any]]:
    """Every event of the scenario, in the order they happened."""
    return qa_events() + poll_events()


def scenario_event_ids() -> list[str]:
    """The event ids of the main session, as the contract defines them."""
    return [event_id(event) for event in all_events()]


def retitled(events: list[dict[str, Any]], poll_id: str, title: str) -> list[dict[str, Any]]:
    """The events with every snapshot of poll `poll_id` carrying `title` (a participant's text)."""
    return [
        {**ev, "data": {**ev["data"], "title": title}}
        if ev["data"]["type"] == "poll" and ev["data"].get("pollId") == poll_id
        else ev
        for ev in events
    ]


def build_database(path: Path, events: list[dict[str, Any]] | None = None) -> Path:
    """Write the scenario (or `events` in place of the main session's) into a fresh DuckDB
    file at `path` and close it."""
    con = connect(path)
    insert_events(con, (all_events() if events is None else events) + other_session_events())
    con.execute(
        "INSERT INTO sync_runs VALUES (1, ?, ?, 'https://webexapis.com/v1', "
        "make_timestamptz(? * 1000), make_timestamptz(? * 1000), 2, 36, 35, 1, 'ok', NULL)",
        [ORG, SESSION, SYNC_STARTED_MS, SYNC_STARTED_MS + 5 * S],
    )
    con.execute(
        "INSERT INTO rejected_events VALUES (1, make_timestamptz(? * 1000), "
        "'item is not an object', '[1, 2]', NULL, NULL, 'ab12')",
        [SYNC_STARTED_MS + S],
    )
    con.close()
    return path
