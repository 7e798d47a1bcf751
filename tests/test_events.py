"""Canonical JSON, event ids, validation and batches."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.ingest import events
from toolkit.ingest.events import RejectedItemError, build_batch, check_item, decode_page

from .helpers import T0, envelope, event_id

QUESTION = {
    "type": "qaaQuestion",
    "questionId": "q-1",
    "createdAtMs": T0,
    "modifiedAtMs": T0,
    "isDeleted": False,
    "text": "Why?",
    "isAnonymous": False,
    "user": {"userId": "u-1", "name": "Ann", "unverifiedName": None},
    "status": "public",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _shuffled_dump(value, rnd, indent):
    """Serialise with keys in a random order and arbitrary white space."""
    if isinstance(value, dict):
        keys = list(value)
        rnd.shuffle(keys)
        inner = ",".join(
            f"{json.dumps(k)}{' ' * indent}:{_shuffled_dump(value[k], rnd, indent)}" for k in keys
        )
        return "{" + " " * indent + inner + "}"
    if isinstance(value, list):
        return "[" + (", " * 1).join(_shuffled_dump(v, rnd, indent) for v in value) + "]"
    return json.dumps(value)


@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    seed=st.integers(0, 1000),
    indent=st.integers(0, 3),
)
def test_event_id_ignores_key_order_and_white_space(data, seed, indent):
    import random

    event = envelope({"type": "custom", **data}, T0)
    text = _shuffled_dump(event, random.Random(seed), indent)
    assert events.event_id(json.loads(text)) == events.event_id(event)


def test_event_id_is_sha256_of_sorted_compact_utf8_json():
    event = envelope({**QUESTION, "text": "Grüße ✓"}, T0)
    assert events.event_id(event) == event_id(event)


def test_integral_floats_hash_like_integers():
    event = envelope(QUESTION, T0)
    as_float = json.loads(json.dumps(event).replace(str(T0), f"{T0}.0"))
    assert events.event_id(as_float) == events.event_id(event)


def test_build_batch_keeps_one_row_per_distinct_event():
    one, two = envelope(QUESTION, T0), envelope({**QUESTION, "text": "Other"}, T0 + 1)
    batch = build_batch([one, two, json.loads(json.dumps(one))])
    assert batch.events.num_rows == 2
    assert batch.duplicates == 1 and batch.received == 3
    row = batch.events.to_pylist()[0]
    assert row["event_id"] == event_id(one)
    assert row["event_type"] == "qaaQuestion" and row["actor_user_id"] == "u-host"
    assert json.loads(row["data"]) == one["data"]


def test_unknown_types_and_fields_are_kept():
    item = envelope({"type": "brandNewType", "surprise": {"x": [1, 2]}}, T0)
    item["extraEnvelopeField"] = True
    item["eventSeq"] = {"n": 1.0}
    plain = envelope(QUESTION, T0)
    batch = build_batch([item, plain])
    assert batch.events.num_rows == 2 and not batch.rejects
    unknown, known = batch.events.to_pylist()
    assert json.loads(unknown["data"])["surprise"] == {"x": [1, 2]}
    assert unknown["envelope_extra"] == '{"extraEnvelopeField":true,"eventSeq":{"n":1}}'
    assert known["envelope_extra"] is None


GOOD = envelope(QUESTION, T0)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ([1, 2], "not a JSON object but an array"),
        ("text", "not a JSON object but a string"),
        ({k: v for k, v in GOOD.items() if k != "userId"}, "missing envelope field userId"),
        ({k: v for k, v in GOOD.items() if k != "data"}, "missing envelope field data"),
        ({**GOOD, "createdAtMs": "yesterday"}, "createdAtMs is a string"),
        ({**GOOD, "createdAtMs": True}, "createdAtMs is a boolean"),
        ({**GOOD, "createdAtMs": -5}, "outside the range of valid times"),
        ({**GOOD, "createdAtMs": 1e300}, "outside the range of valid times"),
        ({**GOOD, "sessionId": 42}, "sessionId is a number"),
        ({**GOOD, "sessionId": ""}, "is not an id"),
        ({**GOOD, "sessionOrgId": "x'; DROP TABLE events; --"}, "is not an id"),
        ({**GOOD, "userId": "a" * 129}, "is not an id"),
        ({**GOOD, "data": "qaaQuestion"}, "data is a string"),
        ({**GOOD, "data": {"questionId": "q"}}, "data has no type"),
        ({**GOOD, "data": {"type": 7}}, "data has no type"),
    ],
)
def test_each_malformed_item_is_rejected_with_its_reason(item, reason):
    with pytest.raises(RejectedItemError, match=reason.replace("(", r"\(")):
        check_item(item)
    batch = build_batch([item])
    assert batch.events.num_rows == 0
    assert len(batch.rejects) == 1 and reason in batch.rejects[0][0]


def test_numbers_outside_64_bits_are_rejected():
    big = {**GOOD, "data": {**GOOD["data"], "upvotes": 10**30}}
    batch = build_batch([big, json.loads(json.dumps(big))])
    assert len(batch.rejects) == 2 and all("64-bit" in reason for reason, _ in batch.rejects)


def test_invalid_utf8_rejects_only_the_item_that_holds_it():
    good = json.dumps(GOOD).encode()
    bad = json.dumps({**GOOD, "userId": "u-2"}).encode().replace(b"Why?", b"Why\xff?")
    doc = decode_page(b'{"items":[' + good + b"," + bad + b"]}")
    batch = build_batch(doc["items"])
    assert batch.events.num_rows == 1
    ((reason, raw),) = batch.rejects
    assert "canonical JSON" in reason and "\\udcff" in raw


def test_decode_page_raises_on_truncated_body():
    with pytest.raises(ValueError):
        decode_page(b'{"items":[{"createdAtMs":1')


@pytest.mark.parametrize(
    "number", ["1.0", "1e3", "1E+3", "12345678901234567890", "123456789012345678901", "1.5"]
)
def test_numbers_in_any_notation_get_the_id_of_their_canonical_form(number):
    text = json.dumps(GOOD).replace('"upvotes"', '"x"')
    base = json.loads(text)
    base["data"]["upvotes"] = 7
    page = json.dumps({"items": [base]}).replace(": 7", f": {number}").encode()
    (item,) = decode_page(page)["items"]
    batch = build_batch([item])
    value = json.loads(number)
    if (isinstance(value, float) and value.is_integer()) or isinstance(value, int):
        if value >= 2**64:
            assert "64-bit" in batch.rejects[0][0]
            return
        base["data"]["upvotes"] = int(value)
    else:
        base["data"]["upvotes"] = value
    assert batch.events.column("event_id").to_pylist() == [event_id(base)]


def test_nan_and_infinity_tokens_reject_only_their_item():
    page = (
        b'{"items":['
        + json.dumps(GOOD).encode()
        + b","
        + json.dumps({**GOOD, "userId": "u-9"}).replace('"Why?"', "NaN").encode()
        + b"]}"
    )
    batch = build_batch(decode_page(page)["items"])
    assert batch.events.num_rows == 1
    assert "canonical JSON" in batch.rejects[0][0] and "NaN" in batch.rejects[0][1]
