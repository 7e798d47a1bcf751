"""The database contract: every relation and column CONTRACT.md names exists, as named.

`CONTRACT` below is CONTRACT.md's "Database" section written out; the last tests
read CONTRACT.md (in ../shared beside the repository; skipped without it) and the
OpenAPI description (the ../shared copy, else the one in tests/data) so that this
list cannot drift from them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from toolkit.store import database as db

SHARED = Path(__file__).resolve().parents[2] / "shared"
CONTRACT_MD = SHARED / "CONTRACT.md"
SHARED_OPENAPI = SHARED / "api" / "list-compliance-events.openapi.yml"
# the upstream description: the shared copy where it sits beside the checkout, else ours
OPENAPI = (
    SHARED_OPENAPI
    if SHARED_OPENAPI.exists()
    else Path(__file__).parent / "data" / "list-compliance-events.openapi.yml"
)

ENVELOPE = ["event_id", "event_at", "session_org_id", "session_id", "actor_user_id"]
RESOURCE = ["created_at", "modified_at", "is_deleted"]
CURRENT = ["first_event_at", "last_event_at", "version_count"]
AUTHOR = ["author_user_id", "author_name", "author_unverified_name"]

CONTRACT: dict[str, list[str]] = {
    # tables
    "events": [
        "event_id",
        "event_at",
        "session_org_id",
        "session_id",
        "actor_user_id",
        "event_type",
        "data",
        "sync_id",
        "envelope_extra",  # added in round 2: top-level fields beyond the envelope
    ],
    "sync_runs": [
        "sync_id",
        "session_org_id",
        "session_id",
        "base_url",
        "started_at",
        "finished_at",
        "pages",
        "events_received",
        "events_new",
        "events_rejected",
        "status",
        "error",
    ],
    "rejected_events": ["sync_id", "received_at", "reason", "raw"],
    # history views
    "session_events": [*ENVELOPE, *RESOURCE],
    "qaa_events": [*ENVELOPE, *RESOURCE],
    "qaa_question_events": [*ENVELOPE, *RESOURCE, "question_id", *AUTHOR],
    "qaa_question_reply_events": [*ENVELOPE, *RESOURCE, "question_id", "reply_id", *AUTHOR],
    "qaa_question_action_events": [*ENVELOPE, *RESOURCE, "question_id"],
    "poll_events": [*ENVELOPE, *RESOURCE, "poll_id", "sort_order"],
    "poll_answer_events": [*ENVELOPE, *RESOURCE, "poll_answer_id", "respondent_user_id"],
    "poll_answer_review_events": [*ENVELOPE, *RESOURCE, "poll_answer_id"],
    "active_poll_events": [*ENVELOPE, *RESOURCE],
    # current state
    "sessions": ["session_id", "is_deleted", *CURRENT],
    "qaa_settings": ["session_id", "is_deleted", *CURRENT],
    "qaa_questions": ["session_id", "question_id", "is_deleted", *CURRENT],
    "qaa_question_replies": ["session_id", "reply_id", "is_deleted", *CURRENT],
    "polls": ["session_id", "poll_id", "active_poll_result_id", "is_deleted", *CURRENT],
    "poll_answers": ["session_id", "poll_answer_id", "is_deleted", *CURRENT],
    "poll_answer_reviews": ["session_id", "poll_answer_id", "is_deleted", *CURRENT],
    "active_polls": ["session_id", "is_deleted", *CURRENT],
    # nested data
    "poll_questions": [
        "poll_id",
        "question_id",
        "sort_order",
        "is_required",
        "question_type",
        "title",
        "description",
    ],
    "poll_options": ["poll_id", "question_id", "option_id", "title", "is_correct", "sort_order"],
    "poll_answer_options": [
        "poll_answer_id",
        "poll_id",
        "poll_result_id",
        "question_id",
        "option_id",
        "respondent_user_id",
    ],
    "poll_answer_texts": ["poll_answer_id", "poll_id", "poll_result_id", "question_id", "text"],
    "qaa_question_profanities": ["question_id", "first", "last", "is_emoji"],
    "poll_results": [
        "session_id",
        "poll_id",
        "question_id",
        "option_id",
        "option_title",
        "is_correct",
        "votes",
        "respondents",
    ],
}

TYPES = {
    ("events", "event_at"): "TIMESTAMP WITH TIME ZONE",
    ("events", "data"): "JSON",
    ("events", "envelope_extra"): "JSON",
    **{
        (view, column): "TIMESTAMP WITH TIME ZONE"
        for view in CONTRACT
        if view.endswith("_events") and view not in ("events", "rejected_events")
        for column in ("created_at", "modified_at")
    },
    **{(view, "is_deleted"): "BOOLEAN" for view in CONTRACT if "is_deleted" in CONTRACT[view]},
    **{(view, "version_count"): "BIGINT" for view in CONTRACT if "version_count" in CONTRACT[view]},
    ("poll_results", "votes"): "BIGINT",
    ("poll_results", "respondents"): "BIGINT",
}

# Backticked words of the Database section that are values or API names, not relations or columns.
NOT_NAMES = {"running", "ok", "partial", "failed", "order", "user"}


@pytest.fixture(scope="module")
def columns(tmp_path_factory) -> dict[str, dict[str, str]]:
    """Every relation of a fresh database: {name: {column: type}}."""
    con = db.connect(tmp_path_factory.mktemp("contract") / "fresh.duckdb")
    found: dict[str, dict[str, str]] = {}
    for table, column, kind in con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main'"
    ).fetchall():
        found.setdefault(table, {})[column] = kind
    con.close()
    return found


@pytest.mark.parametrize("relation", sorted(CONTRACT))
def test_contract_relation_exists_with_its_documented_columns(columns, relation):
    assert relation in columns, f"{relation} is missing from a fresh database"
    missing = [c for c in CONTRACT[relation] if c not in columns[relation]]
    assert not missing, f"{relation} lacks {missing}"


def test_contract_columns_have_their_documented_types(columns):
    for (relation, column), kind in TYPES.items():
        assert columns[relation][column] == kind, (relation, column)


def test_every_column_name_is_snake_case(columns):
    for relation in CONTRACT:
        for column in columns[relation]:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", column), (relation, column)


def _database_section() -> str:
    if not CONTRACT_MD.exists():
        pytest.skip(f"{CONTRACT_MD} is not beside the repository")
    text = CONTRACT_MD.read_text(encoding="utf-8")
    return text.split("## Database", 1)[1].split("\n## ", 1)[0]


def test_this_list_names_every_relation_of_contract_md():
    section = _database_section()
    named = set(re.findall(r"`([a-z][a-z0-9_]*)`", section))
    known_columns = {c for cols in CONTRACT.values() for c in cols}
    unknown = named - set(CONTRACT) - known_columns - NOT_NAMES
    assert not unknown, f"CONTRACT.md names {sorted(unknown)}; add them to CONTRACT here"
    for relation in CONTRACT:
        assert f"`{relation}`" in section, f"{relation} is no longer in CONTRACT.md"


# How the contract renames a `data` property; the rest become snake case.
RENAMED = {
    "createdAtMs": ["created_at"],
    "modifiedAtMs": ["modified_at"],
    "order": ["sort_order"],
    "user": AUTHOR,
    "sessionId": ["data_session_id"],
    "type": [],
}
VIEW_OF_TYPE = {
    "session": "session_events",
    "qaa": "qaa_events",
    "qaaQuestion": "qaa_question_events",
    "qaaQuestionReply": "qaa_question_reply_events",
    "qaaQuestionAction": "qaa_question_action_events",
    "poll": "poll_events",
    "pollAnswer": "poll_answer_events",
    "pollAnswerReview": "poll_answer_review_events",
    "activePoll": "active_poll_events",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _column_names(kind: str, prop: str) -> list[str]:
    if kind == "pollAnswer" and prop == "userId":
        return ["respondent_user_id"]
    return RENAMED.get(prop, [_snake(prop)])


def test_history_views_have_a_column_for_every_property_of_the_openapi_schema(columns):
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    response = spec["paths"]["/slido/compliance/events"]["get"]["responses"]["200"]
    item = response["content"]["application/json"]["schema"]["properties"]["items"]["items"]
    variants = item["properties"]["data"]["anyOf"]
    assert len(variants) == len(VIEW_OF_TYPE)
    for variant in variants:
        kind = variant["properties"]["type"]["enum"][0]
        view = VIEW_OF_TYPE[kind]
        for prop in variant["properties"]:
            for column in _column_names(kind, prop):
                assert column in columns[view], f"{view} lacks {column} (data.{prop})"
