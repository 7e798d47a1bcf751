"""Read an events file back and recompute each `event_id` from its row.

The id is the SHA-256 of the whole item's canonical JSON (`toolkit.ingest.events`),
so the item is rebuilt from the row exactly as received: `createdAtMs` from
`event_at`, the envelope ids from the partition and `actor_user_id`, `data` from
its text, and any other top-level fields from `envelope_extra`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from toolkit.ingest.events import RejectedItemError, event_id

COLUMNS = ("event_id", "event_at", "actor_user_id", "data", "envelope_extra")
BATCH_ROWS = 65_536
MAX_NAMED = 20  # mismatching events named per file; the rest are counted
_PER_MS = {"s": 1 / 1000, "ms": 1, "us": 1000, "ns": 1_000_000}


@dataclass
class FileCheck:
    """One events file read back: its rows and the events whose id does not match."""

    rows: int = 0
    mismatched: int = 0
    named: list[str] = field(default_factory=list)


def check_events_file(path: Path, org: str, session: str) -> FileCheck:
    """Recompute the event id of every row of one session's events file.

    Raises:
        ValueError: the file is not Parquet, or lacks a column of `COLUMNS`.
        OSError: the file cannot be read.
    """
    check = FileCheck()
    for row_number, stored, item in _iter_items(path, org, session):
        check.rows += 1
        try:
            ok = event_id(item) == stored
        except RejectedItemError:
            ok = False
        if not ok:
            check.mismatched += 1
            if len(check.named) < MAX_NAMED:
                check.named.append(f"row {row_number} (event_id {stored})")
    return check


def _iter_items(path: Path, org: str, session: str) -> Iterator[tuple[int, str, Any]]:
    """(row number, stored event_id, rebuilt item) for each row, a batch at a time."""
    parquet = pq.ParquetFile(path)
    missing = [c for c in COLUMNS if c not in parquet.schema_arrow.names]
    if missing:
        raise ValueError(f"lacks the column(s) {', '.join(missing)}")
    row_number = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=list(COLUMNS)):
        created_ms = _milliseconds(batch.column("event_at"))
        ids, actors, datas, extras = (
            batch.column(name).to_pylist()
            for name in ("event_id", "actor_user_id", "data", "envelope_extra")
        )
        for stored, at, actor, data, extra in zip(
            ids, created_ms, actors, datas, extras, strict=True
        ):
            yield row_number, stored, _item(at, org, session, actor, data, extra)
            row_number += 1


def _milliseconds(column: pa.Array) -> list[Any]:
    """`createdAtMs` back from a timestamp column, whatever unit the file holds."""
    per_ms = _PER_MS[column.type.unit]
    raw = column.cast(pa.int64()).to_pylist()
    if per_ms == 1:
        return raw
    return [None if v is None else int(v // per_ms) for v in raw]


def _item(
    at: int | None, org: str, session: str, actor: str | None, data: str, extra: str | None
) -> Any:
    """The item as the API served it; None where the row cannot be one (its id will not match)."""
    try:
        item = {
            "createdAtMs": at,
            "sessionId": session,
            "sessionOrgId": org,
            "userId": actor,
            "data": orjson.loads(data),
        }
        if extra is not None:
            item.update(orjson.loads(extra))
    except (orjson.JSONDecodeError, TypeError):
        return None
    return item


def digest_of_sorted(ids: Iterator[str]) -> str:
    """The contract's event digest of ids already in ascending order."""
    digest = hashlib.sha256()
    separator = b""
    for value in ids:
        digest.update(separator + value.encode("ascii", "replace"))
        separator = b"\n"
    return digest.hexdigest()
