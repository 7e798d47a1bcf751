"""Commands that read the record: ad hoc SQL and the audit report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from toolkit import commands
from toolkit.cli.main import cli
from toolkit.cli.options import db_option, emit, out_option


@cli.command()
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "parquet"]),
    default=None,
    help="Output format (default: table, or from --out's suffix).",
)
@out_option
@db_option
def sql(query: str, fmt: str | None, out: Path | None, db_path: Path | None) -> None:
    """Run ad hoc SQL on a read-only connection; QUERY '-' reads standard input, '@F' a file.

    \b
    Example: slido-compliance sql "SELECT event_type, count(*) FROM events GROUP BY 1"
    """
    text = sys.stdin.read() if query == "-" else query
    emit(commands.run_sql(db_path, text, fmt, out), out)


@cli.command()
@click.option("--session", "session_id", help="Session id (default: an index of all).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json", "pdf"]),
    default=None,
    help="Report format (default: md, or from --out's suffix); pdf needs --out and a "
    "Chromium or Chrome.",
)
@out_option
@db_option
@click.option(
    "--reveal-anonymous",
    is_flag=True,
    help="Show the real actor behind anonymous posts (the report says so).",
)
def report(
    session_id: str | None,
    fmt: str | None,
    out: Path | None,
    db_path: Path | None,
    reveal_anonymous: bool,
) -> None:
    """Write the audit summary of one session, or an index of all sessions.

    \b
    Example: slido-compliance report --session SID --format html --out report.html

    \b
    The PDF is the HTML printed by a headless Chromium or Chrome found on the
    machine ($CHROME, chromium, chromium-browser, google-chrome).
    """
    emit(commands.run_report(db_path, session_id, fmt, out, reveal_anonymous), out)
