"""The activity chart as inline SVG, written by hand: no scripts, fonts or external files.

Every label is escaped, since event types come from the API as given.
"""

from __future__ import annotations

from html import escape

from toolkit.report.model import Chart

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 40


def series_colour(index: int) -> str:
    """The colour of the index-th series (cycling through the palette)."""
    return PALETTE[index % len(PALETTE)]


def timeline_svg(chart: Chart) -> str:
    """Stacked bars of events per bucket and type, as one `<svg>` element."""
    totals = chart.totals()
    peak = max(max(totals, default=0), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(chart.buckets), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(chart.title)}">',
        f"<title>{escape(chart.title)}</title>",
        *_axes(peak, plot_w, plot_h),
        *_bars(chart, peak, step, plot_h),
        *_labels(chart, step, plot_h),
        "</svg>",
    ]
    return "\n".join(parts)


def _axes(peak: int, plot_w: float, plot_h: float) -> list[str]:
    lines = []
    for value in sorted({0, peak // 2, peak}):
        y = TOP + plot_h - plot_h * value / peak
        lines.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w:.1f}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        lines.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#333">{value}</text>'
        )
    return lines


def _bars(chart: Chart, peak: int, step: float, plot_h: float) -> list[str]:
    rects = []
    for i, bucket in enumerate(chart.buckets):
        base = TOP + plot_h
        for index, (name, counts) in enumerate(chart.series):
            if not counts[i]:
                continue
            height = plot_h * counts[i] / peak
            base -= height
            tip = escape(f"{bucket} {name}: {counts[i]}")
            rects.append(
                f'<rect x="{LEFT + i * step + 1:.1f}" y="{base:.1f}" '
                f'width="{max(step - 2, 1):.1f}" height="{height:.1f}" '
                f'fill="{series_colour(index)}"><title>{tip}</title></rect>'
            )
    return rects


def _labels(chart: Chart, step: float, plot_h: float) -> list[str]:
    count = len(chart.buckets)
    every = max(count // 8, 1)
    texts = []
    for i in range(0, count, every):
        label = _short(chart.buckets[i], chart.every)
        x = LEFT + i * step + step / 2
        texts.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 16:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#333">{escape(label)}</text>'
        )
    return texts


def _short(bucket: str, every: str) -> str:
    """An ISO bucket start as a short axis label: the time, or the date for wide buckets."""
    return bucket[:10] if every.endswith("d") else bucket[11:16]
