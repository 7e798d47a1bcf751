"""What each command does, composed from the library; the CLI only parses and prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from toolkit import config
from toolkit.config import Secret, SessionRef
from toolkit.errors import UsageError
from toolkit.ingest.client import RetryPolicy
from toolkit.ingest.sync import SyncOptions, SyncResult, status_rows, sync_sessions, unknown_types
from toolkit.store import handle, spool


def run_sync(
    db_path: Path | None,
    refs: Sequence[SessionRef],
    base_url: str,
    token: Secret,
    concurrency: int = 4,
    max_wait: float = 300.0,
    wait: float = 0.0,
    on_progress: Callable[[SyncResult], None] | None = None,
    recheck: bool = False,
) -> list[SyncResult]:
    """Sync the sessions into the database, which is opened only to commit.

    `wait`: seconds to wait for another sync of the same file to finish, and for a
    reader to close the file at the end before events are left waiting in the spool.
    See `SyncOptions` for `recheck`.
    """
    if not refs:
        raise UsageError("no session to sync: give --org with --session, or --sessions-file")
    options = SyncOptions(
        base_url, token, concurrency, RetryPolicy(max_wait=max_wait), recheck=recheck, wait=wait
    )
    return sync_sessions(config.db_path(db_path), refs, options, on_progress)


def describe_results(results: Sequence[SyncResult]) -> str:
    """One line per session: pages, received, new, duplicates, rejected, outcome; and the
    events that wait in the spool to join the record, and why."""
    lines = []
    for r in results:
        line = (
            f"{r.session_id}: {r.status}, {r.pages} pages, {r.received} received, "
            f"{r.new} new, {r.duplicates} duplicates, {r.rejected} rejected"
        )
        if r.waiting:
            line += f", {r.waiting} waiting to join"
        if r.error:
            line += f"\n  error: {r.error}"
        lines.append(line)
    waiting = [r for r in results if r.waiting]
    if waiting:
        lines.append(
            f"{sum(r.waiting for r in waiting)} events wait in the spool to join the record: "
            f"{waiting[0].why_waiting}. They join at the next sync, or when the file is "
            "next opened for writing (toolkit.connect); nothing fetched is lost."
        )
    return "\n".join(lines)


def run_status(db_path: Path | None, wait: float = 0.0) -> str:
    """The status table: per session, stored events, last sync, outcome, settled, and
    the events fetched that wait in the spool to join the record."""
    reader = handle.open(db_path, wait=max(wait, handle.READER_PATIENCE))
    waiting = spool.waiting(reader.path)
    with reader.connection() as con:
        rows, unknown = status_rows(con), unknown_types(con)
    if not rows and not waiting:
        return "no sessions stored yet; run 'slido-compliance sync' or 'demo'"
    lines = [
        _status_line(row, waiting.pop((row["session_org_id"], row["session_id"]), 0))
        for row in rows
    ]
    lines += [
        f"{sid} (org {org}): 0 events, {count} events waiting to join the record"
        for (org, sid), count in sorted(waiting.items())
    ]
    if unknown:
        kinds = ", ".join(f"{kind} ({count} events)" for kind, count in unknown)
        lines.append(f"event types the views do not know yet, kept in events: {kinds}")
    return "\n".join(lines)


def _key(row: dict) -> tuple[str, str]:
    return (row["session_org_id"], row["session_id"])


def _status_line(row: dict, waiting: int = 0) -> str:
    settled = (
        "settled"
        if row["is_settled"]
        else (
            f"not settled: re-sync after {row['resync_after']:%Y-%m-%d %H:%M} UTC"
            if row["resync_after"]
            else "not settled: no successful sync yet"
        )
    )
    last = f"{row['last_sync_at']:%Y-%m-%d %H:%M:%S} UTC" if row["last_sync_at"] else "never"
    text = (
        f"{row['session_id']} (org {row['session_org_id']}): {row['event_count']} events, "
        f"last sync {last} {row['last_status'] or ''}, {settled}"
    )
    if row["last_error"] and row["last_status"] != "ok":
        text += f"\n  last error: {row['last_error']}"
    if waiting:
        text += (
            f"\n  {waiting} events waiting to join the record (at the next sync or writable open)"
        )
    return text


def _format_from(fmt: str | None, out: Path | None, allowed: dict[str, str], default: str) -> str:
    """The explicit format, else the one --out's suffix names, else the default."""
    if fmt:
        return fmt
    if out is not None and out.suffix.lower() in allowed:
        return allowed[out.suffix.lower()]
    return default


SQL_SUFFIXES = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".txt": "table"}
REPORT_SUFFIXES = {".md": "md", ".html": "html", ".htm": "html", ".json": "json"}


def run_sql(
    db_path: Path | None, query: str, fmt: str | None = None, out: Path | None = None
) -> bytes | None:
    """Run a read-only query; write it to `out`, or return the rendered bytes."""
    from toolkit.analysis.adhoc import lock_down
    from toolkit.analysis.adhoc import run_sql as query_frame
    from toolkit.analysis.formats import render_frame, write_frame

    if query.startswith("@"):
        query = _read_query_file(Path(query[1:]))
    fmt = _format_from(fmt, out, SQL_SUFFIXES, "table")
    if fmt == "parquet" and out is None:
        raise UsageError("parquet output is binary: give --out FILE.parquet")
    with handle.open(db_path).connection() as con:  # held for this one question
        lock_down(con)
        frame = query_frame(con, query)
    if out is not None:
        write_frame(frame, fmt, out)
        return None
    return render_frame(frame, fmt)


def _read_query_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read query file {path}: {exc.strerror}") from None


def run_report(
    db_path: Path | None,
    session_id: str | None,
    fmt: str | None = None,
    out: Path | None = None,
    reveal_anonymous: bool = False,
) -> str | None:
    """Build the audit summary; write it to `out`, or return its text."""
    from toolkit.report import build as report

    fmt = _format_from(fmt, out, REPORT_SUFFIXES, "md")
    with handle.open(db_path).connection() as con:  # held while the report is built
        if out is not None:
            report.write_report(con, out, fmt, session_id, reveal_anonymous)
            return None
        built = report.build_report(con, session_id, reveal_anonymous)
    render = {"md": report.render_markdown, "html": report.render_html, "json": report.render_json}
    return render[fmt](built)
