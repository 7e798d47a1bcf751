"""The event ids a sync already knows for a session: 32 bytes for each stored, 8 for each new.

A re-sync pages every event again, so each session's worker must tell the events it
has stored from new ones without asking the database per page. A Python set of
32-byte digests costs about 114 bytes per event; this keeps each stored digest as
four 64-bit words in one NumPy array (a row per word, columns ordered by the first
word), searched a page at a time. Digests added during the sync wait in a small set,
then keep only their first word: a later digest with the same first 8 bytes is
reported as *perhaps* known, for the caller to settle with the database. So a fresh
sync's memory does not grow with the session: 8 bytes per event instead of 32.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa

MERGE_AT = 32_768  # digests held in the set before they join the arrays (~3.5 MB)
_WORDS = np.dtype(">u8")  # a digest read as four big-endian words: numeric order is byte order


class KnownDigests:
    """A growing set of SHA-256 digests, answering membership a page at a time.

    Membership is exact for the digests given at the start and the last `merge_at`
    added; for digests added before those, only their first 8 bytes are kept.

    Args:
        digests: the digests known at the start, in any order.
        merge_at: how many added digests wait in a set before only their first word is
            kept; MERGE_AT by default.
    """

    def __init__(self, digests: Iterable[bytes] = (), merge_at: int | None = None):
        self._words = _sorted(_as_words(list(digests)))
        self._added = np.empty(0, dtype=np.uint64)  # first words of older additions, sorted
        self._recent: set[bytes] = set()
        self._merge_at = merge_at or MERGE_AT

    @classmethod
    def from_arrow(cls, column: pa.Array | pa.ChunkedArray) -> KnownDigests:
        """From an Arrow column of 32-byte binary values, without a Python object each."""
        fixed = column.cast(pa.binary(32))  # raises for a value of another length
        if isinstance(fixed, pa.ChunkedArray):
            fixed = fixed.combine_chunks()
        if fixed.null_count:
            raise ValueError("a stored event id is NULL")
        known = cls()
        data = fixed.buffers()[1]
        if len(fixed) and data is not None:
            raw = np.frombuffer(data, dtype=_WORDS, count=4 * len(fixed), offset=fixed.offset * 32)
            known._words = _sorted(_native(raw))
        return known

    def __len__(self) -> int:
        """Digests held; one added again once known counts twice (build_batch never does)."""
        return self._words.shape[1] + self._added.size + len(self._recent)

    def known(self, digests: Sequence[bytes]) -> list[bool | None]:
        """For each digest: True if known, False if not, None if perhaps.

        None means its first 8 bytes equal those of a digest added before the last
        `merge_at`: the same event seen earlier in the sync, or (one chance in 2**64
        per pair) another; only the database can tell. One search for all.
        """
        if not digests:
            return []
        found: list[bool | None]
        if self._words.shape[1] or self._added.size:
            query = _as_words(digests)
            exact = self._in_words(query) if self._words.shape[1] else [False] * len(digests)
            perhaps = _in_sorted(self._added, query[0])
            found = [
                True if e else (None if p else False) for e, p in zip(exact, perhaps, strict=True)
            ]
        else:
            found = [False] * len(digests)
        if self._recent:
            recent = self._recent
            found = [True if d in recent else f for f, d in zip(found, digests, strict=True)]
        return found

    def add(self, digests: Iterable[bytes]) -> None:
        """Add digests (known or not); past `merge_at`, only their first words are kept."""
        self._recent.update(digests)
        if len(self._recent) >= self._merge_at:
            first = np.sort(_as_words(list(self._recent))[0])
            self._added = np.insert(self._added, np.searchsorted(self._added, first), first)
            self._recent = set()

    def _in_words(self, query: np.ndarray) -> list[bool]:
        words = self._words
        first, size = words[0], words.shape[1]
        at = np.minimum(np.searchsorted(first, query[0]), size - 1)
        found = (words[:, at] == query).all(axis=0)
        # digests that share their first 8 bytes sit side by side: look past the first
        for i in np.flatnonzero(~found & (first[at] == query[0])):
            j = at[i] + 1
            while j < size and first[j] == query[0, i] and not found[i]:
                found[i] = bool((words[:, j] == query[:, i]).all())
                j += 1
        result: list[bool] = found.tolist()
        return result


def _in_sorted(values: np.ndarray, query: np.ndarray) -> list[bool]:
    """For each query value, whether the sorted `values` hold it."""
    if not values.size:
        return [False] * query.size
    at = np.minimum(np.searchsorted(values, query), values.size - 1)
    result: list[bool] = (values[at] == query).tolist()
    return result


def _as_words(digests: Sequence[bytes]) -> np.ndarray:
    """Digests as four rows of native uint64 words (big-endian reading), a column each."""
    joined = b"".join(digests)
    if len(joined) != 32 * len(digests):
        raise ValueError(f"digests of {len(joined)} bytes in all, not 32 each")
    return _native(np.frombuffer(joined, dtype=_WORDS))


def _native(raw: np.ndarray) -> np.ndarray:
    """Big-endian words, four per digest, as a (4, n) array of native uint64 (one copy)."""
    return np.ascontiguousarray(raw.reshape(-1, 4).T, dtype=np.uint64)


def _sorted(words: np.ndarray) -> np.ndarray:
    """Columns ordered by their first word (equal first words in any order).

    Stored ids come sorted from the database: they are then kept as they are, without
    the sort's index and copy (40 bytes per event, for every session loading at once).
    """
    first = words[0]
    if bool((first[1:] >= first[:-1]).all()):
        return words
    return np.ascontiguousarray(words[:, np.argsort(first, kind="stable")])
