"""What users rely on, tested from their side: each test names the promise it guards.

Each of these promises once survived a deliberate break with the rest of the suite
still passing (issue 24): the settled status, escaped participant text in report
headings, the `sql` command's file-system lockdown, the pause every worker takes
after one is told to wait (429), and each report format being that format. A test
here fails with a message that starts with the promise, so a red run says what a
records officer can no longer trust.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import mistune
import pytest

import toolkit
from tests.helpers import ORG, SESSION, T0, envelope, insert_events
from tests.scenario import all_events, build_database, retitled
from toolkit.errors import EXIT_OK, EXIT_USAGE
from toolkit.report.build import build_report, write_report
from toolkit.store import database as db
from toolkit.store import ledger

from .test_cli import cli
from .test_sync import refs_of, run

SETTLED = "PROMISE 'settled' (last ok sync started >= 15 min after the newest event)"
HEADINGS = "PROMISE 'participant text in report headings is escaped'"
LOCKDOWN = "PROMISE 'the sql command cannot reach the file system'"
PAUSE = "PROMISE 'after a 429 every worker pauses, not only the one told to wait'"
FORMATS = "PROMISE 'each report format is that format'"

# -- 1. settled: the signal that the record of a session is complete ------------------------

MINUTE = timedelta(minutes=1)
NEWEST = datetime.fromtimestamp(T0 / 1000, tz=timezone.utc)  # 2026-01-01 00:00 UTC


def _sid(n: int) -> str:
    return f"abcdef0123456789abcdef0123456789_I_{n:018d}"


# session -> (minutes after its newest event that its last sync started, that sync's outcome)
SYNCS = {
    _sid(14): (14, "ok"),
    _sid(15): (15, "ok"),
    _sid(16): (16, "ok"),
    _sid(20): (20, "failed"),  # only a successful sync settles a session
}
SETTLED_SESSIONS = {_sid(15), _sid(16)}
RESYNC_AFTER = "not settled: re-sync after 2026-01-01 00:15 UTC"


@pytest.fixture(scope="module")
def settling_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sessions whose newest event is at 00:00, each synced once some minutes later.

    Each also has an older event (30 minutes before), so only the newest one can count.
    """
    path = tmp_path_factory.mktemp("settled") / "compliance.duckdb"
    con = db.connect(path)
    for session, (minutes, outcome) in SYNCS.items():
        run_id = ledger.start_run(
            con, ORG, session, "https://webexapis.com/v1", NEWEST + minutes * MINUTE
        )
        older = envelope({"type": "qaa", "enabled": True}, T0 - 30 * 60_000, session=session)
        newest = envelope({"type": "qaa", "enabled": False}, T0, session=session)
        insert_events(con, [older, newest], sync_id=run_id)
        ledger.finish_run(con, run_id, outcome, None if outcome == "ok" else "HTTP 503")
    con.close()
    return path


def _expect_settled(session: str, is_settled: Any, where: str) -> None:
    minutes, outcome = SYNCS[session]
    want = session in SETTLED_SESSIONS
    assert is_settled is want, (
        f"{SETTLED}: {where} says is_settled={is_settled} for a session whose last {outcome} "
        f"sync started {minutes} min after its newest event; expected {want}"
    )


def test_the_session_status_view_settles_from_15_minutes_after_the_newest_event(settling_db):
    con = toolkit.connect(settling_db, read_only=True)
    try:
        rows = con.execute(
            "SELECT session_id, is_settled, resync_after FROM session_status"
        ).fetchall()
    finally:
        con.close()
    assert {r[0] for r in rows} == set(SYNCS)
    for session, is_settled, resync_after in rows:
        _expect_settled(session, is_settled, "the session_status view")
        want = None if session in SETTLED_SESSIONS else NEWEST + 15 * MINUTE
        assert resync_after == want, f"{SETTLED}: resync_after of {session} is {resync_after}"


def test_the_sessions_helper_settles_from_15_minutes_after_the_newest_event(settling_db):
    con = toolkit.connect(settling_db, read_only=True)
    try:
        frame = toolkit.sessions(con)
    finally:
        con.close()
    assert set(frame.get_column("session_id")) == set(SYNCS)
    for row in frame.iter_rows(named=True):
        _expect_settled(row["session_id"], row["is_settled"], "toolkit.sessions()")


def status_labels(stdout: str) -> dict[str, str]:
    """Each session's settled label in `status` output: the text after the line's last ', '.

    A line reads `SID (org ORG): N events, last sync WHEN OUTCOME, LABEL`.
    """
    labels = {}
    for line in stdout.splitlines():
        session, sep, rest = line.partition(" (org ")
        if sep and ": " in rest:
            labels[session] = rest.rsplit(", ", 1)[1]
    return labels


def test_the_status_command_labels_each_session_settled_or_not_exactly(settling_db):
    out = cli("status", "--db", str(settling_db))
    assert out.returncode == EXIT_OK, out.stderr
    labels = status_labels(out.stdout)
    assert set(labels) == set(SYNCS), out.stdout
    for session, label in labels.items():
        minutes, outcome = SYNCS[session]
        want = "settled" if session in SETTLED_SESSIONS else RESYNC_AFTER
        assert label == want, (
            f"{SETTLED}: `status` labels {session} (last {outcome} sync {minutes} min after "
            f"its newest event) {label!r}, expected {want!r}"
        )


# -- 2. participant text in report headings ------------------------------------------------

HOSTILE_TITLES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</h3><h1>Forged heading</h1>",
    "# Minutes approved",
    "[click me](javascript:alert(1))",
    "Yes | No | **Maybe**",
    "_under_ `code` ~~gone~~ \\escaped",
    "<!-- hidden --> <a href=//evil.example>x</a>",
]
SAFE_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "section", "h1", "h2", "h3", "p"),
    *("div", "span", "i", "table", "thead", "tbody", "tr", "th", "td"),
    *("svg", "line", "rect", "text"),
    # the report document's own structure: first page, figures, ids under each row
    *("header", "figure", "figcaption", "dl", "dt", "dd", "wbr"),
}


class HtmlOutline(HTMLParser):
    """The tags of a page, and the text of each heading, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.comments: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("h1", "h2", "h3"):
            self._heading = [tag]

    def handle_endtag(self, tag: str) -> None:
        if self._heading is not None and tag == self._heading[0]:
            self.headings.append((tag, "".join(self._heading[1:])))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def html_outline(text: str) -> HtmlOutline:
    parser = HtmlOutline()
    parser.feed(text)
    parser.close()
    return parser


def markdown_blocks(text: str) -> list[dict[str, Any]]:
    """The Markdown as mistune's syntax tree (CommonMark and GitHub pipe tables)."""
    parse = mistune.create_markdown(renderer=None, plugins=["table"])
    return parse(text)  # type: ignore[return-value]


def walk(tokens: list[dict[str, Any]]):
    for token in tokens:
        yield token
        yield from walk(token.get("children") or [])


def inline_text(token: dict[str, Any]) -> str:
    return "".join(t.get("raw", "") for t in walk(token.get("children") or []))


@pytest.fixture(scope="module")
def hostile_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """For each hostile title: the real report of a scenario whose poll p1 bears it."""
    reports = {}
    for n, title in enumerate(HOSTILE_TITLES):
        root = tmp_path_factory.mktemp(f"hostile{n}")
        path = build_database(root / "compliance.duckdb", retitled(all_events(), "p1", title))
        con = toolkit.connect(path, read_only=True)
        try:
            reports[title] = {
                fmt: write_report(con, root / f"r.{fmt}", fmt, SESSION).read_text("utf-8")
                for fmt in ("html", "md")
            }
        finally:
            con.close()
    return reports


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_hostile_poll_title_is_plain_text_in_the_html_results_heading(hostile_reports, title):
    page = html_outline(hostile_reports[title]["html"])
    results = [text for tag, text in page.headings if text.startswith("Results:")]
    assert results == [f"Results: {title}"], (
        f"{HEADINGS}: the HTML 'Results' heading of a poll titled {title!r} reads {results}"
    )
    unexpected = set(page.tags) - SAFE_TAGS
    assert not unexpected, f"{HEADINGS}: the poll title {title!r} became HTML tags {unexpected}"
    assert [tag for tag, _ in page.headings].count("h1") == 1, f"{HEADINGS}: a forged <h1>"
    assert not page.comments, f"{HEADINGS}: the poll title {title!r} became an HTML comment"


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_hostile_poll_title_is_plain_text_in_the_markdown_results_heading(hostile_reports, title):
    blocks = markdown_blocks(hostile_reports[title]["md"])
    headings = [b for b in blocks if b["type"] == "heading"]
    results = [b for b in headings if inline_text(b).startswith("Results:")]
    assert [inline_text(b) for b in results] == [f"Results: {title}"], (
        f"{HEADINGS}: the Markdown 'Results' heading of a poll titled {title!r} reads "
        f"{[inline_text(b) for b in results]}"
    )
    markup = {t["type"] for b in results for t in walk(b["children"])} - {"text"}
    assert not markup, f"{HEADINGS}: the poll title {title!r} became Markdown {markup}"
    html = {t["type"] for t in walk(blocks)} & {"inline_html", "block_html", "link", "image"}
    assert not html, f"{HEADINGS}: the Markdown report holds {html} from {title!r}"
    assert [b["attrs"]["level"] for b in headings].count(1) == 1, f"{HEADINGS}: a forged '# '"


# -- 3. the sql command's lockdown -----------------------------------------------------------

SECRET = "TOP-SECRET-PAYROLL-4242"


@pytest.fixture(scope="module")
def outside_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A database, and a CSV file beside it that the sql command must not read."""
    root = tmp_path_factory.mktemp("lockdown")
    secret = root / f"{SECRET}.csv"
    secret.write_text(f"name,salary\n{SECRET},1000000\n", encoding="utf-8")
    database = root / "compliance.duckdb"
    db.connect(database).close()
    return database, secret


QUERIES = {
    "read_csv": "SELECT * FROM read_csv('{file}')",
    "read_text": "SELECT * FROM read_text('{file}')",
    "glob": "SELECT * FROM glob('{dir}/*.csv')",
    "a file as a table": "SELECT * FROM '{file}'",
    "COPY FROM": "COPY events FROM '{file}'",
    "COPY TO": "COPY (SELECT 1 AS x) TO '{dir}/out.csv'",
}


@pytest.mark.parametrize("what", list(QUERIES))
def test_the_sql_command_refuses_to_touch_files(outside_file, what):
    database, secret = outside_file
    query = QUERIES[what].format(file=secret, dir=secret.parent)
    if query.startswith("SELECT"):  # the query is right: unlocked, DuckDB shows the secret
        assert SECRET in str(duckdb.sql(query).fetchall())
    out = cli("sql", query, "--db", str(database), "--format", "csv")
    assert SECRET not in out.stdout, f"{LOCKDOWN}: `sql` showed the file through {what}"
    assert out.returncode == EXIT_USAGE, (
        f"{LOCKDOWN}: `sql {query}` exited {out.returncode}, not {EXIT_USAGE}: {out.stdout!r}"
    )
    refusal = out.stderr.lower()
    assert out.stderr.startswith("Error: ") and "traceback" not in refusal, out.stderr
    assert any(word in refusal for word in ("disabled", "read-only", "refused")), (
        f"{LOCKDOWN}: the refusal does not say it refused: {out.stderr!r}"
    )
    assert not (secret.parent / "out.csv").exists(), f"{LOCKDOWN}: `sql` wrote a file"


def test_the_locked_down_sql_command_still_answers_queries_of_the_record(outside_file):
    database, _secret = outside_file
    out = cli("sql", "SELECT count(*) AS n FROM events", "--db", str(database), "--format", "csv")
    assert out.returncode == EXIT_OK and out.stdout.split() == ["n", "0"], out.stderr


# -- 4. the shared pause after a 429 ---------------------------------------------------------

RETRY_AFTER = 1.5  # long enough that workers which do not pause fetch many pages in it
LATENCY = 0.1  # per request: a worker's round trip is slower than reading a 429 and holding
# requests per other session the sandbox may serve in the pause: one on the way when the
# 429 was answered, and one sent before the rate-limited worker had read that answer
SLIPPED_IN = 2


def _session_of(target: str) -> str:
    return parse_qs(urlsplit(target).query).get("sessionId", [""])[0]


def test_a_429_to_one_session_pauses_every_session_until_retry_after(
    sample_dataset, sandbox_factory, tmp_db
):
    """Read from the sandbox's request log, in the order it served requests.

    Between session A's 429 and A's retry, each other session may be served the few
    requests already sent before A's worker read the 429 (`SLIPPED_IN`); every later one
    must come after A's retry or after the pause has run out as the log sees it (the
    429's logged instant plus Retry-After, the earliest the pause can end). A sandbox
    answering 429 to A only keeps the others from being told to wait themselves.
    """
    limited, *others = sample_dataset.sessions
    pages = math.ceil(limited.events / 50)
    box = sandbox_factory(
        page_size=50,
        rate_limit_session=limited.session_id,
        rate_limit_every=pages // 2 + 1,  # one 429, half way through A's pages
        retry_after=str(RETRY_AFTER),
        latency=LATENCY,
    )
    con, results = run(tmp_db, box, refs_of(sample_dataset), concurrency=3)
    con.close()
    assert [r.status for r in results] == ["ok"] * 3, [r.error for r in results]
    log = [(t, _session_of(target), status) for t, _m, target, status in box.request_log]
    assert {s for _t, s, status in log if status == 429} == {limited.session_id}
    first = next(i for i, (_t, _s, status) in enumerate(log) if status == 429)
    paused_until = log[first][0] + RETRY_AFTER
    retry = next(i for i in range(first + 1, len(log)) if log[i][1] == limited.session_id)
    assert log[retry][0] >= paused_until, f"{PAUSE}: session A retried before Retry-After"
    still_fetching = 0
    for other in others:
        later = [i for i in range(first + 1, len(log)) if log[i][1] == other.session_id]
        in_pause = [i for i in later if i < retry and log[i][0] < paused_until]
        assert len(in_pause) <= SLIPPED_IN, (
            f"{PAUSE}: session {other.session_id} was served {len(in_pause)} requests after "
            f"session A's 429 and before A's retry, inside A's {RETRY_AFTER} s pause"
        )
        still_fetching += len(later) > SLIPPED_IN
    assert still_fetching, "no other session was still fetching after the 429: nothing tested"


# -- 5. each report format is that format ----------------------------------------------------


@pytest.fixture(scope="module")
def scenario_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_database(tmp_path_factory.mktemp("formats") / "compliance.duckdb")


@pytest.fixture(scope="module")
def sections(scenario_db: Path) -> set[str]:
    """The titles of the session report's sections, whatever the layout names them."""
    con = toolkit.connect(scenario_db, read_only=True)
    try:
        titles = {section.title for section in build_report(con, SESSION).sections}
    finally:
        con.close()
    assert len(titles) >= 3
    return titles


def assert_is_html(text: str, where: str, sections: set[str]) -> None:
    page = html_outline(text)
    for tag in ("html", "head", "body", "h1", "h2", "table", "td"):
        assert tag in page.tags, f"{FORMATS}: {where} is not HTML: no <{tag}> ({text[:80]!r})"
    titles = {heading for tag, heading in page.headings if tag == "h2"}
    assert titles >= sections, f"{FORMATS}: {where} lacks the sections' <h2>s: {titles}"


def assert_is_markdown(text: str, where: str, sections: set[str]) -> None:
    blocks = markdown_blocks(text)
    levels = [b["attrs"]["level"] for b in blocks if b["type"] == "heading"]
    titles = {inline_text(b) for b in blocks if b["type"] == "heading" and b["attrs"]["level"] == 2}
    assert levels.count(1) == 1 and titles >= sections, (
        f"{FORMATS}: {where} has not one '# ' title and the sections' '## ' headings: {levels}"
    )
    assert any(b["type"] == "table" for b in blocks), f"{FORMATS}: {where} has no pipe table"
    html = {t["type"] for t in walk(blocks)} & {"inline_html", "block_html"}
    assert not html, f"{FORMATS}: {where} holds HTML ({html}), not only Markdown"


def assert_is_json(text: str, where: str, sections: set[str]) -> None:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AssertionError(f"{FORMATS}: {where} is not JSON: {exc} ({text[:80]!r})") from None
    keys = {"format", "title", "scope", "generated_at", "notices", "sections", "chart"}
    assert isinstance(data, dict) and keys <= set(data), f"{FORMATS}: {where} keys {list(data)}"
    assert data["format"] == "slido-compliance-report"
    assert {s["title"] for s in data["sections"]} >= sections


CHECKS = {"html": assert_is_html, "md": assert_is_markdown, "json": assert_is_json}


@pytest.mark.parametrize("fmt", list(CHECKS))
def test_report_out_file_is_written_in_the_format_asked_for(scenario_db, sections, tmp_path, fmt):
    target = tmp_path / "report.out"  # a suffix that names no format: --format decides
    args = ["--session", SESSION, "--db", str(scenario_db), "--format", fmt]
    out = cli("report", *args, "--out", str(target))
    assert out.returncode == EXIT_OK, out.stderr
    CHECKS[fmt](target.read_text(encoding="utf-8"), f"report --format {fmt} --out", sections)


@pytest.mark.parametrize("fmt", list(CHECKS))
def test_report_on_standard_output_is_in_the_format_asked_for(scenario_db, sections, fmt):
    out = cli("report", "--session", SESSION, "--db", str(scenario_db), "--format", fmt)
    assert out.returncode == EXIT_OK, out.stderr
    CHECKS[fmt](out.stdout, f"report --format {fmt} (standard output)", sections)


@pytest.mark.parametrize("fmt", list(CHECKS))
def test_report_format_follows_the_out_suffix(scenario_db, tmp_path, fmt):
    target = tmp_path / f"index.{fmt}"
    out = cli("report", "--db", str(scenario_db), "--out", str(target))
    assert out.returncode == EXIT_OK, out.stderr
    CHECKS[fmt](target.read_text(encoding="utf-8"), f"report --out index.{fmt}", set())


def test_write_report_writes_each_format_as_that_format(scenario_db, sections, tmp_path):
    con = toolkit.connect(scenario_db, read_only=True)
    try:
        for fmt, check in CHECKS.items():
            path = write_report(con, tmp_path / f"r.{fmt}", fmt, SESSION)
            check(path.read_text(encoding="utf-8"), f"write_report(..., {fmt!r})", sections)
    finally:
        con.close()
