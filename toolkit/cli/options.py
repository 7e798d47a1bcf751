"""Options and output shared by the commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

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


def emit(payload: bytes | str | None, out: Path | None) -> None:
    """Write a command's data to standard output, or say where it went."""
    if out is not None:
        click.echo(f"wrote {out}", err=True)
        return
    if isinstance(payload, bytes):
        sys.stdout.buffer.write(payload)
    elif payload is not None:
        click.echo(payload, nl=not payload.endswith("\n"))


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
