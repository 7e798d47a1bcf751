"""The audit report of the hand-written meeting: known figures, escaping, agreement of formats."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import toolkit
from tests.helpers import SESSION, T0, envelope, insert_events
from tests.scenario import HOSTILE, OTHER_SESSION, build_database
from tests.test_promises import CHECKS
from toolkit.errors import UsageError
from toolkit.report.build import (
    build_report,
    render_html,
    render_json,
    render_markdown,
    write_report,
)
from toolkit.report.render import md_text

GENERATED = "2026-02-01T09:00:00Z"
GOLDEN = Path(__file__).parent / "data" / "report_session.md"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_database(tmp_path_factory.mktemp("report") / "compliance.duckdb")


@pytest.fixture(scope="module")
def con(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = toolkit.connect(db, read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def report(con):
    return build_report(con, SESSION, generated_at=GENERATED)


@pytest.fixture(scope="module")
def revealed(con):
    return build_report(con, SESSION, reveal_anonymous=True, generated_at=GENERATED)


def figures(report, section: str) -> dict:
    return {fact.label: fact.value for fact in report.section(section).facts}


def rows(report, section: str, table: str) -> list[dict]:
    found = next(t for t in report.section(section).tables if t.key == table)
    return [dict(zip(found.columns, row, strict=True)) for row in found.rows]


def test_overview_figures_are_the_known_answers(report) -> None:
    overview = figures(report, "overview")
    assert overview["Events stored"] == 30 and overview["Distinct actors"] == 6
    assert (overview["Questions"], overview["Replies"], overview["Polls"]) == (3, 2, 2)
    assert (overview["Poll answers"], overview["Deleted items"]) == (8, 3)
    assert (overview["First event"], overview["Last event"]) == (
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:15:50Z",
    )
    assert overview["Duration"] == "15 min 50 s"


def test_qa_section_shows_authors_moderation_deletions_and_profanity(report) -> None:
    qa = figures(report, "qa")
    assert (qa["Questions"], qa["Anonymous questions"], qa["Deleted questions"]) == (3, 1, 2)
    assert qa["Questions flagged for profanity"] == 1 and qa["Q&A moderation steps"] == 4
    questions = {q["Question"]: q for q in rows(report, "qa", "questions")}
    assert questions["q1"]["Moderation decisions"] == "approve by u-mod; answer by u-host"
    assert (questions["q3"]["Deleted by"], questions["q3"]["Author"]) == ("u-mod", HOSTILE)
    assert questions["q2"]["Author"] == "anonymous"


def test_polls_section_shows_results_resets_rejections_and_late_edits(report) -> None:
    polls = figures(report, "polls")
    assert (polls["Polls"], polls["Poll answers stored"], polls["Result resets"]) == (2, 8, 1)
    assert (polls["Rejected answers"], polls["Deleted answers"]) == (1, 1)
    assert polls["Edits after answers arrived"] == 1
    results = rows(report, "polls", "results:p1")
    assert [(r["Option"], r["Votes"]) for r in results] == [("Yes", 1), ("No", 0), (HOSTILE, 0)]


def test_completeness_section_shows_syncs_settlement_unknowns_and_digest(con, report) -> None:
    facts = figures(report, "completeness")
    assert (facts["Settled"], facts["Sync runs"], facts["Last sync outcome"]) == (True, 1, "ok")
    assert (facts["Unknown event types"], facts["Rejected items"]) == (1, 1)
    assert facts["Event digest (SHA-256)"] == toolkit.event_digest(con, SESSION)


def test_notices_at_the_top_name_unknown_types_and_rejected_items(report) -> None:
    assert any("mysteryWidget" in notice for notice in report.notices)
    assert any("could not be stored" in notice for notice in report.notices)
    assert not any("ANONYMITY" in notice for notice in report.notices)


def test_anonymous_posters_leave_no_trace_unless_revealed(report) -> None:
    for text in (render_markdown(report), render_html(report), render_json(report)):
        assert "u-bob" not in text and "Bob" not in text


def test_revealing_anonymous_posters_names_them_and_says_so_first(revealed) -> None:
    assert revealed.notices[0].startswith("ANONYMITY REVEALED")
    markdown = render_markdown(revealed)
    assert markdown.index("ANONYMITY REVEALED") < markdown.index("## Overview")
    assert "u-bob" in markdown
    html = render_html(revealed)
    assert html.index("ANONYMITY REVEALED") < html.index('<section id="overview">')


SAFE_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "section",
    "h1",
    "h2",
    "h3",
    "p",
    "div",
    "span",
    "i",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "svg",
    "line",
    "rect",
    "text",
    "header",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "wbr",
}


def test_html_escapes_hostile_text_from_participants(report) -> None:
    html = render_html(report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert set(re.findall(r"<(\w+)", html)) <= SAFE_TAGS


def test_html_is_one_self_contained_file_with_an_inline_chart(report) -> None:
    html = render_html(report)
    assert "<svg" in html and "Content-Security-Policy" in html
    assert "<script" not in html.lower() and " on" + "load=" not in html
    assert not re.search(r"<[^>]*\b(src|href)=|@import|url\(", html, re.IGNORECASE)


def test_markdown_escapes_hostile_text_and_keeps_tables_whole(report) -> None:
    markdown = render_markdown(report)
    assert not re.search(r"(?<!\\)<", markdown)
    assert r"\<script\>alert(1)\</script\>" in markdown
    table_lines = [line for line in markdown.splitlines() if line.startswith("| q3 ")]
    assert all(line.endswith(" |") for line in table_lines)


def test_json_report_agrees_with_the_markdown_figure_for_figure(report) -> None:
    markdown, data = render_markdown(report), json.loads(render_json(report))
    for section in data["sections"]:
        for fact in section["facts"]:
            assert f"| {md_text(fact['label'])} | {md_text(fact['value'])} |" in markdown
        for table in section["tables"]:
            for row in table["rows"]:
                assert "| " + " | ".join(md_text(v) for v in row) + " |" in markdown


def test_json_report_carries_the_chart_data(report) -> None:
    chart = json.loads(render_json(report))["chart"]
    assert chart["every"] == "1m" and len(chart["buckets"]) == 16
    assert sum(chart["totals"]) == 30


def test_the_same_data_gives_the_same_report(con, report) -> None:
    again = build_report(con, SESSION, generated_at=GENERATED)
    assert render_html(again) == render_html(report)
    assert render_json(again) == render_json(report)


def test_markdown_report_matches_the_golden_file(report) -> None:
    markdown = render_markdown(report)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(markdown, encoding="utf-8")
    assert markdown == GOLDEN.read_text(encoding="utf-8")


def test_index_report_lists_every_session_with_its_digest(con) -> None:
    index = build_report(con, generated_at=GENERATED)
    sessions = {row["Session"]: row for row in rows(index, "overview", "sessions")}
    assert set(sessions) == {SESSION, OTHER_SESSION}
    assert sessions[SESSION]["Event digest (SHA-256)"] == toolkit.event_digest(con, SESSION)
    assert figures(index, "overview")["Sessions not settled"] == 1
    assert any("not settled" in notice for notice in index.notices)


def test_a_report_on_an_unknown_session_is_a_usage_error(con) -> None:
    with pytest.raises(UsageError, match="nothing is stored for session 'nope'"):
        build_report(con, "nope")


def test_a_session_not_yet_settled_is_flagged_at_the_top(tmp_path: Path) -> None:
    con = toolkit.connect(tmp_path / "fresh.duckdb")
    try:
        insert_events(con, [envelope({"type": "qaa", "enabled": True}, T0)])
        fresh = build_report(con, "abcdef0123456789abcdef0123456789_I_000000000000000001")
    finally:
        con.close()
    assert any("may be incomplete" in n and "2026-01-01T00:15:00Z" in n for n in fresh.notices)


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_write_report_writes_each_format(con, report, tmp_path: Path, fmt: str) -> None:
    path = write_report(con, tmp_path / f"report.{fmt}", fmt, SESSION, generated_at=GENERATED)
    text = path.read_text(encoding="utf-8")
    assert SESSION in text or md_text(SESSION) in text
    titles = {section.title for section in report.sections}
    CHECKS[fmt](text, f"write_report(..., {fmt!r})", titles)  # parsed as that format


def test_write_report_refuses_an_unknown_format(con, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown report format 'docx'"):
        write_report(con, tmp_path / "report.docx", "docx", SESSION)


def test_a_failed_sync_without_events_still_gives_a_report_that_says_so(tmp_path: Path) -> None:
    con = toolkit.connect(tmp_path / "failed.duckdb")
    try:
        con.execute(
            "INSERT INTO sync_runs (sync_id, session_org_id, session_id, base_url, started_at, "
            "status, error) VALUES (7, 'org', ?, 'https://webexapis.com/v1', now(), 'failed', "
            "'HTTP 503 <b>busy</b>')",
            [SESSION],
        )
        failed = build_report(con, SESSION, generated_at=GENERATED)
    finally:
        con.close()
    assert "The last sync's outcome is 'failed': HTTP 503 <b>busy</b>." in failed.notices
    assert figures(failed, "overview")["Events stored"] == 0
    assert "HTTP 503 &lt;b&gt;busy&lt;/b&gt;" in render_html(failed)
    assert failed.chart is not None and failed.chart.buckets == ()


def test_a_hostile_event_type_is_escaped_in_the_chart_legend_and_notices(tmp_path: Path) -> None:
    con = toolkit.connect(tmp_path / "odd.duckdb")
    try:
        insert_events(con, [envelope({"type": "<svg onload=alert(1)>"}, T0)])
        html = render_html(build_report(con, SESSION, generated_at=GENERATED))
    finally:
        con.close()
    assert "&lt;svg onload=alert(1)&gt;" in html
    assert "<svg onload" not in html


def test_the_first_page_shows_meeting_verdict_digest_and_chart_before_any_table(con, report):
    html = render_html(report)
    cover = html[html.index('<header class="cover"') : html.index("</header>")]
    assert "<table" not in cover and "<svg" in cover
    assert cover.count("not discovered") == 4  # title, host, scheduled start and end
    assert "Settled" in cover and toolkit.event_digest(con, SESSION) in cover
    assert "1 sync run(s) at" in cover and "Headline figures" in cover


def test_the_first_page_names_the_discovered_meeting(tmp_path: Path) -> None:
    path = build_database(tmp_path / "met.duckdb")
    con = toolkit.connect(path)
    try:
        con.execute(
            "INSERT INTO meetings (session_id, session_org_id, title, host_email, "
            'host_display_name, start, "end", first_discovered_at, last_discovered_at, raw) '
            "VALUES (?, 'org', ?, 'h@example.org', 'Hana', TIMESTAMPTZ '2026-01-01 00:00:00+00', "
            "TIMESTAMPTZ '2026-01-01 01:00:00+00', now(), now(), '{}')",
            [SESSION, "Board <b>meeting</b>"],
        )
        met = build_report(con, SESSION, generated_at=GENERATED)
    finally:
        con.close()
    html, markdown = render_html(met), render_markdown(met)
    assert "Board &lt;b&gt;meeting&lt;/b&gt;" in html and "Hana &lt;h@example.org&gt;" in html
    assert "2026-01-01T01:00:00Z" in html and "not discovered" not in html
    assert r"| Meeting | Board \<b\>meeting\</b\> |" in markdown


def test_ids_sit_small_on_a_line_of_their_own_under_each_row(report) -> None:
    html = render_html(report)
    assert "Under each row: Question · Posted by (user id)" in html
    assert (
        '<tr class="ids"><td colspan="13"><span class="v"><span class="l">Question</span>' in html
    )


def test_the_index_links_each_sessions_report_relatively(con) -> None:
    index = build_report(con, generated_at=GENERATED, links="{session_id}.html")
    html = render_html(index)
    for sid in (SESSION, OTHER_SESSION):
        assert f'<a href="{sid}.html">{sid}</a>' in html
    assert not re.search(r'href="(?!\w[\w.-]*\.html")', html)


def test_the_running_header_cannot_break_out_of_the_stylesheet() -> None:
    from toolkit.report.document import css_string

    quoted = css_string('x</style><script>"')
    assert "<" not in quoted and '"' not in quoted[1:-1] and "\\3c " in quoted
