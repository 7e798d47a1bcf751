"""A `Report` as Markdown or JSON, and the text helpers every rendering shares.

All renderings (the HTML is `document`) show the same content. Every text that
came from a participant (a question, an answer, a name, a poll title, even an
event type) is escaped: for HTML with `html.escape`, for Markdown with backslash
escapes, so no rendering can run a script or break a table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from html import escape

from toolkit.report.model import Glance, Report, Section, Table, Value, report_dict

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NEWLINES = re.compile(r"\r\n|\r|\n")
# what html_text changes: line breaks and control characters (_one_line), and the
# characters html.escape replaces; most cells hold none, and skip both (a large
# session's report has some 90,000 cells)
_HTML_CHANGED = re.compile(r"[\x00-\x1f\x7f-\x9f&<>\"']")


def display_text(value: Value) -> str:
    """A plain value as the text a reader sees: '—' for none, yes/no, numbers as written."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _one_line(text: str) -> str:
    text = _NEWLINES.sub(" ⏎ ", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def md_text(value: Value) -> str:
    """A value for a Markdown table cell: one line, Markdown and HTML characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", _one_line(display_text(value)))


def render_markdown(report: Report) -> str:
    """The report as GitHub-flavoured Markdown.

    Example:
        >>> render_markdown(build_report(con, "SID"))  # doctest: +SKIP
    """
    lines = [f"# {md_text(report.title)}", "", f"Generated at {md_text(report.generated_at)}."]
    lines += [f"Scope: {md_text(report.scope)}.", ""]
    lines += [f"> **Notice:** {md_text(notice)}\n" for notice in report.notices]
    if report.glance is not None:
        lines += _md_glance(report.glance)
    for section in report.sections:
        lines += _md_section(section)
    return "\n".join(lines).rstrip() + "\n"


def _md_glance(glance: Glance) -> list[str]:
    """The first page's answers: the meeting, and whether the record is complete."""
    rows = [(fact.label, fact.value) for fact in glance.meeting]
    rows += [
        ("Completeness", f"{'Settled' if glance.settled else 'Not settled'}. {glance.verdict}"),
        ("Sync runs", glance.syncs),
        ("Event digest (SHA-256)", glance.digest),
    ]
    return ["## At a glance", "", *_md_rows(("Figure", "Value"), rows), ""]


def _md_section(section: Section) -> list[str]:
    lines = [f"## {md_text(section.title)}", ""]
    if section.text:
        lines += [md_text(section.text), ""]
    if section.facts:
        rows = [(fact.label, fact.value) for fact in section.facts]
        lines += [*_md_rows(("Figure", "Value"), rows), ""]
    for table in section.tables:
        lines += _md_table(table)
    return lines


def _md_table(table: Table) -> list[str]:
    lines = [f"### {md_text(table.title)}", ""]
    if table.note:
        lines += [f"_{md_text(table.note)}_", ""]
    if not table.rows:
        return [*lines, "None.", ""]
    return [*lines, *_md_rows(table.columns, table.rows), ""]


def _md_rows(columns: Sequence[str], rows: Iterable[Sequence[Value]]) -> list[str]:
    head = "| " + " | ".join(md_text(c) for c in columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(md_text(v) for v in row) + " |" for row in rows]
    return [head, rule, *body]


def render_json(report: Report) -> str:
    """The report as JSON (UTF-8 text): the same content as the Markdown, values unformatted.

    Example:
        >>> json.loads(render_json(report))["sections"][0]["key"]  # doctest: +SKIP
        'overview'
    """
    return json.dumps(report_dict(report), ensure_ascii=False, indent=2) + "\n"


def html_text(value: Value) -> str:
    """A value as escaped HTML text, on one line."""
    text = value if type(value) is str else display_text(value)
    if not _HTML_CHANGED.search(text):
        return text
    return escape(_one_line(text), quote=True)


def html_texts(values: Iterable[Value]) -> list[str]:
    """`html_text` of each value: a table column's cells at once.

    Most cells are text that needs no escaping, or a whole number: those are taken
    as they are, without a call per cell (a large session's report has 90,000 cells).
    """
    search = _HTML_CHANGED.search
    return [
        value
        if isinstance(value, str) and not search(value)
        else str(value)
        if type(value) is int  # (not a bool)
        else html_text(value)
        for value in values
    ]
