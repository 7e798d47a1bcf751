"""A `Report` as Markdown, as one self-contained HTML file, or as JSON.

All three show the same content. Every text that came from a participant (a
question, an answer, a name, a poll title, even an event type) is escaped: for
HTML with `html.escape`, for Markdown with backslash escapes, so no rendering
can run a script or break a table. The HTML has no external scripts, fonts,
images or style sheets, and a Content-Security-Policy that forbids scripts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from html import escape

from toolkit.report.charts import series_colour, timeline_svg
from toolkit.report.model import Chart, Report, Section, Table, Value, report_dict

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


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
    for section in report.sections:
        lines += _md_section(section)
    return "\n".join(lines).rstrip() + "\n"


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
    return escape(_one_line(display_text(value)), quote=True)


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#222}
h1{font-size:1.6rem}h2{border-bottom:2px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
h3{font-size:1.05rem;margin-top:1.4rem}
.wide{overflow-x:auto}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.82rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:break-word;max-width:30rem}
th{background:#f2f2f2;white-space:nowrap}td.t{white-space:nowrap}
.notice{border:2px solid #b00020;background:#fff3f3;padding:.6rem 1rem;margin:.6rem 0;
font-weight:600}
.note{color:#555;font-style:italic}.meta{color:#555}
.legend span{display:inline-block;margin-right:1rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem}
"""


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page with the activity chart inline as SVG.

    Example:
        >>> Path("audit.html").write_text(render_html(report))  # doctest: +SKIP
    """
    body = [
        f"<h1>{html_text(report.title)}</h1>",
        f'<p class="meta">Generated at {html_text(report.generated_at)}. '
        f"Scope: {html_text(report.scope)}.</p>",
    ]
    body += [f'<div class="notice" role="alert">{html_text(n)}</div>' for n in report.notices]
    for section in report.sections:
        chart = report.chart if section.key == "activity" else None
        body += _html_section(section, chart)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{html_text(report.title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _html_section(section: Section, chart: Chart | None) -> list[str]:
    parts = [f'<section id="{escape(section.key)}">', f"<h2>{html_text(section.title)}</h2>"]
    if section.text:
        parts.append(f"<p>{html_text(section.text)}</p>")
    if section.facts:
        parts += _html_rows(("Figure", "Value"), [(f.label, f.value) for f in section.facts])
    if chart is not None and chart.buckets:
        parts += _html_chart(chart)
    for table in section.tables:
        parts += _html_table(table)
    return [*parts, "</section>"]


def _html_chart(chart: Chart) -> list[str]:
    legend = "".join(
        f'<span><i style="background:{series_colour(i)}"></i>{html_text(name)}</span>'
        for i, (name, _) in enumerate(chart.series)
    )
    return [
        f"<h3>{html_text(chart.title)}</h3>",
        timeline_svg(chart),
        f'<p class="legend">{legend}</p>',
    ]


def _html_table(table: Table) -> list[str]:
    parts = [f"<h3>{html_text(table.title)}</h3>"]
    if table.note:
        parts.append(f'<p class="note">{html_text(table.note)}</p>')
    if not table.rows:
        return [*parts, "<p>None.</p>"]
    return parts + _html_rows(table.columns, table.rows)


def _html_cell(value: Value) -> str:
    """One table cell; a time stays on one line."""
    is_time = isinstance(value, str) and _ISO_TIME.match(value) is not None
    return f'<td class="t">{html_text(value)}</td>' if is_time else f"<td>{html_text(value)}</td>"


def _html_rows(columns: Sequence[str], rows: Iterable[Sequence[Value]]) -> list[str]:
    head = "".join(f"<th>{html_text(c)}</th>" for c in columns)
    body = ["<tr>" + "".join(_html_cell(v) for v in row) + "</tr>" for row in rows]
    return [
        '<div class="wide"><table>',
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *body,
        "</tbody>",
        "</table></div>",
    ]
