"""The sample generator: schema, determinism, realism invariants, streaming memory."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from toolkit.errors import UsageError
from toolkit.sample.generate import (
    DEFAULT_DATASET,
    SampleInfo,
    iter_session_events,
    read_manifest,
    write_sample,
)
from toolkit.store.records import EVENT_TYPES

SPEC = Path(__file__).parent / "data" / "list-compliance-events.openapi.yml"  # upstream copy
TYPES = set(EVENT_TYPES)
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SESSION_RE = re.compile(r"[0-9a-f]{32}_I_[0-9]{18}")
RESOURCE_KEY = {
    "session": "sessionId",
    "qaa": "sessionId",
    "activePoll": "sessionId",
    "qaaQuestion": "questionId",
    "qaaQuestionReply": "replyId",
    "poll": "pollId",
    "pollAnswer": "pollAnswerId",
    "pollAnswerReview": "pollAnswerId",
}


def read_events(info: SampleInfo) -> list[dict[str, Any]]:
    """Every event of a dataset, session by session, in file order."""
    return [
        orjson.loads(line)
        for s in info.sessions
        for line in (info.out_dir / s.file).read_bytes().splitlines()
    ]


@pytest.fixture(scope="module")
def events(sample_dataset: SampleInfo) -> list[dict[str, Any]]:
    return read_events(sample_dataset)


def load_item_schema() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    response = spec["paths"]["/slido/compliance/events"]["get"]["responses"]["200"]
    return response["content"]["application/json"]["schema"]["properties"]["items"]["items"]


# -- shape ---------------------------------------------------------------------------------


def test_every_event_validates_against_its_openapi_type(events: list[dict[str, Any]]) -> None:
    item = load_item_schema()
    envelope = jsonschema.Draft4Validator(item)
    by_type = {
        b["properties"]["type"]["enum"][0]: jsonschema.Draft4Validator(b)
        for b in item["properties"]["data"]["anyOf"]
    }
    assert set(by_type) == TYPES
    for event in events:
        envelope.validate(event)
        by_type[event["data"]["type"]].validate(event["data"])
    assert {e["data"]["type"] for e in events} == TYPES


def test_events_keep_the_api_key_order(events: list[dict[str, Any]]) -> None:
    assert all(
        list(e) == ["createdAtMs", "sessionId", "sessionOrgId", "userId", "data"] for e in events
    )
    assert all(list(e["data"])[:2] == ["type", "sessionId"] for e in events)


def test_ids_look_like_webex_ids(sample_dataset: SampleInfo, events: list[dict[str, Any]]) -> None:
    for s in sample_dataset.sessions:
        assert UUID_RE.fullmatch(s.org_id) and SESSION_RE.fullmatch(s.session_id)
        assert s.file == f"events/{s.session_id}.jsonl"
    for e in events:
        assert UUID_RE.fullmatch(e["userId"])
        for key in ("questionId", "replyId", "pollId", "pollAnswerId", "pollResultId"):
            assert key not in e["data"] or UUID_RE.fullmatch(e["data"][key])


def test_manifest_matches_the_files(sample_dataset: SampleInfo) -> None:
    info = read_manifest(sample_dataset.out_dir)
    assert info == sample_dataset
    assert info.events == 3000 and len(info.sessions) == 3
    for s in info.sessions:
        lines = (info.out_dir / s.file).read_bytes().splitlines()
        assert len(lines) == s.events
        assert all(orjson.loads(x)["sessionId"] == s.session_id for x in lines)


# -- determinism ---------------------------------------------------------------------------


def dataset_bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_identical_bytes(tmp_path: Path, sample_dataset: SampleInfo) -> None:
    again = write_sample(tmp_path / "again", sessions=3, events=3000, seed=7)
    assert dataset_bytes(again.out_dir) == dataset_bytes(sample_dataset.out_dir)


def test_other_seed_gives_other_data(tmp_path: Path, sample_dataset: SampleInfo) -> None:
    other = write_sample(tmp_path / "other", sessions=3, events=3000, seed=8)
    assert dataset_bytes(other.out_dir) != dataset_bytes(sample_dataset.out_dir)
    assert {s.session_id for s in other.sessions}.isdisjoint(
        s.session_id for s in sample_dataset.sessions
    )


def test_committed_sample_is_what_the_documented_command_writes(tmp_path: Path) -> None:
    fresh = write_sample(tmp_path / "fresh", sessions=3, events=3000, seed=7)
    assert dataset_bytes(DEFAULT_DATASET) == dataset_bytes(fresh.out_dir)


# -- realism -------------------------------------------------------------------------------


def test_resources_change_over_time_consistently(events: list[dict[str, Any]]) -> None:
    seen: dict[tuple[str, str], tuple[int, int]] = {}
    last_at: dict[str, int] = {}
    for e in events:
        d = e["data"]
        assert e["createdAtMs"] == d["modifiedAtMs"] and d["createdAtMs"] <= d["modifiedAtMs"]
        assert e["createdAtMs"] >= last_at.get(e["sessionId"], 0)
        last_at[e["sessionId"]] = e["createdAtMs"]
        if d["type"] == "qaaQuestionAction":
            assert d["createdAtMs"] == d["modifiedAtMs"]
            continue
        key = (d["type"], d[RESOURCE_KEY[d["type"]]])
        if key in seen:
            created, modified = seen[key]
            assert d["createdAtMs"] == created and d["modifiedAtMs"] > modified
        seen[key] = (d["createdAtMs"], d["modifiedAtMs"])


def check_answer(answer: dict[str, Any], poll: dict[str, Any]) -> None:
    assert answer["pollResultId"] == poll["activePollResultId"]
    if poll["pollType"] == "survey":
        assert set(answer["questionAnswers"]) <= set(poll["questions"])
        for qid, body in answer["questionAnswers"].items():
            question = poll["questions"][qid]
            assert set(body) == {"text" if question["questionType"] == "text" else "options"}
            assert set(body.get("options", ())) <= set(question.get("options", ()))
    elif poll["questionType"] == "text":
        assert set(answer) >= {"text"} and "options" not in answer
    else:
        assert answer["options"] and set(answer["options"]) <= set(poll["options"])
        assert all(value == {} for value in answer["options"].values())


def test_answers_match_the_poll_version_of_their_time(events: list[dict[str, Any]]) -> None:
    polls: dict[str, dict[str, Any]] = {}
    answers: dict[str, dict[str, Any]] = {}
    for e in events:
        d = e["data"]
        if d["type"] == "poll":
            polls[d["pollId"]] = d
        elif d["type"] == "pollAnswer":
            check_answer(d, polls[d["pollId"]])
            assert not polls[d["pollId"]]["isLocked"] and e["userId"] == d["userId"]
            answers[d["pollAnswerId"]] = d
        elif d["type"] == "pollAnswerReview":
            answer = answers[d["pollAnswerId"]]
            assert (answer["pollId"], answer["pollResultId"]) == (d["pollId"], d["pollResultId"])
        elif d["type"] == "activePoll":
            assert d["activePollId"] in polls


def test_question_counters_follow_actions_and_replies(events: list[dict[str, Any]]) -> None:
    votes: Counter[str] = Counter()
    replies: Counter[str] = Counter()
    questions: set[str] = set()
    for e in events:
        d = e["data"]
        if d["type"] == "qaaQuestionAction":
            assert d["questionId"] in questions
            votes[d["questionId"]] += {"upvote": 1, "removeUpvote": -1}.get(d["action"], 0)
        elif d["type"] == "qaaQuestionReply":
            assert d["questionId"] in questions
            replies[d["questionId"]] += -1 if d["isDeleted"] else 1
        elif d["type"] == "qaaQuestion":
            questions.add(d["questionId"])
            assert d["upvotes"] == votes[d["questionId"]]
            assert d["replyCount"] == replies[d["questionId"]]


def test_question_states_are_consistent(events: list[dict[str, Any]]) -> None:
    authors: dict[str, str] = {}
    for e in events:
        d = e["data"]
        if d["type"] != "qaaQuestion":
            continue
        author = authors.setdefault(d["questionId"], e["userId"])
        assert d["user"]["userId"] == author
        assert (d["status"] == "archived") == ("archivedStatus" in d)
        for p in d.get("profanities", ()):
            assert 0 <= p["first"] <= p["last"] < len(d["text"])
        if d["isAnonymous"]:
            assert d["user"]["name"] == d["user"]["unverifiedName"] == ""


def test_the_sample_shows_every_feature(events: list[dict[str, Any]]) -> None:
    data = [e["data"] for e in events]
    result_ids: dict[str, set[str]] = {}
    for d in data:
        if d["type"] == "poll":
            result_ids.setdefault(d["pollId"], set()).add(d["activePollResultId"])
    assert any(len(ids) > 1 for ids in result_ids.values()), "a reset poll"
    kinds = {
        (d["pollType"], d["questionType"], d.get("enableCorrectOptions"))
        for d in data
        if d["type"] == "poll"
    }
    assert {
        ("survey", "none", None),
        ("simple", "choice", True),
        ("simple", "text", None),
        ("simple", "choice", False),
    } <= kinds
    flags = Counter(
        f"{d['type']}:{key}" for d in data for key in ("isDeleted", "isAnonymous") if d.get(key)
    )
    for flag in (
        "pollAnswer:isDeleted",
        "qaaQuestion:isDeleted",
        "qaaQuestion:isAnonymous",
        "pollAnswer:isAnonymous",
        "qaaQuestionReply:isDeleted",
    ):
        assert flags[flag], flag
    assert any(d["type"] == "pollAnswerReview" and d["approval"] == "rejected" for d in data)
    assert any(d["type"] == "poll" and d["isLocked"] for d in data)
    assert any(d.get("profanities") for d in data)
    assert any(d["type"] == "qaaQuestion" and d["status"] == "in-review" for d in data)
    actions = {d["action"] for d in data if d["type"] == "qaaQuestionAction"}
    assert actions >= {
        "approve",
        "reject",
        "answer",
        "archive",
        "upvote",
        "removeUpvote",
        "highlight",
        "restore",
    }


def test_generator_yields_exactly_the_count_asked() -> None:
    for n in (1, 2, 3, 57):
        stream = iter_session_events("o", "s", n, random.Random(n), 1_000)
        assert len(list(stream)) == n


# -- the API around it ---------------------------------------------------------------------


def test_progress_is_reported_up_to_the_total(tmp_path: Path) -> None:
    seen: list[int] = []
    info = write_sample(tmp_path, sessions=2, events=20_000, seed=3, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == info.events == 20_000 and len(seen) > 2


def test_rewriting_a_dataset_replaces_its_files(tmp_path: Path) -> None:
    first = write_sample(tmp_path, sessions=3, events=300, seed=1)
    second = write_sample(tmp_path, sessions=1, events=300, seed=2)
    assert not any((tmp_path / s.file).exists() for s in first.sessions)
    assert sorted((tmp_path / "events").iterdir()) == [tmp_path / second.sessions[0].file]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sessions": 0}, "--sessions must be at least 1, got 0"),
        ({"events": 5}, r"--events must be at least 10 per session \(30 for 3 sessions\), got 5"),
        ({"seed": -1}, "--seed must be zero or positive, got -1"),
    ],
)
def test_bad_sizes_are_usage_errors(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        write_sample(tmp_path, **kwargs)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is missing"),
        (b"{not json", "not valid JSON"),
        (b'{"format": 2, "seed": 1, "sessions": []}', '"format": 1'),
        (
            b'{"format": 1, "seed": 1, "sessions": [{"org_id": "o", "session_id": "s", '
            b'"events": 1, "file": "../x"}]}',
            "inside the dataset",
        ),
        (b'{"format": 1, "seed": 1, "sessions": [], "events": 3}', "add up"),
    ],
)
def test_bad_manifests_are_usage_errors(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "manifest.json").write_bytes(content)
    with pytest.raises(UsageError, match=re.escape(message)):
        read_manifest(tmp_path)


MEMORY_PROBE = """
import sys, tracemalloc
from pathlib import Path
from toolkit.sample.generate import write_sample
tracemalloc.start()
info = write_sample(sys.argv[1], sessions=2, events=200_000, seed=11)
peak = tracemalloc.get_traced_memory()[1]
size = sum(p.stat().st_size for p in Path(sys.argv[1]).rglob("*.jsonl"))
print(peak, size)
"""


@pytest.mark.slow
def test_generation_streams_in_flat_memory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=240,
    )
    peak, size = map(int, done.stdout.split())
    assert size > 80_000_000
    assert peak < size / 20, f"peak {peak} bytes for {size} bytes written"
