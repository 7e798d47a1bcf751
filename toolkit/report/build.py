"""The audit summary a records officer can hand over: build it, render it, write it.

`build_report` gathers everything into a `Report` (plain data); `render_markdown`,
`render_html` (one self-contained file) and `render_json` show the same content.
Output is deterministic for the same data, except the generated-at line, which
callers (and tests) may fix with `generated_at`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import duckdb
import polars as pl

from toolkit.analysis import queries as q
from toolkit.analysis.query import Source, session_read_once, using
from toolkit.errors import UsageError
from toolkit.report.document import render_html
from toolkit.report.glance import build_glance
from toolkit.report.model import Chart, Report, Section, Table, facts, plain, table_from_frame
from toolkit.report.render import render_json, render_markdown
from toolkit.report.sections import (
    DIGEST_RULE,
    SessionData,
    activity_section,
    completeness_section,
    deleted_section,
    fetch_session,
    overview_section,
    polls_section,
    qa_section,
)

__all__ = [
    "Report",
    "build_report",
    "render_html",
    "render_json",
    "render_markdown",
    "write_report",
]

REPORT_FORMATS = {
    "md": render_markdown,
    "markdown": render_markdown,
    "html": render_html,
    "json": render_json,
}
BINARY_FORMATS = ("pdf",)
CHART_WIDTHS = (
    ("1m", 60),
    ("5m", 300),
    ("15m", 900),
    ("1h", 3600),
    ("6h", 21_600),
    ("1d", 86_400),
    ("7d", 604_800),
)
MAX_BUCKETS = 60


def build_report(
    con: Source,
    session_id: str | None = None,
    reveal_anonymous: bool = False,
    *,
    generated_at: datetime | str | None = None,
    links: str | None = None,
) -> Report:
    """Gather the audit summary of one session, or an index of all sessions.

    Args:
        con: an open connection (read-only is enough), or a `toolkit.open` handle,
            held open while the report is built.
        session_id: the session to report on; None for an index of every session.
        reveal_anonymous: name the real actor behind anonymous posts; the report
            then says so at the top.
        generated_at: the time to print as generated-at (default: now, UTC).
        links: for the index, where each session's report is, relative to the
            index, as a pattern such as "{session_id}.html" (the HTML links them).

    Raises:
        UsageError: if nothing is stored for `session_id`.

    Example:
        >>> report = build_report(con, "SID")  # doctest: +SKIP
        >>> Path("audit.html").write_text(render_html(report))  # doctest: +SKIP
    """
    stamp = str(plain(generated_at or datetime.now(timezone.utc)))
    with using(con) as held:  # one committed state of the record for the whole report
        if session_id is None:
            return _index_report(held, stamp, reveal_anonymous, links)
        return _session_report(held, session_id, stamp, reveal_anonymous)


def write_report(
    con: Source,
    path: str | Path,
    fmt: str,
    session_id: str | None = None,
    reveal_anonymous: bool = False,
    *,
    generated_at: datetime | str | None = None,
    links: str | None = None,
) -> Path:
    """Build the report and write it to `path` as `md`, `html`, `json` (UTF-8) or `pdf`.

    The PDF is the HTML printed by a headless Chromium or Chrome (`report.pdf`).

    Example:
        >>> write_report(con, "audit.html", "html", "SID")  # doctest: +SKIP
        PosixPath('audit.html')
    """
    if fmt not in REPORT_FORMATS and fmt not in BINARY_FORMATS:
        raise UsageError(f"unknown report format {fmt!r}; choose md, html, json or pdf")
    report = build_report(con, session_id, reveal_anonymous, generated_at=generated_at, links=links)
    target = Path(path)
    if fmt == "pdf":
        from toolkit.report.pdf import print_pdf  # only this format needs a browser

        print_pdf(render_html(report), target, title=report.title)
    else:
        target.write_text(REPORT_FORMATS[fmt](report), encoding="utf-8")
    return target


def _session_report(
    con: duckdb.DuckDBPyConnection, session_id: str, stamp: str, reveal: bool
) -> Report:
    summary = q.audit_summary(con, session_id)
    if summary.is_empty():
        raise UsageError(
            f"nothing is stored for session {session_id!r}; check the id, or sync it first"
        )
    with session_read_once(con, session_id):  # every helper below asks about it
        data = fetch_session(con, session_id, summary.row(0, named=True), reveal)
    every, seconds = _chart_width(int(data.summary["duration_seconds"] or 0))
    events = q.timeline(con, session_id, every=every)  # per type, any width sums alike
    chart = _chart(events, every, seconds)
    sections = (
        overview_section(data, _by_type(events)),
        qa_section(data, reveal),
        polls_section(data),
        deleted_section(data),
        activity_section(data.users, _timeline_table(chart)),
        completeness_section(data),
    )
    return Report(
        title=f"Slido compliance report: session {session_id}",
        scope=session_id,
        generated_at=stamp,
        reveal_anonymous=reveal,
        notices=_notices(data, reveal),
        sections=sections,
        chart=chart,
        meta={"session_id": session_id, "event_digest": data.summary["event_digest"]},
        glance=build_glance(data),
    )


def _by_type(events: pl.DataFrame) -> pl.DataFrame:
    return (
        events.group_by("event_type")
        .agg(pl.col("event_count").sum())
        .sort(["event_count", "event_type"], descending=[True, False])
    )


def _notices(data: SessionData, reveal: bool) -> tuple[str, ...]:
    """What a reader must see first: revealed anonymity, then gaps in the record."""
    notices = []
    if reveal:
        hidden = sum(_anonymous_count(df) for df in (data.questions, data.replies, data.answers))
        notices.append(
            f"ANONYMITY REVEALED: this report names the real actor behind {hidden} anonymous "
            "post(s), taken from each event's userId. Handle it as personal data."
        )
    return (*notices, *_record_notices(data))


def _record_notices(data: SessionData) -> list[str]:
    s, notices = data.summary, []
    if not s["is_settled"]:
        after = plain(s["resync_after"])
        notices.append(
            "The record may be incomplete: no successful sync started 15 minutes or more "
            "after the newest event. " + (f"Sync again after {after}." if after else "Sync again.")
        )
    if s["last_status"] not in (None, "ok"):
        error = f": {s['last_error']}" if s["last_error"] else ""
        notices.append(f"The last sync's outcome is '{s['last_status']}'{error}.")
    if data.unknown.height:
        names = ", ".join(data.unknown.get_column("event_type").to_list())
        notices.append(f"Events of unknown types are stored but not interpreted: {names}.")
    if data.rejected_items.height:
        notices.append(
            f"{data.rejected_items.height} item(s) from the API could not be stored as events; "
            "see Completeness and integrity."
        )
    return notices


def _anonymous_count(df: pl.DataFrame) -> int:
    return int(df.get_column("is_anonymous").fill_null(False).sum()) if df.height else 0


def _chart(frame: pl.DataFrame, every: str, seconds: int) -> Chart:
    """The chart of a `timeline` of buckets `every` (`seconds` wide)."""
    if frame.is_empty():
        return Chart(f"Events per {every}", every, (), ())
    moments = _moments(frame.get_column("bucket_at").to_list(), seconds)
    counts = {(row[0], row[1]): row[2] for row in frame.iter_rows()}
    types = sorted(set(frame.get_column("event_type").to_list()))
    series = tuple((t, tuple(counts.get((m, t), 0) for m in moments)) for t in types)
    return Chart(f"Events per {every} (UTC)", every, tuple(str(plain(m)) for m in moments), series)


def _chart_width(span_seconds: int) -> tuple[str, int]:
    """The narrowest bucket width that keeps the chart under MAX_BUCKETS bars."""
    fitting = (pair for pair in CHART_WIDTHS if span_seconds // pair[1] < MAX_BUCKETS)
    return next(fitting, CHART_WIDTHS[-1])


def _moments(buckets: list[datetime], seconds: int) -> list[datetime]:
    """Every bucket start from the first to the last, empty ones included."""
    start, end = min(buckets), max(buckets)
    steps = int((end - start).total_seconds()) // seconds
    return [start + timedelta(seconds=seconds * i) for i in range(steps + 1)]


def _timeline_table(chart: Chart) -> Table | None:
    if not chart.buckets:
        return None
    rows = []
    for i, bucket in enumerate(chart.buckets):
        parts = [f"{name} {counts[i]}" for name, counts in chart.series if counts[i]]
        if parts:
            rows.append((bucket, sum(c[i] for _, c in chart.series), ", ".join(parts)))
    return Table(
        "timeline",
        chart.title,
        ("Bucket", "Events", "By type"),
        tuple(rows),
        "Buckets without events are left out here; the chart shows them.",
    )


def _index_report(
    con: duckdb.DuckDBPyConnection, stamp: str, reveal: bool, links: str | None
) -> Report:
    overview = q.sessions(con)
    digests = [q.event_digest(con, sid) for sid in overview.get_column("session_id").to_list()]
    overview = overview.with_columns(pl.Series("event_digest", digests, dtype=pl.String))
    unknown, rejected = q.unknown_event_types(con), q.rejected_items(con)
    sections = (
        _index_overview(overview, links),
        activity_section(q.user_activity(con, None, reveal), None),
        _index_completeness(overview, unknown, rejected),
    )
    notices = [
        f"{n} session(s) are not settled yet; sync them again before relying on them."
        for n in [overview.height - _settled(overview)]
        if n
    ]
    if reveal:
        notices.insert(
            0,
            "ANONYMITY REVEALED: activity of anonymous posters is attributed to "
            "the real actor, taken from each event's userId.",
        )
    return Report(
        title="Slido compliance report: all sessions",
        scope="all sessions",
        generated_at=stamp,
        reveal_anonymous=reveal,
        notices=tuple(notices),
        sections=sections,
        meta={"session_count": overview.height},
    )


def _settled(overview: pl.DataFrame) -> int:
    return int(overview.get_column("is_settled").fill_null(False).sum()) if overview.height else 0


SESSION_COLUMNS = {
    "session_id": "Session",
    "session_org_id": "Organisation",
    "title": "Meeting",
    "host_display_name": "Host",
    "first_event_at": "First event",
    "last_event_at": "Last event",
    "event_count": "Events",
    "actor_count": "Actors",
    "question_count": "Questions",
    "poll_count": "Polls",
    "poll_answer_count": "Poll answers",
    "moderation_count": "Moderation steps",
    "deleted_item_count": "Deleted items",
    "sync_count": "Syncs",
    "last_status": "Last sync",
    "is_settled": "Settled",
    "event_digest": "Event digest (SHA-256)",
}


def _index_overview(overview: pl.DataFrame, links: str | None) -> Section:
    figures = facts(
        [
            ("Sessions", overview.height),
            ("Events stored", int(overview["event_count"].sum()) if overview.height else 0),
            ("Settled sessions", _settled(overview)),
            ("Sessions not settled", overview.height - _settled(overview)),
        ]
    )
    table = table_from_frame("sessions", "Sessions", overview, SESSION_COLUMNS)
    if links:
        ids = overview.get_column("session_id").to_list()
        table = replace(table, hrefs=tuple(links.format(session_id=quote(i, safe="")) for i in ids))
    return Section("overview", "Overview", facts=figures, tables=(table,))


def _index_completeness(
    overview: pl.DataFrame, unknown: pl.DataFrame, rejected: pl.DataFrame
) -> Section:
    figures = facts(
        [
            ("Unknown event types", unknown.height),
            ("Events of unknown types", int(unknown["event_count"].sum()) if unknown.height else 0),
            ("Rejected items", rejected.height),
            ("Digest rule", DIGEST_RULE),
        ]
    )
    table = table_from_frame(
        "unknown_event_types",
        "Unknown event types",
        unknown,
        {"event_type": "Event type", "event_count": "Events"},
    )
    return Section("completeness", "Completeness and integrity", facts=figures, tables=(table,))
