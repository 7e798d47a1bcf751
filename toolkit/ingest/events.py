"""A page's items as an Arrow batch: new events with their ids, duplicates, rejects.

What an item is and how it is read and identified lives in `items`; its public
names are importable from here too, as they always were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from toolkit.ingest.items import (
    ENVELOPE_FIELDS,
    ENVELOPE_IDS,
    MAX_NESTING,
    MAX_TIME_MS,
    NonFiniteNumber,
    RejectedItemError,
    canonical_event,
    canonical_json,
    check_item,
    decode_page,
    event_id,
    may_hold_integral_float,
    normalize_numbers,
    raw_text,
)
from toolkit.store.digests import KnownDigests

__all__ = [
    "ENVELOPE_FIELDS",
    "ENVELOPE_IDS",
    "EVENT_SCHEMA",
    "MAX_NESTING",
    "MAX_TIME_MS",
    "REJECT_SCHEMA",
    "Batch",
    "NonFiniteNumber",
    "RejectedItemError",
    "build_batch",
    "canonical_json",
    "check_item",
    "decode_page",
    "event_id",
    "known_page",
    "normalize_numbers",
    "raw_text",
    "rejects_table",
]

EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_at", pa.timestamp("ms", tz="UTC")),
        ("session_org_id", pa.string()),
        ("session_id", pa.string()),
        ("actor_user_id", pa.string()),
        ("event_type", pa.string()),
        ("data", pa.string()),
        ("envelope_extra", pa.string()),  # any other top-level fields, as a JSON object
    ]
)


REJECT_SCHEMA = pa.schema(
    [
        ("reason", pa.string()),
        ("raw", pa.string()),
        ("raw_sha256", pa.string()),
    ]
)


@dataclass
class Batch:
    """One page (or more) turned into storable rows, rejects, and in-batch duplicate count.

    `events` are new; `to_compare` are events that may be stored already (see
    `KnownDigests.known`), for the caller to store only after comparing them with
    the database.
    """

    events: pa.RecordBatch
    rejects: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    received: int = 0
    to_compare: pa.RecordBatch | None = None


def known_page(items: int) -> Batch:
    """The batch of a page not decoded because it was stored before: all duplicates."""
    return Batch(events=_EMPTY, duplicates=items, received=items)


def build_batch(items: Iterable[Any], seen: KnownDigests | None = None) -> Batch:
    """Turn a page's items into an Arrow batch of events (unique ids) and a list of rejects.

    Args:
        items: the decoded `items` of one or more pages.
        seen: SHA-256 digests of the events already stored or built; those are
            counted as duplicates, those only perhaps known go to `to_compare`, and
            the new ones are added. An empty set by default.

    Returns:
        A Batch with columns of EVENT_SCHEMA (new events, and those to compare with
        the database), and (reason, raw) for each rejected item.
    """
    seen = KnownDigests() if seen is None else seen
    out = Batch(events=_EMPTY)
    keyed: list[tuple[Any, bytes]] = []
    for item in items:
        out.received += 1
        try:
            keyed.append((item, canonical_event(item)))
        except RejectedItemError as exc:
            out.rejects.append((str(exc), raw_text(item)))
    # one search over the page instead of one per item: integral floats are rare
    if keyed and may_hold_integral_float(b"".join([c for _, c in keyed])):
        keyed = _normalized(keyed, out.rejects)
    sha256 = hashlib.sha256
    digests = [sha256(canonical).digest() for _, canonical in keyed]
    rows: list[tuple] = []
    unsure: list[tuple] = []
    new: set[bytes] = set()  # this page's: an event served twice on one page
    for (item, _), digest, known in zip(keyed, digests, seen.known(digests), strict=True):
        if known or digest in new:
            out.duplicates += 1
            continue
        new.add(digest)
        data = item["data"]
        (rows if known is False else unsure).append(
            (
                digest.hex(),
                round(item["createdAtMs"]),
                item["sessionOrgId"],
                item["sessionId"],
                item["userId"],
                data["type"],
                _json_text(data),
                None if len(item) == len(ENVELOPE_FIELDS) else _envelope_extra(item),
            )
        )
    seen.add(new)
    if rows:
        out.events = _record_batch(rows)
    if unsure:
        out.to_compare = _record_batch(unsure)
    return out


def _record_batch(rows: list[tuple]) -> pa.RecordBatch:
    columns = [
        pa.array(col, type=f.type)
        for col, f in zip(zip(*rows, strict=True), EVENT_SCHEMA, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=EVENT_SCHEMA)


def _normalized(keyed: list[tuple[Any, bytes]], rejects: list[tuple[str, str]]) -> list:
    """Re-encode the items whose canonical form may hold integral floats; reject overflows."""
    out = []
    for item, canonical in keyed:
        if may_hold_integral_float(canonical):
            try:
                normal = normalize_numbers(item)
                canonical = canonical_json(normal)
            except RejectedItemError as exc:
                rejects.append((str(exc), raw_text(item)))
                continue
            item = normal
        out.append((item, canonical))
    return out


def _json_text(value: dict) -> str:
    """An object as stored JSON text: compact, its keys in the order received."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise RejectedItemError(f"cannot be encoded as JSON: {exc}") from None


def _envelope_extra(item: dict) -> str:
    """The item's top-level fields beyond the envelope the API documents, kept as JSON."""
    return _json_text({k: v for k, v in item.items() if k not in ENVELOPE_FIELDS})


_EMPTY = pa.RecordBatch.from_pydict({n: [] for n in EVENT_SCHEMA.names}, schema=EVENT_SCHEMA)


def rejects_table(rejects: list[tuple[str, str]]) -> pa.Table:
    """The rejects of a group as an Arrow table with the hash used to keep each once."""
    reasons = [r for r, _ in rejects]
    raws = [raw for _, raw in rejects]
    digests = [hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest() for raw in raws]
    return pa.table([reasons, raws, digests], schema=REJECT_SCHEMA)
