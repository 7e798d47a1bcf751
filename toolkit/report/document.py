"""A `Report` as one self-contained HTML document, readable on screen and complete on paper.

The first page answers at a glance (the meeting, the headline figures, the
activity chart, whether the record is complete); the detail tables follow. In a
table, participants' texts get the room and ids go small on a line of their own
under each row. The stylesheet (`report.css`) prints every table whole: header
rows repeated, rows never split, a running header and page numbers. Every text
is escaped; there are no scripts and a Content-Security-Policy forbids them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from importlib import resources

from toolkit.report.charts import series_colour, timeline_svg
from toolkit.report.model import Chart, Fact, Glance, Report, Section, Table, Value
from toolkit.report.render import html_text, html_texts

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_ISO_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT)(\d\d:\d\d:\d\dZ)$")
_LONG_WORD = re.compile(r"\S{24,}")
_CELL_CLASS = {"text": "x", "number": "n", "time": "t", "id": "id", "plain": ""}
_LONG_FACT = 40


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page with the activity chart inline as SVG.

    Example:
        >>> Path("audit.html").write_text(render_html(report))  # doctest: +SKIP
    """
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{html_text(report.title)}</title>\n<style>{stylesheet(report)}</style>\n"
        "</head>\n<body>"
    )
    lines = [head, *_cover(report)]
    for section in report.sections:
        lines += _html_section(section, report)
    lines.append("</body>\n</html>\n")
    # one join: a large session's page is some 18 MB as text (one emoji makes every
    # character 4 bytes), and each `+` of it would copy it into fresh memory again
    return "\n".join(lines)


def stylesheet(report: Report) -> str:
    """`report.css` with this report's running header (scope and generation time)."""
    css = resources.files("toolkit.report").joinpath("report.css").read_text(encoding="utf-8")
    header = (
        "@page { @top-left { content: "
        f"{css_string('Slido compliance report · ' + report.scope)}; "
        "font: 8pt system-ui, sans-serif; color: #555; }\n"
        f"  @top-right {{ content: {css_string('Generated at ' + report.generated_at)}; "
        "font: 8pt system-ui, sans-serif; color: #555; } }\n"
    )
    return css + header


def css_string(text: str) -> str:
    """Text as a quoted CSS string: anything but letters, digits and plain marks escaped."""
    safe = (c if c.isalnum() or c in " -_.:,·()" else f"\\{ord(c):x} " for c in text)
    return '"' + "".join(safe) + '"'


def _cover(report: Report) -> list[str]:
    scope = f'Session <span class="id">{html_text(report.scope)}</span>'
    parts = [
        '<header class="cover" id="glance">',
        f"<h1>{html_text(report.title.split(':')[0])}</h1>",
        f'<p class="scope">{scope if report.glance else html_text(report.scope)}</p>',
        f'<p class="meta">Generated at {html_text(report.generated_at)}.</p>',
    ]
    parts += [f'<div class="notice" role="alert">{html_text(n)}</div>' for n in report.notices]
    overview = next((s for s in report.sections if s.key == "overview"), None)
    if report.glance is not None and overview is not None:
        parts += _glance(report.glance, overview)
        parts += ["<h2>Headline figures</h2>", *_figures(overview.facts[2:])]
        if report.chart is not None and report.chart.buckets:
            parts += _html_chart(report.chart)
    return [*parts, "</header>"]


def _glance(glance: Glance, overview: Section) -> list[str]:
    where = [*glance.meeting, *overview.facts[:2]]
    state, mood = ("Settled", "ok") if glance.settled else ("Not settled", "warn")
    digest = f'<span class="id">{html_text(glance.digest)}</span>'
    return [
        '<div class="glance">',
        '<div class="card meeting"><h2>Meeting</h2>',
        *_pairs(where),
        "</div>",
        f'<div class="card verdict {mood}"><h2>Completeness</h2>',
        f'<p class="state">{state}</p>',
        f"<p>{html_text(glance.verdict)}</p>",
        f"<p>{html_text(glance.syncs)}</p>",
        f"<p>Event digest (SHA-256): {digest}</p>",
        "</div>",
        "</div>",
    ]


def _pairs(facts: Sequence[Fact]) -> list[str]:
    rows = "".join(
        f"<dt>{html_text(f.label)}</dt><dd{_id_class(f)}>{html_text(f.value)}</dd>" for f in facts
    )
    return [f'<dl class="pairs">{rows}</dl>']


def _id_class(fact: Fact) -> str:
    return ' class="id"' if fact.label in ("Session", "Organisation") else ""


def _figures(facts: Sequence[Fact]) -> list[str]:
    cells = []
    for fact in facts:
        opening = '<div class="long">' if len(html_text(fact.value)) > _LONG_FACT else "<div>"
        cells.append(
            f"{opening}<dt>{html_text(fact.label)}</dt><dd>{_time_breaks(fact.value)}</dd></div>"
        )
    return [f'<dl class="figures">{"".join(cells)}</dl>']


def _time_breaks(value: Value) -> str:
    """Escaped text; an ISO time may break between its date and its time of day."""
    return _breakable(html_text(value))


def _breakable(text: str) -> str:
    """Escaped text as it is, but an ISO time as its date and time of day, each unbroken."""
    if _ISO_TIME.match(text) is None:  # (escaped text has no line break for `$` to pass)
        return text
    return f'<span class="nw">{text[:11]}</span><wbr><span class="nw">{text[11:]}</span>'


def _html_section(section: Section, report: Report) -> list[str]:
    parts = [f'<section id="{escape(section.key)}">', f"<h2>{html_text(section.title)}</h2>"]
    if section.text:
        parts.append(f"<p>{html_text(section.text)}</p>")
    on_cover = report.glance is not None and section.key == "overview"
    if section.facts and not on_cover:
        parts += _figures(section.facts)
    chart = report.chart if section.key == "activity" and report.glance is None else None
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
        '<figure class="chart">',
        f"<figcaption>{html_text(chart.title)}</figcaption>",
        timeline_svg(chart),
        f'<p class="legend">{legend}</p>',
        "</figure>",
    ]


def _html_table(table: Table) -> list[str]:
    parts = [f"<h3>{html_text(table.title)}</h3>"]
    if table.note:
        parts.append(f'<p class="note">{html_text(table.note)}</p>')
    if not table.rows:
        return [*parts, "<p>None.</p>"]
    shown = [i for i in range(len(table.columns)) if table.kind(i) != "id"]
    ids = [i for i in range(len(table.columns)) if table.kind(i) == "id"]
    if not shown:  # nothing but ids: they are the table
        shown, ids = ids, []
    return [
        *parts,
        f'<div class="wide"><table class="{escape(table.key.split(":")[0])}">',
        _head(table, shown, ids),
        *_row_groups(table, shown, ids),
        "</table></div>",
    ]


def _head(table: Table, shown: list[int], ids: list[int]) -> str:
    texts = sum(table.kind(i) == "text" for i in shown)
    share = f" x{min(texts, 3)}" if texts else ""  # the texts' share of the width (CSS)
    cells = "".join(
        f'<th class="{_CELL_CLASS[table.kind(i)]}{share if table.kind(i) == "text" else ""}">'
        f"{html_text(table.columns[i])}</th>"
        for i in shown
    )
    head = f"<thead><tr>{cells}</tr>"
    if ids:
        names = " · ".join(html_text(table.columns[i]) for i in ids)
        head += f'<tr class="idhead"><th colspan="{len(shown)}">Under each row: {names}</th></tr>'
    return head + "</thead>"


def _row_groups(table: Table, shown: list[int], ids: list[int]) -> list[str]:
    """Each row as a `<tbody>`: its shown cells, then its ids on a line of their own.

    Built a column at a time (a large session's report has some 90,000 cells): each
    column's cells at once, then joined row by row.
    """
    columns = list(zip(*table.rows, strict=True))
    mains = zip(*(_cells(columns[i], table.kind(i)) for i in shown), strict=True)
    if not ids:
        return [f'<tbody class="r"><tr class="main">{"".join(c)}</tr></tbody>' for c in mains]
    hrefs = [table.hrefs[r] if r < len(table.hrefs) else None for r in range(len(table.rows))]
    labelled = [
        _id_parts(table.columns[i], columns[i], hrefs if n == 0 else None)
        for n, i in enumerate(ids)
    ]
    opening = f'<tr class="ids"><td colspan="{len(shown)}">'
    return [
        f'<tbody class="r"><tr class="main">{"".join(c)}</tr>{opening}{"".join(i)}</td></tr>'
        "</tbody>"
        for c, i in zip(mains, zip(*labelled, strict=True), strict=True)
    ]


def _id_parts(label: str, values: Sequence[Value], hrefs: list[str | None] | None) -> list[str]:
    """One id column's labelled values; the first id column links where a row has a link."""
    opening = f'<span class="v"><span class="l">{html_text(label)}</span><span class="id">'
    texts = html_texts(values)
    if hrefs is not None:
        texts = [
            f'<a href="{escape(href, quote=True)}">{text}</a>' if href else text
            for text, href in zip(texts, hrefs, strict=True)
        ]
    return [f"{opening}{text}</span></span>" for text in texts]


def _cells(values: Sequence[Value], kind: str) -> list[str]:
    """One column's table cells: a time may break after its date, a long word anywhere."""
    css, texts = _CELL_CLASS[kind], html_texts(values)
    if kind == "time":
        return [f'<td class="{css}">{_breakable(t)}</td>' for t in texts]
    if css:
        return [f'<td class="{css}">{t}</td>' for t in texts]
    long_word = _LONG_WORD.search
    return [f'<td class="b">{t}</td>' if long_word(t) else f"<td>{t}</td>" for t in texts]
