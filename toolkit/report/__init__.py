"""Report: the audit summary of a session, or of all of them.

`build` reads the record through `toolkit.analysis` into the dataclasses of
`model` (assembled by `sections`); `render` writes them as Markdown, self-contained
HTML (with the inline SVG of `charts`) or JSON. It imports `toolkit.analysis` and
below, never ingest or the commands.
"""

from toolkit.report.build import (
    build_report,
    render_html,
    render_json,
    render_markdown,
    write_report,
)

__all__ = ["build_report", "render_html", "render_json", "render_markdown", "write_report"]
