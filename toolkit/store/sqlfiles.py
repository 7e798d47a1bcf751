"""The package's SQL text: the schema's files (`sql/`, applied in name order) and the
typed storage's fill statements (`fill/`). Read here only, by every store module that
applies or digests them."""

from __future__ import annotations

from importlib import resources


def sql_files() -> list[tuple[str, str]]:
    """The package's SQL files as (name, text), in the order they are applied."""
    folder = resources.files("toolkit.store") / "sql"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


def fill_files(names: tuple[str, ...]) -> dict[str, str]:
    """The text of `fill/<name>.sql` for each name."""
    folder = resources.files("toolkit.store") / "fill"
    return {name: (folder / f"{name}.sql").read_text(encoding="utf-8") for name in names}
