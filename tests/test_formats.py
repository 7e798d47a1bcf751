"""A DataFrame rendered as a table, CSV, JSON or Parquet."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.analysis.formats import render_frame, write_frame
from toolkit.errors import UsageError

HOSTILE_CELLS = [
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTAB",
    "\rCR",
]


def _read_csv(data: bytes) -> pl.DataFrame:
    return pl.read_csv(io.BytesIO(data), infer_schema=False)


def test_csv_neutralises_every_formula_prefix_with_an_apostrophe() -> None:
    frame = pl.DataFrame({"text": HOSTILE_CELLS})
    cells = _read_csv(render_frame(frame, "csv"))["text"].to_list()
    assert cells == ["'" + cell for cell in HOSTILE_CELLS]


def test_csv_leaves_plain_text_and_numbers_alone() -> None:
    frame = pl.DataFrame({"text": ["When is lunch?", "a=b", None], "n": [-5, 3, None]})
    assert render_frame(frame, "csv") == b"text,n\nWhen is lunch?,-5\na=b,3\n,\n"


def test_csv_neutralises_categorical_text_too() -> None:
    frame = pl.DataFrame({"c": ["=1+1"]}, schema={"c": pl.Categorical})
    assert render_frame(frame, "csv") == b"c\n'=1+1\n"


def test_csv_writes_nested_values_as_json_and_times_in_iso() -> None:
    at = datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc)
    frame = pl.DataFrame({"at": [at], "tags": [["a", "b"]]})
    assert render_frame(frame, "csv") == b'at,tags\n2026-01-01T00:01:00+00:00,"[""a"", ""b""]"\n'


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"])), min_size=1, max_size=5)
)
def test_csv_cells_read_back_as_written_or_with_one_apostrophe(cells: list[str]) -> None:
    frame = pl.DataFrame({"text": cells}, schema={"text": pl.String})
    back = _read_csv(render_frame(frame, "csv"))["text"].fill_null("").to_list()
    for written, read in zip(cells, back, strict=True):
        risky = written.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert read == ("'" + written if risky else written)


def test_json_is_an_array_of_objects_with_iso_times() -> None:
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    frame = pl.DataFrame({"id": ["q1", "q2"], "at": [at, None], "votes": [1.0, float("nan")]})
    rows = json.loads(render_frame(frame, "json"))
    assert rows == [
        {"id": "q1", "at": "2026-01-01T00:00:00+00:00", "votes": 1.0},
        {"id": "q2", "at": None, "votes": None},
    ]


def test_json_of_an_empty_frame_is_an_empty_array() -> None:
    assert json.loads(render_frame(pl.DataFrame({"a": []}), "json")) == []


def test_table_shows_every_row_aligned_with_a_row_count() -> None:
    frame = pl.DataFrame({"name": [f"user {i}" for i in range(100)], "events": list(range(100))})
    lines = render_frame(frame, "table").decode().splitlines()
    assert lines[0] == "name     events"
    assert lines[1] == "-------  ------"
    assert lines[2] == "user 0        0"
    assert lines[101] == "user 99      99"
    assert lines[-1] == "(100 rows)"


def test_table_escapes_control_characters_and_newlines() -> None:
    frame = pl.DataFrame({"text": ["line\nbreak \x1b[31mred"]})
    assert "line\\nbreak \\x1b[31mred" in render_frame(frame, "table").decode()


def test_parquet_reads_back_the_same_frame() -> None:
    frame = pl.DataFrame({"a": [1, 2], "b": ["x", None]})
    assert pl.read_parquet(io.BytesIO(render_frame(frame, "parquet"))).equals(frame)


def test_write_frame_writes_the_rendered_bytes(tmp_path) -> None:
    frame = pl.DataFrame({"a": ["=1"]})
    path = write_frame(frame, "csv", tmp_path / "out.csv")
    assert path.read_bytes() == b"a\n'=1\n"


def test_an_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown format 'xlsx'"):
        render_frame(pl.DataFrame({"a": [1]}), "xlsx")


def test_csv_writes_naive_times_durations_and_bytes_as_plain_values() -> None:
    frame = pl.DataFrame(
        {"at": [datetime(2026, 1, 1, 1, 2, 3)], "took": [timedelta(seconds=5)], "raw": [b"ab"]}
    )
    assert render_frame(frame, "csv") == b"at,took,raw\n2026-01-01T01:02:03,5.0,6162\n"
