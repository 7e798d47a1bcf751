"""The README stays honest: every command is documented and has help."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from toolkit.cli import cli
from toolkit.errors import EXIT_API, EXIT_AUTH, EXIT_LOCKED, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme_table_and_has_help():
    runner = CliRunner()
    for name in cli.commands:
        assert f"| `{name}" in README, f"{name} is missing from the README's command table"
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output


def test_readme_lists_every_exit_status():
    for code in (0, EXIT_USAGE, EXIT_AUTH, EXIT_API, EXIT_LOCKED):
        assert re.search(rf"^\| {code} \|", README, re.M), code


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    assert "$ make demo" in README and "$ make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_names_every_view_the_package_creates(tmp_path):
    from toolkit.store import database as db

    con = db.connect(tmp_path / "x.duckdb")
    views = [
        r[0]
        for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"
        ).fetchall()
    ]
    public = [v for v in views if not v.startswith("_")]
    missing = [v for v in public if f"`{v}`" not in README]
    assert not missing, f"views not in README: {missing}"
