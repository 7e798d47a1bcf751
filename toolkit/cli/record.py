"""Commands that keep the record: sync and status."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from toolkit import commands, config, progress
from toolkit.cli.main import cli
from toolkit.cli.options import db_option, wait_option
from toolkit.ingest.sync import exit_code


@cli.command()
@click.option("--org", help="Webex org id (UUID, or the base64 id other Webex APIs return).")
@click.option("--session", "sessions", multiple=True, help="Meeting instance id; repeatable.")
@click.option(
    "--sessions-file",
    type=click.Path(exists=True, dir_okay=False),
    help="File of 'org,session' lines (or session ids with --org).",
)
@db_option
@click.option("--base-url", help="API base URL (default: $WEBEX_API_BASE or webexapis.com).")
@click.option("--gov", is_flag=True, help="Use the Webex for Government API base.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    help="Read the token from this file instead of $WEBEX_ACCESS_TOKEN.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Most sessions fetched at once; fewer while answers arrive faster than they "
    "are processed (a local sandbox), when more would only contend for the CPU.",
)
@click.option(
    "--max-wait",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Longest Retry-After (seconds) to honour before giving up.",
)
@click.option(
    "--recheck",
    is_flag=True,
    help="Decode and check every page, even those whose exact body was stored before "
    "(restores events removed from the file since).",
)
@wait_option
def sync(
    org: str | None,
    sessions: tuple[str, ...],
    sessions_file: str | None,
    db_path: Path | None,
    base_url: str | None,
    gov: bool,
    token_file: str | None,
    concurrency: int,
    max_wait: float,
    recheck: bool,
    wait: float,
) -> None:
    """Page every listed session into the database, appending only new events.

    \b
    Example: slido-compliance sync --org ORG --session SID
    """
    refs = config.session_refs(org, sessions, sessions_file)
    bar, rebuilding = progress.SyncBar(), progress.RebuildBar()
    try:
        results = commands.run_sync(
            db_path,
            refs,
            config.base_url(base_url, gov),
            config.load_token(token_file),
            concurrency,
            max_wait,
            wait,
            bar,
            recheck,
            rebuilding,
        )
    finally:
        rebuilding.close()
        bar.close()
    click.echo(commands.describe_results(results))
    sys.exit(exit_code(results))


@cli.command()
@db_option
@wait_option
def status(db_path: Path | None, wait: float) -> None:
    """Per session: events stored, last sync, outcome, and whether the data is settled.

    \b
    Example: slido-compliance status --db data/compliance.duckdb
    """
    click.echo(commands.run_status(db_path, wait))


@cli.command()
@db_option
@wait_option
def rebuild(db_path: Path | None, wait: float) -> None:
    """Recompute the typed storage from the stored events alone (events are not touched).

    \b
    Example: slido-compliance rebuild --db data/compliance.duckdb
    """
    bar = progress.RebuildBar()
    try:
        click.echo(commands.run_rebuild(db_path, wait, bar))
    finally:
        bar.close()
