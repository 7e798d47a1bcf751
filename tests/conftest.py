"""Shared fixtures: a sample dataset, sandboxes on a free loopback port, a database path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from toolkit.sample.generate import SampleInfo, write_sample
from toolkit.sandbox.server import Faults, Sandbox
from toolkit.store import database as db

SANDBOX_TOKEN = "sandbox-token"


@pytest.fixture(scope="session")
def sample_dataset(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    """A dataset of 3 sessions and 3000 events, seed 7, written once per test run."""
    return write_sample(tmp_path_factory.mktemp("sample"), sessions=3, events=3000, seed=7)


@pytest.fixture
def sandbox_factory(sample_dataset: SampleInfo) -> Iterator[Callable[..., Sandbox]]:
    """A function starting a sandbox on 127.0.0.1, port 0; every one is stopped after the test.

    Call it as `sandbox_factory(dataset_dir=None, token=..., **fault_options)`: the
    dataset defaults to `sample_dataset`, the token to "sandbox-token", and the keyword
    arguments are `toolkit.sandbox.Faults` fields.
    """
    started: list[Sandbox] = []

    def start(
        dataset_dir: str | Path | None = None, token: str = SANDBOX_TOKEN, **fault_options: Any
    ) -> Sandbox:
        box = Sandbox(
            dataset_dir or sample_dataset.out_dir, token=token, faults=Faults(**fault_options)
        )
        box.start()
        started.append(box)
        return box

    yield start
    for box in started:
        box.stop()


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    """A path for a fresh DuckDB file in the test's temporary directory."""
    return tmp_path / "compliance.duckdb"


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh compliance database in the test's temporary directory, open for writing
    (a module may define its own `con`, which then takes this one's place)."""
    connection = db.connect(tmp_path / "x.duckdb")
    yield connection
    connection.close()
