"""The SQL views: history, current state, nested data, poll results and the type catalog.

Every test stores a few hand-written events in a fresh database and reads one
view; the right answer is visible in the test itself.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.store import database as db
from toolkit.store.records import EVENT_TYPES

from .helpers import (
    JSON_VALUES,
    ORG,
    SESSION,
    T0,
    clear_events,
    envelope,
    event_id,
    insert_events,
)

OTHER_SESSION = "abcdef0123456789abcdef0123456789_I_000000000000000002"

HISTORY_VIEWS = [
    "session_events",
    "qaa_events",
    "qaa_question_events",
    "qaa_question_reply_events",
    "qaa_question_action_events",
    "poll_events",
    "poll_answer_events",
    "poll_answer_review_events",
    "active_poll_events",
]
ALL_VIEWS = [
    *HISTORY_VIEWS,
    "sessions",
    "qaa_settings",
    "qaa_questions",
    "qaa_question_replies",
    "polls",
    "poll_answers",
    "poll_answer_reviews",
    "active_polls",
    "poll_questions",
    "poll_options",
    "poll_answer_options",
    "poll_answer_texts",
    "qaa_question_profanities",
    "poll_results",
    "unknown_event_types",
]


# --- building events ------------------------------------------------------------------


def at(minute: float) -> int:
    """Milliseconds `minute` minutes after T0."""
    return T0 + round(minute * 60_000)


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def snapshot(
    kind: str, minute: float, *, created: float = 0, deleted: bool = False, **props: Any
) -> dict[str, Any]:
    """A `data` object: a resource snapshot modified at `minute`."""
    return {
        "type": kind,
        "createdAtMs": at(created),
        "modifiedAtMs": at(minute),
        "isDeleted": deleted,
        **props,
    }


def poll(
    poll_id: str,
    minute: float,
    *,
    result: str = "res-1",
    options: dict | None = None,
    questions: dict | None = None,
    **props: Any,
) -> dict[str, Any]:
    kind = {"pollType": "survey"} if questions is not None else {"pollType": "simple"}
    content = {"questions": questions} if questions is not None else {"options": options or {}}
    fields = {
        "pollId": poll_id,
        "questionType": "choice",
        "title": poll_id,
        "activePollResultId": result,
        **kind,
        **content,
        **props,
    }
    return envelope(snapshot("poll", minute, **fields), at(minute))


def option(title: str, order: int, correct: bool | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"title": title, "order": order}
    if correct is not None:
        found["isCorrect"] = correct
    return found


def answer(
    answer_id: str,
    poll_id: str,
    user: str,
    minute: float,
    *,
    result: str = "res-1",
    chosen: tuple[str, ...] = (),
    by_question: dict[str, Any] | None = None,
    **props: Any,
) -> dict[str, Any]:
    content = (
        {"questionAnswers": by_question}
        if by_question is not None
        else {"options": {option_id: {} for option_id in chosen}}
    )
    fields = {
        "userId": user,
        "pollId": poll_id,
        "pollResultId": result,
        "pollAnswerId": answer_id,
        "isAnonymous": False,
        **content,
        **props,
    }
    return envelope(snapshot("pollAnswer", minute, **fields), at(minute), user=user)


def review(
    answer_id: str,
    poll_id: str,
    minute: float,
    *,
    approval: str = "rejected",
    questions: dict | None = None,
    **props: Any,
) -> dict[str, Any]:
    fields = {
        "pollId": poll_id,
        "pollResultId": "res-1",
        "pollAnswerId": answer_id,
        "approval": approval,
        "questions": {} if questions is None else questions,
        **props,
    }
    return envelope(snapshot("pollAnswerReview", minute, **fields), at(minute), user="u-mod")


def question(question_id: str, minute: float, author: str = "u-ann", **props: Any) -> dict:
    fields = {
        "questionId": question_id,
        "text": "Is it lunch yet?",
        "isAnonymous": False,
        "upvotes": 0,
        "replyCount": 0,
        "user": {"userId": author, "name": "Ann", "unverifiedName": None},
        "status": "public",
        **props,
    }
    return envelope(snapshot("qaaQuestion", minute, **fields), at(minute), user=author)


# --- reading views --------------------------------------------------------------------


def rows(con, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def results(con, poll_id: str) -> dict[tuple[str | None, str], tuple[int, int]]:
    """poll_results of one poll as {(question_id, option_id): (votes, respondents)}."""
    found = rows(con, "SELECT * FROM poll_results WHERE poll_id = ?", [poll_id])
    return {(r["question_id"], r["option_id"]): (r["votes"], r["respondents"]) for r in found}


def column_types(con, view: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {view}").fetchall()}


class Json:
    """An expected JSON column value: compared parsed, and the column must be JSON."""

    def __init__(self, value: Any) -> None:
        self.value = value


# --- history views: every property, typed ---------------------------------------------

USER = {"userId": "u-ann", "name": "Ann", "unverifiedName": None}
REPLIER = {"userId": "u-host", "name": "Hannah", "unverifiedName": "Hannah?"}
SIMPLE_OPTIONS = {"o-1": option("Soup", 1, True), "o-2": option("Salad", 2, False)}
SURVEY = {"sq-1": {"order": 1, "isRequired": True, "questionType": "text", "title": "Why?"}}

EVERY_PROPERTY = {
    "session_events": (
        {"type": "session", "anonymityEnabled": True},
        {"anonymity_enabled": True},
    ),
    "qaa_events": (
        {"type": "qaa", "enabled": True, "moderation": False},
        {"enabled": True, "moderation": False},
    ),
    "qaa_question_events": (
        {
            "type": "qaaQuestion",
            "questionId": "q-1",
            "text": "Why now?",
            "isAnonymous": False,
            "archivedStatus": "Answered",
            "profanities": [{"first": 0, "last": 2, "isEmoji": False}],
            "upvotes": 7,
            "replyCount": 2,
            "user": USER,
            "status": "archived",
        },
        {
            "question_id": "q-1",
            "text": "Why now?",
            "is_anonymous": False,
            "archived_status": "Answered",
            "profanities": Json([{"first": 0, "last": 2, "isEmoji": False}]),
            "upvotes": 7,
            "reply_count": 2,
            "author_user_id": "u-ann",
            "author_name": "Ann",
            "author_unverified_name": None,
            "status": "archived",
        },
    ),
    "qaa_question_reply_events": (
        {
            "type": "qaaQuestionReply",
            "questionId": "q-1",
            "replyId": "r-1",
            "user": REPLIER,
            "isAnonymous": False,
            "text": "Because.",
        },
        {
            "question_id": "q-1",
            "reply_id": "r-1",
            "author_user_id": "u-host",
            "author_name": "Hannah",
            "author_unverified_name": "Hannah?",
            "is_anonymous": False,
            "text": "Because.",
        },
    ),
    "qaa_question_action_events": (
        {"type": "qaaQuestionAction", "questionId": "q-1", "action": "highlight"},
        {"question_id": "q-1", "action": "highlight"},
    ),
    "poll_events": (
        {
            "type": "poll",
            "pollId": "p-1",
            "pollType": "simple",
            "questionType": "choice",
            "title": "Lunch?",
            "description": "Pick one",
            "hideNames": True,
            "maxAnswers": 0,
            "options": SIMPLE_OPTIONS,
            "maxOptions": 1,
            "enableCorrectOptions": True,
            "revealCorrectOptions": False,
            "isLocked": True,
            "revealResults": False,
            "questions": SURVEY,
            "activePollResultId": "res-1",
            "order": 2.5,
        },
        {
            "poll_id": "p-1",
            "poll_type": "simple",
            "question_type": "choice",
            "title": "Lunch?",
            "description": "Pick one",
            "hide_names": True,
            "max_answers": 0,
            "options": Json(SIMPLE_OPTIONS),
            "max_options": 1,
            "enable_correct_options": True,
            "reveal_correct_options": False,
            "is_locked": True,
            "reveal_results": False,
            "questions": Json(SURVEY),
            "active_poll_result_id": "res-1",
            "sort_order": 2.5,
        },
    ),
    "poll_answer_events": (
        {
            "type": "pollAnswer",
            "userId": "u-bob",
            "pollId": "p-1",
            "pollResultId": "res-1",
            "pollAnswerId": "a-1",
            "isAnonymous": True,
            "text": "Soup!",
            "options": {"o-1": {}},
            "questionAnswers": {"sq-1": {"text": "Hungry"}},
        },
        {
            "poll_answer_id": "a-1",
            "poll_id": "p-1",
            "poll_result_id": "res-1",
            "respondent_user_id": "u-bob",
            "is_anonymous": True,
            "text": "Soup!",
            "options": Json({"o-1": {}}),
            "question_answers": Json({"sq-1": {"text": "Hungry"}}),
        },
    ),
    "poll_answer_review_events": (
        {
            "type": "pollAnswerReview",
            "pollId": "p-1",
            "pollResultId": "res-1",
            "pollAnswerId": "a-1",
            "approval": "rejected",
            "questions": {"sq-1": {"approval": "none"}},
        },
        {
            "poll_answer_id": "a-1",
            "poll_id": "p-1",
            "poll_result_id": "res-1",
            "approval": "rejected",
            "questions": Json({"sq-1": {"approval": "none"}}),
        },
    ),
    "active_poll_events": (
        {"type": "activePoll", "activePollId": "p-1"},
        {"active_poll_id": "p-1"},
    ),
}


@pytest.mark.parametrize("view", HISTORY_VIEWS)
def test_history_view_has_every_property_as_a_typed_column(con, view):
    props, expected_props = EVERY_PROPERTY[view]
    data = {"createdAtMs": at(1) + 123, "modifiedAtMs": at(2) + 456, "isDeleted": False, **props}
    event = envelope(data, at(3), user="u-actor")
    insert_events(con, [event])

    (row,) = rows(con, f"SELECT * FROM {view}")
    expected = {
        "event_id": event_id(event),
        "event_at": utc(at(3)),
        "session_org_id": ORG,
        "session_id": SESSION,
        "actor_user_id": "u-actor",
        "data_session_id": SESSION,
        "created_at": utc(at(1) + 123),
        "modified_at": utc(at(2) + 456),
        "is_deleted": False,
        **expected_props,
    }
    assert set(row) == set(expected)
    types = column_types(con, view)
    for name, want in expected.items():
        if isinstance(want, Json):
            assert types[name] == "JSON", name
            assert json.loads(row[name]) == want.value, name
        else:
            assert row[name] == want, name
            assert want is None or type(row[name]) is type(want), name


def test_history_views_keep_millisecond_precision(con):
    data = {**snapshot("session", 0), "createdAtMs": T0 + 1, "modifiedAtMs": T0 + 999}
    insert_events(con, [envelope(data, T0 + 7)])
    (row,) = rows(con, "SELECT event_at, created_at, modified_at FROM session_events")
    assert row["created_at"].microsecond == 1000
    assert row["modified_at"].microsecond == 999_000
    assert row["event_at"].microsecond == 7000


def test_each_history_view_holds_only_its_own_type(con):
    events = [envelope(snapshot(kind, 1), at(1)) for kind in EVENT_TYPES]
    insert_events(con, events)
    for view, event in zip(HISTORY_VIEWS, events, strict=True):
        assert rows(con, f"SELECT event_id FROM {view}") == [{"event_id": event_id(event)}]


def test_history_views_keep_a_data_session_id_that_differs_from_the_envelope(con):
    event = envelope(snapshot("session", 1), at(1))
    event["data"]["sessionId"] = OTHER_SESSION
    insert_events(con, [event])
    (row,) = rows(con, "SELECT session_id, data_session_id FROM session_events")
    assert row == {"session_id": SESSION, "data_session_id": OTHER_SESSION}


# --- unknown types and malformed data -------------------------------------------------


def test_an_unknown_event_type_is_listed_in_the_catalog_and_in_no_history_view(con):
    novel = [envelope({"type": "quizLeaderboard", "rank": n}, at(n)) for n in (1, 2)]
    novel.append(envelope({"type": "quizLeaderboard", "rank": 3}, at(5), session=OTHER_SESSION))
    insert_events(con, [*novel, envelope(snapshot("session", 1), at(1))])

    assert rows(con, "SELECT * FROM unknown_event_types") == [
        {
            "event_type": "quizLeaderboard",
            "event_count": 3,
            "session_count": 2,
            "first_event_at": utc(at(1)),
            "last_event_at": utc(at(5)),
        }
    ]
    novel_ids = [event_id(e) for e in novel]
    for view in HISTORY_VIEWS:
        hits = con.execute(
            f"SELECT count(*) FROM {view} WHERE list_contains(?, event_id)", [novel_ids]
        ).fetchone()
        assert hits == (0,), view


def test_the_catalog_is_empty_when_every_type_is_known(con):
    insert_events(con, [envelope(snapshot("session", 1), at(1))])
    assert rows(con, "SELECT * FROM unknown_event_types") == []


def test_malformed_values_give_null_instead_of_an_error(con):
    insert_events(
        con,
        [
            question(
                "q-1",
                1,
                upvotes="many",
                replyCount=[2],
                isAnonymous="perhaps",
                user="Ann",
                profanities="none",
                createdAtMs="yesterday",
            ),
            envelope(
                snapshot(
                    "poll",
                    1,
                    pollId="p-1",
                    options=["Soup", "Salad"],
                    questions="none",
                    order={"first": True},
                    maxOptions=1e300,
                    isLocked=3.5,
                ),
                at(1),
            ),
            answer(
                "a-1", "p-1", "u-bob", 2, by_question={"sq-1": "Soup", "sq-2": [1]}, options="Soup"
            ),
            review("a-1", "p-1", 3, questions=5),
            envelope(snapshot("activePoll", 4, activePollId={"id": "p-1"}), at(4)),
            envelope(snapshot("session", 1e12), at(5)),
        ],
    )
    (q,) = rows(con, "SELECT * FROM qaa_question_events")
    assert (q["upvotes"], q["reply_count"], q["is_anonymous"], q["created_at"]) == (None,) * 4
    assert (q["author_user_id"], q["author_name"], q["author_unverified_name"]) == (None,) * 3
    (p,) = rows(con, "SELECT sort_order, max_options, options FROM polls")
    assert p["sort_order"] is None and p["max_options"] is None
    assert json.loads(p["options"]) == ["Soup", "Salad"]
    (s,) = rows(con, "SELECT modified_at FROM sessions")
    assert s["modified_at"] is None
    for view in ALL_VIEWS:
        con.execute(f"SELECT * FROM {view}").fetchall()
    assert rows(con, "SELECT * FROM poll_options") == []
    assert rows(con, "SELECT * FROM poll_answer_options") == []
    assert rows(con, "SELECT * FROM qaa_question_profanities") == []


PROPERTY_NAMES = st.sampled_from(
    [
        "createdAtMs",
        "modifiedAtMs",
        "isDeleted",
        "questionId",
        "pollId",
        "pollAnswerId",
        "pollResultId",
        "activePollResultId",
        "userId",
        "options",
        "questions",
        "questionAnswers",
        "profanities",
        "user",
        "approval",
        "order",
        "upvotes",
        "text",
        "status",
        "activePollId",
    ]
)
KINDS = st.sampled_from([*EVENT_TYPES, "somethingNew"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(KINDS, st.dictionaries(PROPERTY_NAMES, JSON_VALUES, max_size=6)),
        min_size=1,
        max_size=6,
    )
)
def test_every_view_reads_any_json_without_an_error(con, drafts):
    clear_events(con)
    events = [
        envelope({**data, "type": kind, "pollId": data.get("pollId", "p-1")}, at(n))
        for n, (kind, data) in enumerate(drafts)
    ]
    insert_events(con, events)
    for view in ALL_VIEWS:
        con.execute(f"SELECT * FROM {view}").fetchall()


# --- current state --------------------------------------------------------------------


def test_a_question_keeps_its_whole_moderation_history_and_ends_deleted(con):
    versions = [
        question("q-1", 1, status="in-review"),
        question("q-1", 2, status="public"),
        question("q-1", 3, status="archived", archivedStatus="Answered"),
        question("q-1", 4, status="archived", archivedStatus="Archived"),
        question("q-1", 5, status="archived", archivedStatus="Archived", isDeleted=True),
    ]
    insert_events(con, list(reversed(versions)))

    history = rows(
        con,
        "SELECT status, archived_status, is_deleted FROM qaa_question_events ORDER BY modified_at",
    )
    assert [(h["status"], h["archived_status"], h["is_deleted"]) for h in history] == [
        ("in-review", None, False),
        ("public", None, False),
        ("archived", "Answered", False),
        ("archived", "Archived", False),
        ("archived", "Archived", True),
    ]
    (current,) = rows(con, "SELECT * FROM qaa_questions")
    assert current["question_id"] == "q-1"
    assert current["is_deleted"] is True
    assert (current["status"], current["archived_status"]) == ("archived", "Archived")
    assert current["version_count"] == 5
    assert current["first_event_at"] == utc(at(1))
    assert current["last_event_at"] == utc(at(5))
    assert current["created_at"] == utc(at(0))
    assert current["modified_at"] == utc(at(5))
    assert current["event_id"] == event_id(versions[-1])


def test_question_actions_stay_in_history_only(con):
    insert_events(
        con,
        [
            envelope(snapshot("qaaQuestionAction", n, questionId="q-1", action=action), at(n))
            for n, action in enumerate(["approve", "answer", "archive"], start=1)
        ],
    )
    actions = rows(con, "SELECT action FROM qaa_question_action_events ORDER BY event_at")
    assert [a["action"] for a in actions] == ["approve", "answer", "archive"]
    assert rows(con, "SELECT * FROM qaa_questions") == []


def test_current_state_follows_modified_at_not_arrival(con):
    newer = question("q-1", 5, text="edited")
    older = envelope(question("q-1", 2, text="original")["data"], at(9))
    insert_events(con, [newer, older])
    (current,) = rows(con, "SELECT text, last_event_at FROM qaa_questions")
    assert current == {"text": "edited", "last_event_at": utc(at(9))}


def test_current_state_breaks_a_modified_at_tie_by_event_at_then_event_id(con):
    first = envelope(question("q-1", 3, text="first")["data"], at(3))
    second = envelope(question("q-1", 3, text="second")["data"], at(4))
    insert_events(con, [second, first])
    assert rows(con, "SELECT text FROM qaa_questions") == [{"text": "second"}]

    clear_events(con)
    twins = [envelope(question("q-1", 3, text=t)["data"], at(3)) for t in ("x", "y")]
    insert_events(con, twins)
    winner = max(twins, key=event_id)
    assert rows(con, "SELECT text FROM qaa_questions") == [{"text": winner["data"]["text"]}]


def test_current_state_ranks_a_version_without_modified_at_last(con):
    stamped = question("q-1", 2, text="stamped")
    unstamped = question("q-1", 8, text="unstamped")
    del unstamped["data"]["modifiedAtMs"]
    insert_events(con, [stamped, unstamped])
    assert rows(con, "SELECT text, version_count FROM qaa_questions") == [
        {"text": "stamped", "version_count": 2}
    ]


def test_resource_keys_are_scoped_to_their_session(con):
    insert_events(
        con,
        [
            question("q-1", 1, text="here"),
            envelope(question("q-1", 2, text="there")["data"], at(2), session=OTHER_SESSION),
        ],
    )
    found = rows(con, "SELECT session_id, text FROM qaa_questions ORDER BY text")
    assert found == [
        {"session_id": SESSION, "text": "here"},
        {"session_id": OTHER_SESSION, "text": "there"},
    ]


def test_versions_without_a_key_are_kept_apart_with_a_null_key(con):
    keyless = [question("q-1", n, text=f"v{n}") for n in (1, 2)]
    for event in keyless:
        del event["data"]["questionId"]
    insert_events(con, [*keyless, question("q-2", 3)])
    found = rows(
        con,
        "SELECT question_id, version_count FROM qaa_questions "
        "ORDER BY question_id NULLS FIRST, text",
    )
    assert found == [
        {"question_id": None, "version_count": 1},
        {"question_id": None, "version_count": 1},
        {"question_id": "q-2", "version_count": 1},
    ]


def test_session_level_resources_hold_one_row_per_session(con):
    insert_events(
        con,
        [
            envelope(snapshot("session", 1, anonymityEnabled=False), at(1)),
            envelope(snapshot("session", 2, anonymityEnabled=True), at(2)),
            envelope(snapshot("qaa", 1, enabled=True, moderation=False), at(1)),
            envelope(snapshot("qaa", 3, enabled=True, moderation=True), at(3)),
            envelope(snapshot("activePoll", 4, activePollId="p-1"), at(4)),
            envelope(snapshot("activePoll", 5, activePollId="p-2"), at(5)),
            envelope(snapshot("activePoll", 6, activePollId="p-2", deleted=True), at(6)),
        ],
    )
    assert rows(con, "SELECT anonymity_enabled, version_count FROM sessions") == [
        {"anonymity_enabled": True, "version_count": 2}
    ]
    assert rows(con, "SELECT moderation, version_count FROM qaa_settings") == [
        {"moderation": True, "version_count": 2}
    ]
    assert rows(con, "SELECT active_poll_id, is_deleted, version_count FROM active_polls") == [
        {"active_poll_id": "p-2", "is_deleted": True, "version_count": 3}
    ]


def test_replies_answers_and_reviews_have_their_latest_version(con):
    reply = {"questionId": "q-1", "replyId": "r-1", "user": REPLIER, "isAnonymous": False}
    insert_events(
        con,
        [
            envelope(snapshot("qaaQuestionReply", 1, text="Soon", **reply), at(1)),
            envelope(snapshot("qaaQuestionReply", 2, text="Now", **reply), at(2)),
            answer("a-1", "p-1", "u-bob", 1, chosen=("o-1",)),
            answer("a-1", "p-1", "u-bob", 2, chosen=("o-2",)),
            review("a-1", "p-1", 3),
            review("a-1", "p-1", 4, approval="none"),
        ],
    )
    assert rows(con, "SELECT reply_id, text, version_count FROM qaa_question_replies") == [
        {"reply_id": "r-1", "text": "Now", "version_count": 2}
    ]
    (a,) = rows(con, "SELECT poll_answer_id, options, version_count FROM poll_answers")
    assert (a["poll_answer_id"], json.loads(a["options"]), a["version_count"]) == (
        "a-1",
        {"o-2": {}},
        2,
    )
    assert rows(con, "SELECT poll_answer_id, approval FROM poll_answer_reviews") == [
        {"poll_answer_id": "a-1", "approval": "none"}
    ]


def test_anonymous_posts_keep_their_flag_and_the_author_fields_as_given(con):
    hidden = {"userId": "u-bob", "name": "", "unverifiedName": None}
    insert_events(
        con,
        [
            question("q-1", 1, author="u-bob", isAnonymous=True, user=hidden),
            envelope(
                snapshot(
                    "qaaQuestionReply",
                    2,
                    questionId="q-1",
                    replyId="r-1",
                    user=hidden,
                    isAnonymous=True,
                    text="me too",
                ),
                at(2),
                user="u-bob",
            ),
            answer("a-1", "p-1", "u-bob", 3, chosen=("o-1",), isAnonymous=True),
        ],
    )
    assert rows(con, "SELECT is_anonymous, author_user_id FROM qaa_questions") == [
        {"is_anonymous": True, "author_user_id": "u-bob"}
    ]
    assert rows(con, "SELECT is_anonymous, author_name FROM qaa_question_replies") == [
        {"is_anonymous": True, "author_name": ""}
    ]
    assert rows(con, "SELECT is_anonymous, respondent_user_id FROM poll_answer_options") == [
        {"is_anonymous": True, "respondent_user_id": "u-bob"}
    ]


# --- nested views ---------------------------------------------------------------------


QUIZ = {
    "sq-1": {
        "order": 2,
        "isRequired": True,
        "questionType": "choice",
        "title": "Capital?",
        "description": "of France",
        "hideNames": False,
        "maxOptions": 1,
        "enableCorrectOptions": True,
        "revealCorrectOptions": True,
        "isLocked": False,
        "revealResults": True,
        "options": {"x": option("Paris", 1, True), "y": option("Lyon", 2, False)},
    },
    "sq-2": {
        "order": 1,
        "isRequired": False,
        "questionType": "text",
        "title": "Why?",
        "maxAnswers": 3,
    },
}


def test_poll_questions_list_every_property_of_each_survey_question(con):
    insert_events(con, [poll("p-1", 1, questions=QUIZ)])
    found = rows(con, "SELECT * FROM poll_questions ORDER BY sort_order")
    assert found == [
        {
            "session_id": SESSION,
            "poll_id": "p-1",
            "question_id": "sq-2",
            "sort_order": 1.0,
            "is_required": False,
            "question_type": "text",
            "title": "Why?",
            "description": None,
            "hide_names": None,
            "max_answers": 3,
            "max_options": None,
            "enable_correct_options": None,
            "reveal_correct_options": None,
            "is_locked": None,
            "reveal_results": None,
        },
        {
            "session_id": SESSION,
            "poll_id": "p-1",
            "question_id": "sq-1",
            "sort_order": 2.0,
            "is_required": True,
            "question_type": "choice",
            "title": "Capital?",
            "description": "of France",
            "hide_names": False,
            "max_answers": None,
            "max_options": 1,
            "enable_correct_options": True,
            "reveal_correct_options": True,
            "is_locked": False,
            "reveal_results": True,
        },
    ]


def test_poll_options_list_simple_poll_options_and_survey_question_options(con):
    insert_events(con, [poll("p-1", 1, options=SIMPLE_OPTIONS), poll("p-2", 1, questions=QUIZ)])
    found = rows(con, "SELECT * FROM poll_options ORDER BY poll_id, sort_order")
    assert found == [
        {
            "session_id": SESSION,
            "poll_id": "p-1",
            "question_id": None,
            "option_id": "o-1",
            "title": "Soup",
            "is_correct": True,
            "sort_order": 1.0,
        },
        {
            "session_id": SESSION,
            "poll_id": "p-1",
            "question_id": None,
            "option_id": "o-2",
            "title": "Salad",
            "is_correct": False,
            "sort_order": 2.0,
        },
        {
            "session_id": SESSION,
            "poll_id": "p-2",
            "question_id": "sq-1",
            "option_id": "x",
            "title": "Paris",
            "is_correct": True,
            "sort_order": 1.0,
        },
        {
            "session_id": SESSION,
            "poll_id": "p-2",
            "question_id": "sq-1",
            "option_id": "y",
            "title": "Lyon",
            "is_correct": False,
            "sort_order": 2.0,
        },
    ]


def test_nested_views_follow_the_latest_version_of_the_poll(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options={"o-1": option("Soup", 1), "o-2": option("Salad", 2)}),
            poll("p-1", 2, options={"o-1": option("Soup of the day", 1)}),
        ],
    )
    assert rows(con, "SELECT option_id, title FROM poll_options") == [
        {"option_id": "o-1", "title": "Soup of the day"}
    ]


def test_poll_answer_options_hold_one_row_per_chosen_option(con):
    insert_events(
        con,
        [
            answer("a-1", "p-1", "u-bob", 1, chosen=("o-1", "o-2")),
            answer(
                "a-2",
                "p-2",
                "u-cat",
                1,
                result="res-9",
                by_question={"sq-1": {"options": {"x": {}}}, "sq-2": {"text": "Because"}},
            ),
            answer("a-3", "p-1", "u-dan", 1, chosen=("o-2",), isDeleted=True),
        ],
    )
    found = rows(con, "SELECT * FROM poll_answer_options ORDER BY poll_answer_id, option_id")
    common = {"session_id": SESSION, "is_anonymous": False}
    assert found == [
        {
            **common,
            "poll_answer_id": "a-1",
            "poll_id": "p-1",
            "poll_result_id": "res-1",
            "question_id": None,
            "option_id": "o-1",
            "respondent_user_id": "u-bob",
            "is_deleted": False,
        },
        {
            **common,
            "poll_answer_id": "a-1",
            "poll_id": "p-1",
            "poll_result_id": "res-1",
            "question_id": None,
            "option_id": "o-2",
            "respondent_user_id": "u-bob",
            "is_deleted": False,
        },
        {
            **common,
            "poll_answer_id": "a-2",
            "poll_id": "p-2",
            "poll_result_id": "res-9",
            "question_id": "sq-1",
            "option_id": "x",
            "respondent_user_id": "u-cat",
            "is_deleted": False,
        },
        {
            **common,
            "poll_answer_id": "a-3",
            "poll_id": "p-1",
            "poll_result_id": "res-1",
            "question_id": None,
            "option_id": "o-2",
            "respondent_user_id": "u-dan",
            "is_deleted": True,
        },
    ]


def test_poll_answer_texts_hold_simple_and_survey_texts(con):
    insert_events(
        con,
        [
            answer("a-1", "p-1", "u-bob", 1, text="Soup, please"),
            answer(
                "a-2",
                "p-2",
                "u-cat",
                1,
                by_question={"sq-1": {"options": {"x": {}}}, "sq-2": {"text": "Because"}},
            ),
        ],
    )
    found = rows(con, "SELECT * FROM poll_answer_texts ORDER BY poll_answer_id")
    common = {
        "session_id": SESSION,
        "poll_result_id": "res-1",
        "is_deleted": False,
        "is_anonymous": False,
    }
    assert found == [
        {
            **common,
            "poll_answer_id": "a-1",
            "poll_id": "p-1",
            "question_id": None,
            "text": "Soup, please",
            "respondent_user_id": "u-bob",
        },
        {
            **common,
            "poll_answer_id": "a-2",
            "poll_id": "p-2",
            "question_id": "sq-2",
            "text": "Because",
            "respondent_user_id": "u-cat",
        },
    ]


def test_question_profanities_hold_one_row_per_flagged_span(con):
    spans = [{"first": 0, "last": 4, "isEmoji": False}, {"first": 9, "last": 9, "isEmoji": True}]
    insert_events(con, [question("q-1", 1, profanities=spans), question("q-2", 1)])
    found = rows(con, "SELECT * FROM qaa_question_profanities ORDER BY first")
    assert found == [
        {"session_id": SESSION, "question_id": "q-1", "first": 0, "last": 4, "is_emoji": False},
        {"session_id": SESSION, "question_id": "q-1", "first": 9, "last": 9, "is_emoji": True},
    ]


# --- poll results ---------------------------------------------------------------------

LUNCH = {"o-1": option("Soup", 1), "o-2": option("Salad", 2), "o-3": option("Stew", 3)}


def test_poll_results_show_options_with_no_votes_as_zero(con):
    insert_events(
        con, [poll("p-1", 1, options=LUNCH), answer("a-1", "p-1", "u-bob", 2, chosen=("o-2",))]
    )
    assert results(con, "p-1") == {
        (None, "o-1"): (0, 1),
        (None, "o-2"): (1, 1),
        (None, "o-3"): (0, 1),
    }
    titles = rows(con, "SELECT option_title FROM poll_results ORDER BY option_title")
    assert [t["option_title"] for t in titles] == ["Salad", "Soup", "Stew"]


def test_poll_results_of_a_poll_without_answers_are_all_zero(con):
    insert_events(con, [poll("p-1", 1, options=LUNCH)])
    assert set(results(con, "p-1").values()) == {(0, 0)}


def test_poll_results_count_the_latest_version_of_an_edited_answer(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options=LUNCH),
            answer("a-1", "p-1", "u-bob", 2, chosen=("o-1",)),
            answer("a-1", "p-1", "u-bob", 3, chosen=("o-2",)),
        ],
    )
    assert results(con, "p-1")[(None, "o-1")] == (0, 1)
    assert results(con, "p-1")[(None, "o-2")] == (1, 1)


def test_poll_results_ignore_an_edited_then_deleted_answer(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options=LUNCH),
            answer("a-1", "p-1", "u-bob", 2, chosen=("o-1",)),
            answer("a-1", "p-1", "u-bob", 3, chosen=("o-2",)),
            answer("a-1", "p-1", "u-bob", 4, chosen=("o-2",), isDeleted=True),
            answer("a-2", "p-1", "u-cat", 2, chosen=("o-3",)),
        ],
    )
    assert results(con, "p-1") == {
        (None, "o-1"): (0, 1),
        (None, "o-2"): (0, 1),
        (None, "o-3"): (1, 1),
    }


def test_poll_results_ignore_answers_of_a_reset_result(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options=LUNCH, result="res-1"),
            answer("a-1", "p-1", "u-bob", 2, result="res-1", chosen=("o-1",)),
            answer("a-2", "p-1", "u-cat", 2, result="res-1", chosen=("o-2",)),
            poll("p-1", 3, options=LUNCH, result="res-2"),
            answer("a-3", "p-1", "u-bob", 4, result="res-2", chosen=("o-2",)),
        ],
    )
    assert results(con, "p-1") == {
        (None, "o-1"): (0, 1),
        (None, "o-2"): (1, 1),
        (None, "o-3"): (0, 1),
    }


def test_poll_results_ignore_an_answer_rejected_by_its_review(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options=LUNCH),
            answer("a-1", "p-1", "u-bob", 2, chosen=("o-1",)),
            answer("a-2", "p-1", "u-cat", 2, chosen=("o-1",)),
            review("a-2", "p-1", 3, approval="rejected"),
        ],
    )
    assert results(con, "p-1")[(None, "o-1")] == (1, 1)


def test_poll_results_count_an_answer_whose_rejection_was_withdrawn_or_deleted(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options=LUNCH),
            answer("a-1", "p-1", "u-bob", 2, chosen=("o-1",)),
            review("a-1", "p-1", 3, approval="rejected"),
            review("a-1", "p-1", 4, approval="none"),
            answer("a-2", "p-1", "u-cat", 2, chosen=("o-1",)),
            review("a-2", "p-1", 3, approval="rejected"),
            review("a-2", "p-1", 4, approval="rejected", isDeleted=True),
        ],
    )
    assert results(con, "p-1")[(None, "o-1")] == (2, 2)


SURVEY_POLL = {
    "sq-1": {
        "order": 1,
        "questionType": "choice",
        "title": "Colour?",
        "options": {"x": option("Red", 1), "y": option("Blue", 2)},
    },
    "sq-2": {
        "order": 2,
        "questionType": "choice",
        "title": "Size?",
        "maxOptions": 0,
        "options": {"m": option("M", 1), "n": option("L", 2)},
    },
    "sq-3": {"order": 3, "questionType": "text", "title": "Anything else?"},
}


def test_poll_results_count_each_survey_question_with_per_question_rejection(con):
    insert_events(
        con,
        [
            poll("p-1", 1, questions=SURVEY_POLL),
            answer(
                "a-1",
                "p-1",
                "u-bob",
                2,
                by_question={
                    "sq-1": {"options": {"x": {}}},
                    "sq-2": {"options": {"m": {}, "n": {}}},
                    "sq-3": {"text": "great"},
                },
            ),
            answer(
                "a-2",
                "p-1",
                "u-cat",
                2,
                by_question={"sq-1": {"options": {"y": {}}}, "sq-2": {"options": {"n": {}}}},
            ),
            answer("a-3", "p-1", "u-dan", 2, by_question={"sq-1": {"options": {"x": {}}}}),
            review(
                "a-2",
                "p-1",
                3,
                approval="none",
                questions={"sq-2": {"approval": "rejected"}, "sq-1": {"approval": "none"}},
            ),
        ],
    )
    assert results(con, "p-1") == {
        ("sq-1", "x"): (2, 3),
        ("sq-1", "y"): (1, 3),
        ("sq-2", "m"): (1, 1),
        ("sq-2", "n"): (1, 1),
    }
    assert rows(con, "SELECT question_id, text FROM poll_answer_texts") == [
        {"question_id": "sq-3", "text": "great"}
    ]


def test_poll_results_top_level_rejection_rejects_every_question_of_a_survey_answer(con):
    insert_events(
        con,
        [
            poll("p-1", 1, questions=SURVEY_POLL),
            answer(
                "a-1",
                "p-1",
                "u-bob",
                2,
                by_question={"sq-1": {"options": {"x": {}}}, "sq-2": {"options": {"m": {}}}},
            ),
            answer("a-2", "p-1", "u-cat", 2, by_question={"sq-1": {"options": {"x": {}}}}),
            review("a-1", "p-1", 3, approval="rejected"),
        ],
    )
    found = results(con, "p-1")
    assert found[("sq-1", "x")] == (1, 1)
    assert found[("sq-2", "m")] == (0, 0)


def test_poll_results_mark_the_correct_options_of_a_quiz(con):
    insert_events(
        con,
        [
            poll("p-1", 1, questions=QUIZ, enableCorrectOptions=True),
            answer("a-1", "p-1", "u-bob", 2, by_question={"sq-1": {"options": {"x": {}}}}),
            poll("p-2", 1, options={"o-1": option("Yes", 1)}),
        ],
    )
    found = rows(
        con,
        "SELECT poll_id, option_id, option_title, is_correct, votes "
        "FROM poll_results ORDER BY poll_id, option_id",
    )
    assert found == [
        {
            "poll_id": "p-1",
            "option_id": "x",
            "option_title": "Paris",
            "is_correct": True,
            "votes": 1,
        },
        {
            "poll_id": "p-1",
            "option_id": "y",
            "option_title": "Lyon",
            "is_correct": False,
            "votes": 0,
        },
        {
            "poll_id": "p-2",
            "option_id": "o-1",
            "option_title": "Yes",
            "is_correct": None,
            "votes": 0,
        },
    ]


def test_poll_results_count_a_respondent_once_per_question(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options=LUNCH, maxOptions=0),
            answer("a-1", "p-1", "u-bob", 2, chosen=("o-1", "o-2")),
            answer("a-2", "p-1", "u-bob", 3, chosen=("o-3",)),
            answer("a-3", "p-1", "u-cat", 3, chosen=("o-1",)),
        ],
    )
    assert results(con, "p-1") == {
        (None, "o-1"): (2, 2),
        (None, "o-2"): (1, 2),
        (None, "o-3"): (1, 2),
    }


def test_poll_results_count_anonymous_answers(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options=LUNCH),
            answer("a-1", "p-1", "u-bob", 2, chosen=("o-1",), isAnonymous=True),
        ],
    )
    assert results(con, "p-1")[(None, "o-1")] == (1, 1)


def test_poll_results_keep_votes_for_an_option_the_poll_no_longer_has(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options=LUNCH),
            answer("a-1", "p-1", "u-bob", 2, chosen=("o-3",)),
            poll("p-1", 3, options={"o-1": option("Soup", 1), "o-2": option("Salad", 2)}),
        ],
    )
    (orphan,) = rows(con, "SELECT * FROM poll_results WHERE option_id = 'o-3'")
    assert orphan["option_title"] is None and orphan["is_correct"] is None
    assert (orphan["votes"], orphan["respondents"]) == (1, 1)


def test_poll_results_keep_sessions_apart(con):
    insert_events(
        con,
        [
            poll("p-1", 1, options=LUNCH),
            envelope(poll("p-1", 1, options=LUNCH)["data"], at(1), session=OTHER_SESSION),
            answer("a-1", "p-1", "u-bob", 2, chosen=("o-1",)),
        ],
    )
    found = rows(
        con,
        "SELECT session_id, votes FROM poll_results WHERE option_id = 'o-1' ORDER BY session_id",
    )
    assert found == [{"session_id": SESSION, "votes": 1}, {"session_id": OTHER_SESSION, "votes": 0}]


# --- the SQL files --------------------------------------------------------------------


def test_every_sql_file_can_run_twice(con):
    for _name, text in db.sql_files():
        con.execute(text)
        con.execute(text)


VIEW_RE = re.compile(r"CREATE OR REPLACE VIEW (\w+)")


def test_every_view_starts_with_a_comment_giving_its_grain_and_key():
    for name, text in db.sql_files():
        lines = text.splitlines()
        for number, line in enumerate(lines):
            if VIEW_RE.match(line):
                start = number
                while start > 0 and lines[start - 1].startswith("--"):
                    start -= 1
                comment = " ".join(lines[start:number])
                assert comment.startswith("-- one row per"), (name, line)
                assert " key " in comment, (name, line)


def test_a_view_reads_only_views_of_its_own_or_an_earlier_file():
    defined_in: dict[str, int] = {}
    files = db.sql_files()
    for position, (_name, text) in enumerate(files):
        for view in VIEW_RE.findall(text):
            defined_in[view] = position
    for position, (name, text) in enumerate(files):
        for used in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", text):
            assert defined_in.get(used, -1) <= position, (name, used)


def test_the_latest_version_gives_every_column_even_a_missing_one(con):
    # v2 is the latest (greater modifiedAtMs) and has no text: the question's text is
    # NULL, not v1's; a version without modifiedAtMs counts as the oldest, whatever
    # its envelope time
    base = {"type": "qaaQuestion", "questionId": "q1", "createdAtMs": T0}
    v1 = envelope({**base, "modifiedAtMs": T0 + 1000, "text": "old"}, T0 + 1000)
    v2 = envelope({**base, "modifiedAtMs": T0 + 2000, "status": "live"}, T0 + 2000)
    v3 = envelope({**base, "text": "no modifiedAtMs"}, T0 + 9000)
    insert_events(con, [v1, v2, v3])
    row = con.execute(
        "SELECT text, status, version_count FROM qaa_questions WHERE question_id = 'q1'"
    ).fetchall()
    assert row == [(None, "live", 3)]
