"""Commands that hand the record over: export the evidence folder, verify one."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit import commands, progress
from toolkit.cli.main import cli
from toolkit.cli.options import db_option


@cli.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new or empty folder to write the export into.",
)
@click.option("--session", "sessions", multiple=True, help="Session id to export; repeatable.")
@db_option
def export(out: Path, sessions: tuple[str, ...], db_path: Path | None) -> None:
    """Write the evidence folder: events as Parquet, tables, reports, manifest.json.

    \b
    Example: slido-compliance export --out evidence/2026-03 --session SID
    """
    bar = progress.CountBar("events")
    try:
        click.echo(commands.run_export(db_path, out, sessions, bar))
    finally:
        bar.close()


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Also compare with this database: sessions, event counts, digests.",
)
def verify(folder: Path, db_path: Path | None) -> None:
    """Check an export offline against its manifest; exit 6 naming every mismatch.

    \b
    Example: slido-compliance verify evidence/2026-03
    """
    bar = progress.CountBar("events")
    try:
        verdict = commands.run_verify(folder, db_path, bar)
    finally:
        bar.close()
    click.echo(verdict)
