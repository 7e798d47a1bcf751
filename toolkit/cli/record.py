"""Commands that keep the record: sync, discover, update and status."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from toolkit import commands, config, progress
from toolkit.cli.main import cli
from toolkit.cli.options import F, db_option, wait_option
from toolkit.config import Secret
from toolkit.ingest import tokens
from toolkit.ingest.auth import short_token_warning
from toolkit.ingest.discovery import parse_date
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
    base = config.base_url(base_url, gov)
    token = tokens.load_token_source(base, token_file)
    _warn_if_short(token, base)
    refs = config.session_refs(org, sessions, sessions_file)
    bar, rebuilding = progress.SyncBar(), progress.rebuild_bar()
    try:
        results = commands.run_sync(
            db_path,
            refs,
            base,
            token,
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


def _warn_if_short(token: object, base: str) -> None:
    """Warn of a fixed token too short to be real (a renewed one is the API's own)."""
    if isinstance(token, Secret) and (warning := short_token_warning(token, base)):
        click.echo(f"Warning: {warning}", err=True)


def _connection(
    base_url: str | None, gov: bool, token_file: str | None, max_wait: float
) -> commands.Connection:
    base = config.base_url(base_url, gov)
    token = tokens.load_token_source(base, token_file)
    _warn_if_short(token, base)
    return commands.Connection(base, token, tokens.discovery_token(token), max_wait)


def _api_options(fn: F) -> F:
    """--base-url, --gov, --token-file and --max-wait, as sync has them."""
    for option in reversed(
        [
            click.option(
                "--base-url", help="API base URL (default: $WEBEX_API_BASE or webexapis.com)."
            ),
            click.option("--gov", is_flag=True, help="Use the Webex for Government API base."),
            click.option(
                "--token-file",
                type=click.Path(dir_okay=False),
                help="Token file (a bare token, or JSON with a refresh token) instead of "
                "$WEBEX_ACCESS_TOKEN.",
            ),
            click.option(
                "--max-wait",
                type=click.FloatRange(min=0),
                default=300.0,
                show_default=True,
                help="Longest Retry-After (seconds) to honour before giving up.",
            ),
        ]
    ):
        fn = option(fn)
    return fn


@cli.command()
@click.option("--from", "start", help="Start of the period (date or ISO time, UTC).")
@click.option("--to", "end", help="End of the period (default: now, less 15 minutes).")
@click.option("--days", type=click.IntRange(min=1), help="The last N days (default 7).")
@click.option("--host", help="Only meetings hosted by this email (admin tokens).")
@click.option("--site", help="Only meetings of this Webex site, e.g. example.webex.com.")
@click.option("--org", help="Webex org id (default: the token's, from /people/me).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write 'org,session' lines for sync --sessions-file.",
)
@db_option
@_api_options
@wait_option
def discover(
    start: str | None,
    end: str | None,
    days: int | None,
    host: str | None,
    site: str | None,
    org: str | None,
    out: Path | None,
    db_path: Path | None,
    base_url: str | None,
    gov: bool,
    token_file: str | None,
    max_wait: float,
    wait: float,
) -> None:
    """List the ended meetings that had Slido and store them in the meetings table.

    \b
    Example: slido-compliance discover --days 30 --out sessions.csv
    """
    when = (
        parse_date(start, "--from") if start else None,
        parse_date(end, "--to") if end else None,
        days,
    )
    api = _connection(base_url, gov, token_file, max_wait)
    found, counts = commands.run_discover(db_path, api, when, (org, host, site), out, wait)
    click.echo(commands.describe_discovery(found, counts))
    if out is not None:
        click.echo(f"wrote {out}", err=True)


@cli.command()
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Discover the last N days.",
)
@click.option("--org", help="Webex org id (default: the token's, from /people/me).")
@db_option
@_api_options
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Most sessions fetched at once.",
)
@wait_option
def update(
    days: int,
    org: str | None,
    db_path: Path | None,
    base_url: str | None,
    gov: bool,
    token_file: str | None,
    max_wait: float,
    concurrency: int,
    wait: float,
) -> None:
    """Discover the last N days and sync what is new or not settled: the scheduled job.

    \b
    Example: slido-compliance update --days 7 --token-file ~/.config/slido/token.json
    """
    api = _connection(base_url, gov, token_file, max_wait)
    bar = progress.SyncBar()
    try:
        result = commands.run_update(db_path, api, days, org, concurrency, wait, bar)
    finally:
        bar.close()
    click.echo(commands.describe_update(result))
    sys.exit(exit_code(result.results))


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
    bar = progress.rebuild_bar()
    try:
        click.echo(commands.run_rebuild(db_path, wait, bar))
    finally:
        bar.close()
