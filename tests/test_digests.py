"""KnownDigests: exact for stored and recent digests, "perhaps" for older additions."""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.store.digests import KnownDigests

# digests that sort and compare at the edges: NUL and 0xff bytes, common prefixes
EDGY = st.one_of(
    st.binary(min_size=32, max_size=32),
    st.builds(lambda n, b: bytes([b]) * n + bytes(32 - n), st.integers(0, 32), st.integers(0, 255)),
    st.builds(lambda b: bytes(31) + bytes([b]), st.integers(0, 255)),
)


@settings(max_examples=80, deadline=None)
@given(
    start=st.lists(EDGY, max_size=40),
    pages=st.lists(st.lists(EDGY, max_size=12), max_size=8),
    merge_at=st.integers(1, 8),
)
def test_membership_is_exact_for_stored_and_never_wrong_for_added(start, pages, merge_at):
    known, stored, added = KnownDigests(start, merge_at=merge_at), set(start), set()
    for page in [*pages, [*stored, *added, *[bytes([i]) * 32 for i in range(4)]]]:
        for digest, answer in zip(page, known.known(page), strict=True):
            if digest in stored:
                assert answer is True
            elif digest in added:
                assert answer in (True, None)  # never "new": it would be stored twice
            elif digest[:8] in {a[:8] for a in added}:
                assert answer in (False, None)  # same first 8 bytes: the database decides
            else:
                assert answer is False
        known.add(page)
        added.update(page)
        assert len(known) >= len(stored | added)


@settings(max_examples=40, deadline=None)
@given(start=st.lists(EDGY, max_size=40), pages=st.lists(st.lists(EDGY, max_size=12), max_size=8))
def test_membership_is_that_of_a_set_until_the_first_merge(start, pages):
    known, oracle = KnownDigests(start, merge_at=1000), set(start)
    for page in pages:
        assert known.known(page) == [d in oracle for d in page]
        known.add(page)
        oracle.update(page)


def test_an_older_addition_is_perhaps_known_and_its_neighbours_are_not():
    known = KnownDigests(merge_at=2)
    first, second = bytes(8) + b"\x01" * 24, b"\x02" * 32
    known.add([first, second])  # merged: only their first 8 bytes are kept
    twin = bytes(8) + b"\x09" * 24  # the same first 8 bytes as `first`
    assert known.known([first, second, twin, b"\x03" * 32]) == [None, None, None, False]
    assert len(known) == 2


def test_stored_ids_load_from_duckdb_without_a_python_object_each():
    ids = [hashlib.sha256(str(n).encode()).digest() for n in range(1000)]
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest(?) AS d", [[i.hex() for i in ids]])
    column = con.sql("SELECT unhex(d) FROM t ORDER BY d DESC").to_arrow_table().column(0)
    known = KnownDigests.from_arrow(column.slice(10))  # an offset into the buffer
    kept = set(sorted(ids, key=bytes.hex, reverse=True)[10:])
    other = hashlib.sha256(b"other").digest()
    assert len(known) == 990
    assert known.known([*ids, other]) == [*(i in kept for i in ids), False]


def test_an_empty_column_and_an_empty_set_know_nothing():
    empty = KnownDigests.from_arrow(pa.array([], type=pa.binary()))
    assert len(empty) == 0 and empty.known([bytes(32)]) == [False] and empty.known([]) == []


def test_a_digest_of_the_wrong_length_is_refused_not_padded():
    with pytest.raises(ValueError, match="31 bytes in all"):
        KnownDigests([bytes(32)]).known([bytes(31)])
    with pytest.raises(ValueError, match="33 bytes in all"):
        KnownDigests([bytes(33)])
    with pytest.raises(pa.ArrowInvalid):
        KnownDigests.from_arrow(pa.array([bytes(33)]))
