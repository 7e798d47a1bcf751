"""The report in a real headless browser: on screen at 1280 px, printed, and as `--format pdf`.

Printing must lose nothing: every table header and every question, reply, poll
option and moderation decision of the session is in the PDF's text (`pdftotext`).
These tests need Debian's `chromium` and `poppler-utils` (`.ci/install-browser`
installs them); where either is missing they are skipped, saying which.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import toolkit
from toolkit.config import Secret, SessionRef
from toolkit.errors import ToolkitError
from toolkit.ingest.sync import SyncOptions, sync_sessions
from toolkit.report.browser import Browser, find_browser
from toolkit.report.build import build_report
from toolkit.report.document import render_html
from toolkit.report.model import Report
from toolkit.report.render import html_text
from toolkit.sample.generate import SampleInfo
from toolkit.sandbox.server import Sandbox

GENERATED = "2026-02-01T09:00:00Z"


def _browser_or_none() -> Path | None:
    try:
        return find_browser()
    except ToolkitError:
        return None


BROWSER = _browser_or_none()
needs_browser = pytest.mark.skipif(
    BROWSER is None or shutil.which("pdftotext") is None,
    reason="skipped: no headless Chromium/Chrome or no pdftotext on this machine "
    "(Debian: apt-get install chromium poppler-utils, or run .ci/install-browser)",
)


@pytest.fixture(scope="module")
def sample_db(sample_dataset: SampleInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's busiest session (long texts, hundreds of rows) synced from the sandbox."""
    path = tmp_path_factory.mktemp("print") / "compliance.duckdb"
    session = max(sample_dataset.sessions, key=lambda s: s.events)
    with Sandbox(sample_dataset.out_dir, token="print-token") as box:
        con = toolkit.connect(path)
        try:
            options = SyncOptions(box.base_url, Secret("print-token"), concurrency=1)
            sync_sessions(con, [SessionRef(session.org_id, session.session_id)], options)
        finally:
            con.close()
    return path


@pytest.fixture(scope="module")
def con(sample_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = toolkit.connect(sample_db, read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def session_id(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT any_value(session_id) FROM events").fetchone()[0])  # type: ignore[index]


@pytest.fixture(scope="module")
def report(con: duckdb.DuckDBPyConnection, session_id: str) -> Report:
    return build_report(con, session_id, generated_at=GENERATED)


def squeeze(text: str) -> str:
    """Text without any whitespace: lines wrapped anywhere in a cell compare equal."""
    return re.sub(r"\s+", "", text)


def shown(value: object) -> str:
    """A value as the HTML shows it (on one line, '—' for none), unescaped."""
    return html.unescape(html_text(value))  # type: ignore[arg-type]


def pdf_pages(path: Path) -> list[str]:
    """Each page's text in content order (-raw keeps each cell's lines together), squeezed."""
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True)
    return [squeeze(page) for page in out.stdout.decode("utf-8").split("\f") if page.strip()]


def pdf_text(path: Path) -> str:
    """The whole PDF's text, squeezed."""
    return "".join(pdf_pages(path))


def must_appear(con: duckdb.DuckDBPyConnection, session_id: str, report: Report) -> set[str]:
    """Every table header, question, reply, poll option and moderation decision of the session."""
    found = {c for s in report.sections for t in s.tables if t.rows for c in t.columns}
    found |= {f.label for s in report.sections for f in s.facts}
    frames = (
        (toolkit.qa_questions(con, session_id), "text"),
        (toolkit.question_replies(con, session_id), "text"),
        (toolkit.poll_results(con, session_id=session_id), "option_title"),
        (toolkit.moderation_log(con, session_id), "action"),
    )
    for frame, column in frames:
        found |= {str(v) for v in frame.get_column(column).to_list() if v}
    moderation = toolkit.qa_questions(con, session_id).get_column("moderation_actions")
    found |= {v for v in moderation.to_list() if v}
    return {squeeze(shown(v)) for v in found}


def missing_from(text: str, needles: set[str]) -> list[str]:
    return sorted(n for n in needles if n not in text)


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )


@needs_browser
def test_report_pdf_contains_every_header_question_reply_option_and_decision(
    sample_db: Path, con, session_id: str, report: Report, tmp_path: Path
) -> None:
    out = tmp_path / "report.pdf"
    done = cli(
        "report",
        "--session",
        session_id,
        "--format",
        "pdf",
        "--out",
        str(out),
        "--db",
        str(sample_db),
    )
    assert done.returncode == 0, done.stderr
    needles = must_appear(con, session_id, report)
    assert len(needles) > 200  # the sample's session is big enough to mean something
    assert missing_from(pdf_text(out), needles) == []
    # every page opens with the running header; the Questions table runs over many
    # pages, each repeating its header row
    assert all(p.startswith(squeeze("Slido compliance report")) for p in pdf_pages(out))
    with_questions = [p for p in pdf_pages(out) if squeeze("Posted by (user id)") in p]
    assert len(with_questions) > 3
    assert all(squeeze("Asked at Author Anonymous Text") in p for p in with_questions)
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
    assert re.search(r"Creator:.*Chrom.*\(" + re.escape(str(BROWSER)), info), info


@needs_browser
def test_the_html_printed_by_the_browser_with_its_defaults_loses_nothing(
    con, session_id: str, report: Report, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    printed = tmp_path / "printed.pdf"
    command = [str(BROWSER), "--headless", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}"]
    if os.geteuid() == 0:
        command.append("--no-sandbox")
    command += ["--no-pdf-header-footer", f"--print-to-pdf={printed}", page.as_uri()]
    subprocess.run(command, capture_output=True, timeout=300, check=True)
    text = pdf_text(printed)
    assert missing_from(text, must_appear(con, session_id, report)) == []
    assert squeeze("Page 1 of") in text and squeeze(session_id) in text  # running header, numbers


@needs_browser
@pytest.mark.parametrize("scope", ["session", "index"])
def test_on_screen_at_1280_px_the_page_never_scrolls_sideways(
    con, session_id: str, tmp_path: Path, scope: str
) -> None:
    built = build_report(con, session_id if scope == "session" else None, links="{session_id}.html")
    page = tmp_path / "report.html"
    page.write_text(render_html(built), encoding="utf-8")
    with Browser(BROWSER) as browser:  # type: ignore[arg-type]
        browser.open(page, width=1280)
        metrics = browser.call("Page.getLayoutMetrics", {})
        widths = browser.call(
            "Runtime.evaluate",
            {
                "expression": "[document.documentElement.scrollWidth, "
                "document.documentElement.clientWidth, document.querySelectorAll('table').length]",
                "returnByValue": True,
            },
        )["result"]["value"]
    scroll_width, client_width, tables = widths
    assert tables > 0 and client_width >= 1200
    assert scroll_width <= client_width
    assert metrics["cssContentSize"]["width"] <= metrics["cssLayoutViewport"]["clientWidth"]


def test_pdf_without_a_browser_exits_2_saying_what_to_install(
    sample_db: Path, session_id, tmp_path: Path
) -> None:
    out = tmp_path / "report.pdf"
    done = cli(
        "report",
        "--session",
        session_id,
        "--out",
        str(out),
        "--db",
        str(sample_db),
        CHROME="no-such-browser-here",
    )
    assert done.returncode == 2
    assert "apt-get install chromium" in done.stderr and "print it from any browser" in done.stderr
    assert not out.exists()


def test_pdf_needs_out(sample_db: Path, session_id: str) -> None:
    done = cli("report", "--session", session_id, "--format", "pdf", "--db", str(sample_db))
    assert done.returncode == 2 and "--format pdf writes a file: give --out" in done.stderr
