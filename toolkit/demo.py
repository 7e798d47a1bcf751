"""The demo: sample → sandbox → discover → sync → report, end to end, on a fresh database.

Discovery asks the sandbox's List Meetings for the dataset's period and the org
from `/people/me`, as a real run does; the sync then pages exactly the sessions it
found (the dataset's meetings without Slido are left out by `hasSlido=true`).
"""

from __future__ import annotations

import secrets
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from toolkit.config import Secret, SessionRef
from toolkit.ingest.discovery import Discovery, DiscoveryOptions, discover
from toolkit.ingest.sync import SyncOptions, SyncResult, sync_sessions
from toolkit.report import build as report
from toolkit.sample.generate import default_dataset, read_manifest
from toolkit.sandbox.meetings import parse_time
from toolkit.sandbox.server import Sandbox
from toolkit.store import database as db
from toolkit.store.meetings import upsert_meetings

DEMO_DB = Path("data/demo.duckdb")
REPORT_DIR = Path("data/reports")


@dataclass
class DemoResult:
    """What the demo made: where, and the headline figures."""

    db_path: Path
    dataset: Path
    base_url: str
    results: list[SyncResult]
    report_paths: list[Path]
    headline: dict[str, int]
    discovery: Discovery | None = None  # None for a dataset without meetings


def run_demo(
    db_path: Path = DEMO_DB,
    report_dir: Path = REPORT_DIR,
    dataset: Path | None = None,
    on_progress: Callable[[SyncResult], None] | None = None,
) -> DemoResult:
    """Serve the sample over loopback, sync it into a fresh database and write reports.

    Args:
        db_path: the database to (re)create; only this file is replaced.
        report_dir: where the HTML and Markdown reports go.
        dataset: a sample dataset folder; the bundled `data/sample` by default.
        on_progress: sync progress callback.
    """
    dataset = dataset or default_dataset()
    info = read_manifest(dataset)
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    token = Secret(secrets.token_urlsafe(24))
    refs = [SessionRef(s.org_id, s.session_id) for s in info.sessions]
    found = None
    with Sandbox(dataset, token=token.reveal()) as server:
        span = _meetings_period(dataset / info.meetings) if info.meetings else None
        if span is not None:
            found = discover(DiscoveryOptions(server.base_url, token, *span))
            refs = [SessionRef(found.org_id, item["id"]) for item in found.items]
            con = db.connect(db_path)
            try:
                upsert_meetings(con, found.org_id, found.items, server.base_url)
            finally:
                con.close()
        options = SyncOptions(server.base_url, token, concurrency=4)
        results = sync_sessions(db_path, refs, options, on_progress)
    con = db.connect(db_path, read_only=True)
    try:
        paths = _write_reports(con, report_dir, [r.session_id for r in refs])
        headline = _headline(con)
    finally:
        con.close()
    return DemoResult(db_path, dataset, server.base_url, results, paths, headline, found)


def _meetings_period(path: Path) -> tuple[datetime, datetime] | None:
    """A day either side of the dataset's meetings: the period the demo discovers."""
    starts = [
        parse_time(str(orjson.loads(line).get("start")))
        for line in path.read_bytes().split(b"\n")
        if line.strip()
    ]
    known = [s for s in starts if s is not None]
    if not known:
        return None
    return min(known) - timedelta(days=1), max(known) + timedelta(days=1)


def _write_reports(con, report_dir: Path, sessions: list[str]) -> list[Path]:
    """The index (HTML linking each session's HTML report, and Markdown), every session's
    HTML report, and the first session's Markdown."""
    report_dir.mkdir(parents=True, exist_ok=True)
    links = "{session_id}.html"  # relative: the folder can move as a whole
    paths = [
        report.write_report(con, report_dir / "index.html", "html", links=links),
        report.write_report(con, report_dir / "index.md", "md"),
    ]
    paths += [report.write_report(con, report_dir / f"{s}.html", "html", s) for s in sessions]
    paths.append(report.write_report(con, report_dir / f"{sessions[0]}.md", "md", sessions[0]))
    return paths


def _headline(con) -> dict[str, int]:
    row = con.execute(
        """
        SELECT
            (SELECT count(*) FROM events),
            (SELECT count(*) FROM qaa_questions),
            (SELECT count(*) FROM polls),
            (SELECT count(*) FROM poll_answers WHERE NOT coalesce(is_deleted, false)),
            (SELECT count(DISTINCT actor_user_id) FROM events)
        """
    ).fetchone()
    names = ("events", "questions", "polls", "poll_answers", "actors")
    return dict(zip(names, (int(v) for v in row or ()), strict=True))


def describe_demo(result: DemoResult) -> str:
    """What the demo loaded and where, for the terminal."""
    lines = [f"served {result.dataset} at {result.base_url}"]
    found = result.discovery
    if found is not None:
        lines.append(
            f"discover: {len(found.items)} meetings with Slido in org {found.org_id} "
            f"({found.windows} windows, {found.pages} pages); sync what it found:"
        )
    lines += [
        f"  {r.session_id}: {r.status}, {r.pages} pages, {r.received} received, {r.new} new"
        for r in result.results
    ]
    figures = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in result.headline.items())
    lines.append(f"database {result.db_path}: {figures}")
    lines += [f"report {p}" for p in result.report_paths]
    db_env = f"SLIDO_DB={shlex.quote(str(result.db_path))}"
    lines.append(f"next: {db_env} {cli_command()} sql 'SELECT * FROM polls'")
    return "\n".join(lines)


def cli_command() -> str:
    """How to run the CLI as shown, virtual environment activated or not.

    The console script installed beside this interpreter, by its absolute path; else
    this interpreter with `-m toolkit`.
    """
    folder = Path(sys.executable).parent
    for name in ("slido-compliance", "slido-compliance.exe"):
        if (folder / name).is_file():
            return shlex.quote(str(folder / name))
    return f"{shlex.quote(sys.executable)} -m toolkit"
