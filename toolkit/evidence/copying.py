"""Run one long COPY while reporting how far DuckDB has got, for the progress bar."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import duckdb

POLL_SECONDS = 0.25


def copy_with_progress(
    con: duckdb.DuckDBPyConnection,
    statement: str,
    params: dict[str, Any],
    on_fraction: Callable[[float], None],
) -> None:
    """Execute `statement`, calling `on_fraction(0..1)` from a watcher thread meanwhile.

    DuckDB tracks a running query's progress when its progress bar is enabled;
    printing the bar is turned off (the toolkit draws its own on standard error).
    """
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    done = threading.Event()

    def watch() -> None:
        while not done.wait(POLL_SECONDS):
            percent = con.query_progress()
            if percent > 0:
                on_fraction(min(percent, 100.0) / 100.0)

    watcher = threading.Thread(target=watch, name="export-progress", daemon=True)
    watcher.start()
    try:
        con.execute(statement, params)
    finally:
        done.set()
        watcher.join()
