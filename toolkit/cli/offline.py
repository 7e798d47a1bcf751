"""Commands that run offline: the sample dataset, the sandbox and the demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from toolkit import config, progress
from toolkit.cli.main import cli
from toolkit.cli.options import fault_flags
from toolkit.ingest.sync import exit_code


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
    from toolkit.sandbox.oauth import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_REFRESH_TOKEN,
    )
    from toolkit.sandbox.server import DEFAULT_TOKEN, serve

    def ready(url: str) -> None:
        click.echo(f"sandbox serving {dataset or 'data/sample'} at {url} (Ctrl-C stops)")
        click.echo(
            f"  its integration for {url}/access_token: WEBEX_CLIENT_ID={DEFAULT_CLIENT_ID}, "
            f"WEBEX_CLIENT_SECRET={DEFAULT_CLIENT_SECRET}, first refresh token "
            f"{DEFAULT_REFRESH_TOKEN} (public test values)"
        )

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
    """Sample, sandbox, discover, sync and report, end to end, on a fresh database.

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
