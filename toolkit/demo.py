"""The demo: sample → sandbox → sync → report, end to end, on a fresh database."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolkit.config import Secret, SessionRef
from toolkit.ingest.sync import SyncOptions, SyncResult, sync_sessions
from toolkit.report import build as report
from toolkit.sample.generate import default_dataset, read_manifest
from toolkit.sandbox.server import Sandbox
from toolkit.store import database as db

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
    with Sandbox(dataset, token=token.reveal()) as server:
        options = SyncOptions(server.base_url, token, concurrency=4)
        results = sync_sessions(db_path, refs, options, on_progress)
    con = db.connect(db_path, read_only=True)
    try:
        paths = _write_reports(con, report_dir, refs[0].session_id)
        headline = _headline(con)
    finally:
        con.close()
    return DemoResult(db_path, dataset, server.base_url, results, paths, headline)


def _write_reports(con, report_dir: Path, first_session: str) -> list[Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    return [
        report.write_report(con, report_dir / "index.md", "md"),
        report.write_report(con, report_dir / f"{first_session}.html", "html", first_session),
        report.write_report(con, report_dir / f"{first_session}.md", "md", first_session),
    ]


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
    lines += [
        f"  {r.session_id}: {r.status}, {r.pages} pages, {r.received} received, {r.new} new"
        for r in result.results
    ]
    figures = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in result.headline.items())
    lines.append(f"database {result.db_path}: {figures}")
    lines += [f"report {p}" for p in result.report_paths]
    lines.append(f'next: SLIDO_DB={result.db_path} slido-compliance sql "SELECT * FROM polls"')
    return "\n".join(lines)
