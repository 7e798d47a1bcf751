"""The report as PDF: its HTML printed by a headless Chromium or Chrome found on the machine.

The print stylesheet of the HTML does the layout (page size, running header, page
numbers, header rows repeated, rows kept whole), so the PDF is what printing the
HTML from a browser gives. The PDF's Creator names the browser that printed it.
"""

from __future__ import annotations

import base64
import io
import tempfile
from pathlib import Path
from typing import Any

from pypdf import PdfReader, PdfWriter

from toolkit import __version__
from toolkit.report.browser import Browser, BrowserError, find_browser

PRINT_OPTIONS = {
    "printBackground": True,
    "preferCSSPageSize": True,  # the stylesheet's @page sizes, landscape pages included
    "displayHeaderFooter": False,  # the stylesheet's own margin boxes give header and numbers
    "generateDocumentOutline": True,
}


def print_pdf(html: str, target: Path, title: str = "") -> Path:
    """Print `html` to the PDF file `target` with the browser `find_browser()` finds.

    Raises:
        UsageError: no browser found (exit 2), saying what to install.
        BrowserError: the browser failed (exit 2).

    Example:
        >>> print_pdf(render_html(report), Path("audit.pdf"))  # doctest: +SKIP
    """
    executable = find_browser()
    with tempfile.TemporaryDirectory(prefix="slido-report-") as folder:
        page = Path(folder) / "report.html"
        page.write_text(html, encoding="utf-8")
        with Browser(executable) as browser:
            browser.open(page)
            product = browser.version()
            printed = browser.call("Page.printToPDF", PRINT_OPTIONS)
    data = base64.b64decode(printed.get("data", ""))
    if not data.startswith(b"%PDF"):
        raise BrowserError(f"the browser {executable} did not return a PDF")
    creator = f"{product} ({executable}), printing slido-compliance-toolkit {__version__}"
    target.write_bytes(_with_metadata(data, title, creator))
    return target


def _with_metadata(data: bytes, title: str, creator: str) -> bytes:
    """The PDF with Creator (which browser printed it) and Title set, pages untouched."""
    reader = PdfReader(io.BytesIO(data))
    writer = PdfWriter(clone_from=reader)
    old: dict[str, Any] = dict(reader.metadata or {})
    writer.add_metadata(
        {
            "/Title": title or str(old.get("/Title", "")),
            "/Creator": creator,
            "/Producer": f"{old.get('/Producer', 'Skia/PDF')}; metadata by pypdf",
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
