"""The first page's answers: which meeting the session was, and whether its record is complete.

The meeting comes from the session's `audit_summary` (the `meetings` that `discover` stored);
a fact not discovered says so rather than staying blank.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from toolkit.report.model import Fact, Glance, plain
from toolkit.report.sections import SessionData

NOT_DISCOVERED = "not discovered"


def build_glance(data: SessionData) -> Glance:
    """The meeting facts and the completeness verdict of one session."""
    s = data.summary
    return Glance(
        meeting=meeting_facts(s),
        settled=bool(s["is_settled"]),
        verdict=verdict_text(s),
        syncs=syncs_line(data.syncs),
        digest=s["event_digest"],
    )


def meeting_facts(summary: dict[str, Any]) -> tuple[Fact, ...]:
    """Meeting title, host, scheduled start and end ("not discovered" where unknown).

    `summary` is the session's `audit_summary` row, which joins `meetings`: the
    session's own row, so the first page reads nothing of other sessions.
    """
    pairs = [
        ("Meeting", summary.get("title")),
        ("Host", _host(summary.get("host_display_name"), summary.get("host_email"))),
        ("Scheduled start", plain(summary.get("scheduled_start"))),
        ("Scheduled end", plain(summary.get("scheduled_end"))),
    ]
    return tuple(Fact(label, NOT_DISCOVERED if v is None else v) for label, v in pairs)


def _host(name: str | None, email: str | None) -> str | None:
    if name and email:
        return f"{name} <{email}>"
    return name or email


def verdict_text(summary: dict[str, Any]) -> str:
    """One sentence saying why the record is settled, or what is missing (no verdict word)."""
    newest, last_ok = plain(summary["last_event_at"]), plain(summary["last_ok_sync_at"])
    if summary["is_settled"]:
        return (
            f"The last successful sync started at {last_ok}, 15 minutes or more "
            f"after the newest event ({newest}); the API publishes events up to 15 minutes late."
        )
    after = plain(summary["resync_after"])
    again = f"sync again after {after}" if after else "sync again"
    return (
        "No successful sync started 15 minutes or more after the newest "
        f"event, so events may still be missing; {again}."
    )


def syncs_line(syncs: pl.DataFrame) -> str:
    """The sync runs in one line: how many, when, their outcomes and what they stored."""
    if syncs.is_empty():
        return "No sync run is recorded."
    outcomes = syncs.get_column("status").fill_null("unfinished").value_counts(sort=True)
    counted = ", ".join(f"{n} {status}" for status, n in outcomes.iter_rows())
    first, last = syncs.get_column("started_at").min(), syncs.get_column("started_at").max()
    received = int(syncs.get_column("events_received").fill_null(0).sum())
    new = int(syncs.get_column("events_new").fill_null(0).sum())
    span = f"at {plain(first)}" if first == last else f"from {plain(first)} to {plain(last)}"
    return f"{syncs.height} sync run(s) {span}: {counted}; {received} events received, {new} new."
