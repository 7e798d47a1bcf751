"""What each command does, composed from the library; the CLI only parses and prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from toolkit import config
from toolkit.config import Secret, SessionRef, normalize_org_id
from toolkit.config import db_path as config_db_path
from toolkit.errors import UsageError
from toolkit.ingest import discovery
from toolkit.ingest.auth import TokenSource
from toolkit.ingest.discovery import Discovery, DiscoveryOptions, sessions_file_text
from toolkit.ingest.retry import RetryPolicy
from toolkit.ingest.sync import SyncOptions, SyncResult, status_rows, sync_sessions, unknown_types
from toolkit.ingest.update import UpdateResult, update
from toolkit.store import database as db
from toolkit.store import handle, rebuild, spool
from toolkit.store.meetings import UpsertCounts, upsert_meetings


def run_sync(
    db_path: Path | None,
    refs: Sequence[SessionRef],
    base_url: str,
    token: Secret | TokenSource,
    concurrency: int = 4,
    max_wait: float = 300.0,
    wait: float = 0.0,
    on_progress: Callable[[SyncResult], None] | None = None,
    recheck: bool = False,
    on_rebuild: rebuild.AnyProgress | None = None,
) -> list[SyncResult]:
    """Sync the sessions into the database, which is opened only to commit.

    `wait`: seconds to wait for another sync of the same file to finish, and for a
    reader to close the file at the end before events are left waiting in the spool.
    See `SyncOptions` for `recheck`; `on_rebuild` sees the progress of the upgrade an
    older file needs (its typed storage rebuilt from `events`).
    """
    if not refs:
        raise UsageError("no session to sync: give --org with --session, or --sessions-file")
    options = SyncOptions(
        base_url,
        token,
        concurrency,
        RetryPolicy(max_wait=max_wait),
        recheck=recheck,
        wait=wait,
        on_rebuild=on_rebuild,
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


@dataclass(frozen=True)
class Connection:
    """Where the API is and which tokens to send (events; discovery when it differs)."""

    base_url: str
    token: Secret | TokenSource
    discovery_token: Secret | TokenSource
    max_wait: float = 300.0


def run_discover(
    db_path: Path | None,
    api: Connection,
    when: tuple[datetime | None, datetime | None, int | None],
    filters: tuple[str | None, str | None, str | None] = (None, None, None),
    out: Path | None = None,
    wait: float = 0.0,
) -> tuple[Discovery, UpsertCounts]:
    """Discover the Slido meetings of a period, store them, and write `--out` if given.

    Args:
        db_path: the database.
        api: base URL and tokens.
        when: `--from`, `--to`, `--days`.
        filters: `--org`, `--host`, `--site`.
        out: the `org,session` file to write.
        wait: seconds to wait for a database held by another process.
    """
    found = _discover(api, when, filters)
    con = db.connect(db_path, wait=wait)
    try:
        counts = upsert_meetings(con, found.org_id, found.items, api.base_url)
    finally:
        con.close()
    if out is not None:
        _write_text(out, sessions_file_text(found))
    return found, counts


def _discover(
    api: Connection,
    when: tuple[datetime | None, datetime | None, int | None],
    filters: tuple[str | None, str | None, str | None],
) -> Discovery:
    org, host, site = filters
    start, end = discovery.period(*when[:2], when[2], datetime.now(timezone.utc))
    return discovery.discover(
        DiscoveryOptions(
            api.base_url,
            api.discovery_token,
            start,
            end,
            normalize_org_id(org) if org else None,
            host,
            site,
            RetryPolicy(max_wait=api.max_wait),
        )
    )


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def describe_discovery(found: Discovery, counts: UpsertCounts) -> str:
    """One line per meeting found, then what was found in all."""
    lines = [_meeting_line(item) for item in found.items]
    if found.start is None or found.end is None:
        span = "no window: the period ends less than 15 minutes ago"
    else:
        span = f"{found.start:%Y-%m-%d %H:%M} to {found.end:%Y-%m-%d %H:%M} UTC"
    lines.append(
        f"discovered {len(found.items)} meetings with Slido in org {found.org_id} "
        f"({counts.new} new, {counts.known} known; {span}, {found.windows} windows, "
        f"{found.pages} pages)"
    )
    return "\n".join(lines)


def _meeting_line(item: dict) -> str:
    title = _printable(item.get("title")) or "(no title)"
    host = _printable(item.get("hostEmail")) or "unknown host"
    return f"{item['id']}  {_printable(item.get('start'))}  {title} ({host})"


def _printable(value: object) -> str:
    """A field from the API as one line of text without control characters."""
    text = value if isinstance(value, str) else ""
    return "".join(c if c.isprintable() else " " for c in text)[:120]


def run_update(
    db_path: Path | None,
    api: Connection,
    days: int = 7,
    org: str | None = None,
    concurrency: int = 4,
    wait: float = 0.0,
    on_progress: Callable[[SyncResult], None] | None = None,
) -> UpdateResult:
    """Discover the last `days`, store the meetings, sync what is new or not settled."""
    found = _discover(api, (None, None, days), (org, None, None))
    policy = RetryPolicy(max_wait=api.max_wait)
    options = SyncOptions(api.base_url, api.token, concurrency, policy, wait=wait)
    return update(config.db_path(db_path), found, api.base_url, options, on_progress)


def describe_update(result: UpdateResult) -> str:
    """One summary line per session synced, then the total; says so when nothing is new."""
    lines = [
        f"{r.session_id} ({result.reasons[SessionRef(r.org_id, r.session_id)]}):"
        + describe_results([r])[len(r.session_id) + 1 :]
        for r in result.results
    ]
    found, counts = result.discovery, result.meetings
    total = (
        f"update: {len(found.items)} meetings with Slido discovered ({counts.new} new), "
        f"{len(result.results)} sessions synced, {result.new_events} new events"
    )
    if counts.new == 0 and result.new_events == 0:
        total += "; nothing new"
    return "\n".join([*lines, total])


def run_rebuild(
    db_path: Path | None, wait: float = 0.0, on_progress: rebuild.AnyProgress | None = None
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
REPORT_SUFFIXES = {".md": "md", ".html": "html", ".htm": "html", ".json": "json", ".pdf": "pdf"}


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
    if fmt == "pdf" and out is None:
        raise UsageError("--format pdf writes a file: give --out F, e.g. --out report.pdf")
    if fmt == "pdf":
        from toolkit.report.browser import find_browser

        find_browser()  # before the report is built: say at once what to install
    with handle.open(db_path).connection() as con:  # held while the report is built
        if out is not None:
            report.write_report(con, out, fmt, session_id, reveal_anonymous)
            return None
        built = report.build_report(con, session_id, reveal_anonymous)
    render = {"md": report.render_markdown, "html": report.render_html, "json": report.render_json}
    return render[fmt](built)


def run_export(
    db_path: Path | None,
    out: Path,
    session_ids: Sequence[str] = (),
    on_progress: Callable[[int, int, str], None] | None = None,
) -> str:
    """Write the evidence folder of the sessions (all by default); say what it holds."""
    from toolkit.config import check_id
    from toolkit.evidence import export_record
    from toolkit.evidence.export import MEMORY_LIMIT

    wanted = [check_id(sid) for sid in session_ids]
    con = db.connect(db_path, read_only=True, memory_limit=MEMORY_LIMIT)
    try:
        result = export_record(con, out, wanted, on_progress, config_db_path(db_path).name)
    finally:
        con.close()
    return (
        f"exported {len(result.sessions)} sessions, {result.events} events to {out}: "
        f"{result.files} files, {result.bytes:,} bytes, listed with their SHA-256 in "
        f"{out / 'manifest.json'}\ncheck it with: slido-compliance verify {out}"
    )


def run_verify(
    out: Path,
    db_path: Path | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> str:
    """Check an export against its manifest (and the database, given `db_path`).

    Raises:
        VerifyError: the export is altered or incomplete; the message names every mismatch.
    """
    from toolkit.errors import VerifyError
    from toolkit.evidence import verify_export

    con = db.connect(db_path, read_only=True) if db_path is not None else None
    try:
        result = verify_export(out, con, on_progress)
    finally:
        if con is not None:
            con.close()
    if not result.ok:
        raise VerifyError("\n  ".join([result.verdict(), *result.problems]))
    return result.verdict()
