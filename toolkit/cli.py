"""The `slido-compliance` command: each command parses its options and calls one function."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import duckdb

from toolkit import commands, config, progress
from toolkit.errors import EXIT_USAGE, ToolkitError
from toolkit.ingest.sync import exit_code

F = Callable[..., Any]


def db_option(fn: F) -> F:
    """--db PATH, defaulting to SLIDO_DB or data/compliance.duckdb."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="DuckDB file (default: $SLIDO_DB or data/compliance.duckdb).",
    )(fn)


def out_option(fn: F) -> F:
    """--out FILE: write there instead of standard output."""
    return click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write to this file instead of standard output.",
    )(fn)


def wait_option(fn: F) -> F:
    """--wait SECONDS for a database held by another process."""
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="Seconds to wait while another process holds the database.",
    )(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="slido-compliance-toolkit")
def cli() -> None:
    """Keep and audit the record of Slido activity in Webex meetings.

    \b
    Example: slido-compliance demo
    """


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
    bar = progress.SyncBar()
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
        )
    finally:
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
    _emit(commands.run_sql(db_path, text, fmt, out), out)


@cli.command()
@click.option("--session", "session_id", help="Session id (default: an index of all).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json"]),
    default=None,
    help="Report format (default: md, or from --out's suffix).",
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
    """
    _emit(commands.run_report(db_path, session_id, fmt, out, reveal_anonymous), out)


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the dataset into.",
)
@click.option("--sessions", type=click.IntRange(1, 100_000), default=3, show_default=True)
@click.option(
    "--events",
    type=click.IntRange(1),
    default=3000,
    show_default=True,
    help="Events in all, over all sessions.",
)
@click.option("--seed", type=int, default=7, show_default=True)
def sample(out: Path, sessions: int, events: int, seed: int) -> None:
    """Write a realistic synthetic dataset (deterministic for a seed).

    \b
    Example: slido-compliance sample --out /tmp/sample --sessions 4 --events 100000
    """
    from toolkit.sample.generate import write_sample

    with progress.counter("events", events) as tick:
        info = write_sample(out, sessions=sessions, events=events, seed=seed, progress=tick)
    click.echo(f"wrote {info.events} events in {len(info.sessions)} sessions to {info.out_dir}")


def fault_flags(fn: F) -> F:
    """One flag per `Faults` field of the sandbox (page shape and faults)."""
    from dataclasses import fields

    from toolkit.sandbox.faults import Faults, flag

    for field in reversed(fields(Faults)):
        name, default, help_text = flag(field.name), field.default, field.metadata["help"]
        if isinstance(default, bool):
            option = click.option(f"--{name}", field.name, is_flag=True, help=help_text)
        elif isinstance(default, tuple):
            option = click.option(
                f"--{name}",
                field.name,
                default=",".join(map(str, default)),
                show_default=True,
                help=help_text + " (comma-separated)",
            )
        else:
            kind = {int: int, float: float}.get(type(default), str)
            option = click.option(
                f"--{name}",
                field.name,
                type=kind,
                default=default,
                show_default=True,
                help=help_text,
            )
        fn = option(fn)
    return fn


@cli.command()
@click.option(
    "--dataset",
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset folder (default: the bundled data/sample).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="A loopback address.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port (0 picks a free one).",
)
@click.option(
    "--token",
    "server_token",
    envvar=config.TOKEN_ENV,
    help="Token clients must send (default: $WEBEX_ACCESS_TOKEN or sandbox-token).",
)
@fault_flags
def sandbox(
    dataset: Path | None, host: str, port: int, server_token: str | None, **faults: Any
) -> None:
    """Serve a dataset over HTTP on loopback with the upstream API's contract and faults.

    \b
    Example: slido-compliance sandbox --port 8765 --error-rate 0.1 --rate-limit-every 5
    """
    from toolkit.sandbox.faults import make_faults
    from toolkit.sandbox.server import DEFAULT_TOKEN, serve

    def ready(url: str) -> None:
        click.echo(f"sandbox serving {dataset or 'data/sample'} at {url} (Ctrl-C stops)")

    serve(
        dataset or _default_dataset(),
        host,
        port,
        server_token or DEFAULT_TOKEN,
        make_faults(faults),
        on_ready=ready,
    )


@cli.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("data/demo.duckdb"),
    show_default=True,
    help="Database to create afresh (only this file is replaced).",
)
@click.option(
    "--reports",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data/reports"),
    show_default=True,
    help="Folder for the reports.",
)
def demo(db_path: Path, reports: Path) -> None:
    """Sample, sandbox, sync and report, end to end, on a fresh database; no account needed.

    \b
    Example: slido-compliance demo
    """
    from toolkit.demo import describe_demo, run_demo

    bar = progress.SyncBar()
    try:
        result = run_demo(db_path, reports, on_progress=bar)
    finally:
        bar.close()
    click.echo(describe_demo(result))
    sys.exit(exit_code(result.results))


def _default_dataset() -> Path:
    from toolkit.sample.generate import default_dataset

    return default_dataset()


def _emit(payload: bytes | str | None, out: Path | None) -> None:
    """Write a command's data to standard output, or say where it went."""
    if out is not None:
        click.echo(f"wrote {out}", err=True)
        return
    if isinstance(payload, bytes):
        sys.stdout.buffer.write(payload)
    elif payload is not None:
        click.echo(payload, nl=not payload.endswith("\n"))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command; a ToolkitError becomes 'Error: ...' and its exit status."""
    try:
        cli.main(args=argv, prog_name="slido-compliance", standalone_mode=False)
    except ToolkitError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else EXIT_USAGE)
    except (KeyboardInterrupt, duckdb.InterruptException):  # DuckDB's own Ctrl-C
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:
        # a Ctrl-C that DuckDB turned into another error while cleaning up is still one
        if not _caused_by_interrupt(exc):
            raise
        click.echo("Interrupted.", err=True)
        sys.exit(130)


def _caused_by_interrupt(exc: BaseException | None) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt | duckdb.InterruptException):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
