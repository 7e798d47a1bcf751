"""The command group and the entry point that turns errors into exit statuses."""

from __future__ import annotations

import sys

import click
import duckdb

from toolkit.errors import EXIT_USAGE, ToolkitError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="slido-compliance-toolkit")
def cli() -> None:
    """Keep and audit the record of Slido activity in Webex meetings.

    \b
    Example: slido-compliance demo
    """


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
        # DuckDB reports a Ctrl-C met inside some statements (the schema's) as this
        if isinstance(exc, RuntimeError) and str(exc).startswith("Query interrupted"):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
