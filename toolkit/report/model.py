"""The report as plain data: sections of labelled figures and tables, and a timeline chart.

Every value in a report is already plain JSON (text, number, boolean or null;
times as ISO 8601 text in UTC), so the Markdown, HTML and JSON renderings show
the same content, value for value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import polars as pl

Value = str | int | float | bool | None


@dataclass(frozen=True)
class Table:
    """A titled table: column headers and rows of plain values."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]
    note: str = ""
    kinds: tuple[str, ...] = ()
    hrefs: tuple[str | None, ...] = ()

    def kind(self, index: int) -> str:
        """What the index-th column holds: id, text, time, number, or plain (the default).

        The HTML gives participant texts the room and sets ids small on a line of
        their own; the other renderings ignore it.
        """
        return self.kinds[index] if index < len(self.kinds) else "plain"


@dataclass(frozen=True)
class Fact:
    """One labelled headline figure."""

    label: str
    value: Value


@dataclass(frozen=True)
class Section:
    """A part of the report: an introduction, headline figures and tables."""

    key: str
    title: str
    text: str = ""
    facts: tuple[Fact, ...] = ()
    tables: tuple[Table, ...] = ()


@dataclass(frozen=True)
class Chart:
    """Events per time bucket and event type, every bucket of the span included."""

    title: str
    every: str
    buckets: tuple[str, ...]
    series: tuple[tuple[str, tuple[int, ...]], ...]

    def totals(self) -> tuple[int, ...]:
        """Events per bucket, all types together."""
        return tuple(sum(counts[i] for _, counts in self.series) for i in range(len(self.buckets)))


@dataclass(frozen=True)
class Glance:
    """What the first page answers: which meeting, and whether the record is complete."""

    meeting: tuple[Fact, ...]
    settled: bool
    verdict: str
    syncs: str
    digest: str | None


@dataclass(frozen=True)
class Report:
    """The audit summary of one session (or an index of all), ready to render.

    `notices` are shown prominently at the top: that anonymous posters are
    revealed, that the record may still be incomplete, what could not be stored.
    """

    title: str
    scope: str
    generated_at: str
    reveal_anonymous: bool
    notices: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    chart: Chart | None = None
    meta: Mapping[str, Value] = field(default_factory=dict)
    glance: Glance | None = None

    def section(self, key: str) -> Section:
        """The section with this key."""
        return next(s for s in self.sections if s.key == key)


def plain(value: Any) -> Value:
    """A value as plain JSON: times as ISO 8601 UTC text ending in Z, decimals as floats."""
    kind = type(value)
    if kind is str or value is None or kind is int or kind is bool or kind is float:
        return value  # most cells: checked first (a large report has 200,000)
    if isinstance(value, datetime):
        moment = value.astimezone(timezone.utc) if value.tzinfo else value
        return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# The columns holding what participants wrote (or chose): they get the room in the HTML.
TEXT_COLUMNS = frozenset(
    {
        "text",
        "question_text",
        "title",
        "poll_title",
        "question_title",
        "option_title",
        "answer_text",
        "chosen_options",
    }
)
ID_COLUMNS = frozenset({"raw_sha256", "event_digest"})


def column_kind(name: str, dtype: pl.DataType) -> str:
    """The kind of a source column, from its name and type (see `Table.kind`)."""
    if name in TEXT_COLUMNS:
        return "text"
    if dtype.is_numeric():
        return "number"
    if name in ID_COLUMNS or name.endswith("_id"):
        return "id"
    return "time" if name.endswith("_at") else "plain"


def table_from_frame(
    key: str, title: str, df: pl.DataFrame, columns: Mapping[str, str], note: str = ""
) -> Table:
    """A table of the frame's `columns` (source name -> header), in frame order."""
    names = [name for name in columns if name in df.columns]
    values = [plain_column(df.get_column(name)) for name in names]
    rows = tuple(zip(*values, strict=True)) if names else ()
    kinds = tuple(column_kind(name, df.schema[name]) for name in names)
    return Table(key, title, tuple(columns[name] for name in names), rows, note, kinds)


def plain_column(series: pl.Series) -> list[Value]:
    """A column's values made plain (`plain`), whole columns at a time where the type allows.

    A large session's tables hold some 150,000 cells: making each plain in Python took
    a fifth of its report. Text, numbers and booleans come out of polars plain already;
    times are written by polars in `plain`'s form (ISO 8601 in UTC to the second, then
    Z); anything else goes value by value.
    """
    dtype = series.dtype
    if dtype == pl.String or dtype == pl.Boolean or dtype.is_integer() or dtype.is_float():
        return series.to_list()
    if isinstance(dtype, pl.Datetime):
        utc = series.dt.convert_time_zone("UTC") if dtype.time_zone else series
        return utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_list()
    return [plain(v) for v in series.to_list()]


def facts(pairs: Sequence[tuple[str, Any]]) -> tuple[Fact, ...]:
    """Facts from (label, value) pairs, values made plain."""
    return tuple(Fact(label, plain(value)) for label, value in pairs)


def duration_text(seconds: int | None) -> str | None:
    """A duration as "1 h 5 min 3 s" (None stays None)."""
    if seconds is None:
        return None
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if hours or minutes:
        parts.append(f"{minutes} min")
    parts.append(f"{secs} s")
    return " ".join(parts)


def report_dict(report: Report) -> dict[str, Any]:
    """The report as a JSON-ready dict: the same content the Markdown shows."""
    return {
        "format": "slido-compliance-report",
        "format_version": 1,
        "title": report.title,
        "scope": report.scope,
        "generated_at": report.generated_at,
        "reveal_anonymous": report.reveal_anonymous,
        "notices": list(report.notices),
        "meta": dict(report.meta),
        "sections": [_section_dict(s) for s in report.sections],
        "chart": _chart_dict(report.chart) if report.chart else None,
        "glance": _glance_dict(report.glance) if report.glance else None,
    }


def _glance_dict(glance: Glance) -> dict[str, Any]:
    return {
        "meeting": [{"label": f.label, "value": f.value} for f in glance.meeting],
        "settled": glance.settled,
        "verdict": glance.verdict,
        "syncs": glance.syncs,
        "event_digest": glance.digest,
    }


def _section_dict(section: Section) -> dict[str, Any]:
    return {
        "key": section.key,
        "title": section.title,
        "text": section.text,
        "facts": [{"label": f.label, "value": f.value} for f in section.facts],
        "tables": [
            {
                "key": t.key,
                "title": t.title,
                "note": t.note,
                "columns": list(t.columns),
                "rows": [list(r) for r in t.rows],
            }
            for t in section.tables
        ],
    }


def _chart_dict(chart: Chart) -> dict[str, Any]:
    return {
        "title": chart.title,
        "every": chart.every,
        "buckets": list(chart.buckets),
        "series": [{"event_type": name, "counts": list(counts)} for name, counts in chart.series],
        "totals": list(chart.totals()),
    }
