"""What each command does, composed from the library; the CLI only parses and prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from toolkit import config
from toolkit.config import Secret, SessionRef
from toolkit.errors import UsageError
from toolkit.ingest.client import RetryPolicy
from toolkit.ingest.sync import SyncOptions, SyncResult, status_rows, sync_sessions, unknown_types
from toolkit.store import database as db
from toolkit.store import rebuild


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
    on_rebuild: Callable[[int, int], None] | None = None,
) -> list[SyncResult]:
    """Open the database and sync the sessions into it (see `SyncOptions` for `recheck`).

    `on_rebuild` sees the progress of a rebuild the open may run (an older file's upgrade).
    """
    if not refs:
        raise UsageError("no session to sync: give --org with --session, or --sessions-file")
    con = db.connect(db_path, wait=wait, on_rebuild=on_rebuild)
    try:
        options = SyncOptions(
            base_url, token, concurrency, RetryPolicy(max_wait=max_wait), recheck=recheck
        )
        return sync_sessions(con, refs, options, on_progress)
    finally:
        con.close()


def describe_results(results: Sequence[SyncResult]) -> str:
    """One line per session: pages, received, new, duplicates, rejected, outcome."""
    lines = []
    for r in results:
        line = (
            f"{r.session_id}: {r.status}, {r.pages} pages, {r.received} received, "
            f"{r.new} new, {r.duplicates} duplicates, {r.rejected} rejected"
        )
        if r.error:
            line += f"\n  error: {r.error}"
        lines.append(line)
    return "\n".join(lines)


def run_rebuild(
    db_path: Path | None, wait: float = 0.0, on_progress: Callable[[int, int], None] | None = None
) -> str:
    """Rebuild the typed storage from `events` alone; return a line saying what was read."""
    if not config.db_path(db_path).exists():
        raise UsageError(f"no database at {config.db_path(db_path)}; nothing to rebuild")
    con = db.connect(db_path, wait=wait, on_rebuild=on_progress)
    try:
        events = rebuild.rebuild(con, on_progress)
    finally:
        con.close()
    return f"rebuilt the typed storage from {events} stored events"


def run_status(db_path: Path | None, wait: float = 0.0) -> str:
    """The status table: per session, stored events, last sync, outcome, settled."""
    con = db.connect(db_path, read_only=True, wait=wait)
    try:
        rows, unknown = status_rows(con), unknown_types(con)
    finally:
        con.close()
    if not rows:
        return "no sessions stored yet; run 'slido-compliance sync' or 'demo'"
    lines = [_status_line(row) for row in rows]
    if unknown:
        kinds = ", ".join(f"{kind} ({count} events)" for kind, count in unknown)
        lines.append(f"event types the views do not know yet, kept in events: {kinds}")
    return "\n".join(lines)


def _status_line(row: dict) -> str:
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
    con = db.connect(db_path, read_only=True)
    try:
        lock_down(con)
        frame = query_frame(con, query)
    finally:
        con.close()
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
    con = db.connect(db_path, read_only=True)
    try:
        if out is not None:
            report.write_report(con, out, fmt, session_id, reveal_anonymous)
            return None
        built = report.build_report(con, session_id, reveal_anonymous)
    finally:
        con.close()
    render = {"md": report.render_markdown, "html": report.render_html, "json": report.render_json}
    return render[fmt](built)
