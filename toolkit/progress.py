"""Progress on standard error for long work; silent when standard error is not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

from toolkit.ingest.sync import SyncResult


def _enabled() -> bool:
    return sys.stderr.isatty()


@contextmanager
def counter(unit: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A bar fed with a running total; yields `tick(done_so_far)`."""
    bar = tqdm(
        total=total,
        unit=f" {unit}",
        unit_scale=True,
        disable=not _enabled(),
        file=sys.stderr,
        leave=False,
    )
    seen = 0

    def tick(done: int) -> None:
        nonlocal seen
        bar.update(done - seen)
        seen = done

    try:
        yield tick
    finally:
        bar.close()


class SyncBar:
    """One line per running sync: pages and events received so far, across sessions."""

    def __init__(self) -> None:
        self._bar = tqdm(
            unit=" events", unit_scale=True, disable=not _enabled(), file=sys.stderr, leave=False
        )
        self._seen: dict[int, int] = {}

    def __call__(self, result: SyncResult) -> None:
        before = self._seen.get(result.sync_id, 0)
        self._seen[result.sync_id] = result.received
        self._bar.update(result.received - before)
        self._bar.set_postfix_str(f"{sum(1 for _ in self._seen)} sessions", refresh=False)

    def close(self) -> None:
        """Remove the bar."""
        self._bar.close()


class CountBar:
    """A bar fed with (done, total[, stage]) by long work whose total is known once it starts.

    The bar appears at the first call, so work that may not happen (an upgrade's
    rebuild, which most opens skip) shows nothing when it does not.

    Args:
        unit: what is counted, e.g. "events".
        stage: the first description, until a call names another.
    """

    def __init__(self, unit: str, stage: str = "") -> None:
        self._unit, self._stage = unit, stage
        self._bar: tqdm | None = None

    def __call__(self, done: int, total: int, stage: str = "") -> None:
        if self._bar is None:
            self._bar = tqdm(
                unit=f" {self._unit}",
                unit_scale=True,
                desc=stage or self._stage or None,
                disable=not _enabled(),
                file=sys.stderr,
                leave=False,
            )
        elif stage and stage != self._stage:  # the next pass: counted again from 0
            self._bar.set_description_str(stage, refresh=False)
            self._bar.reset(total)
        if stage:
            self._stage = stage
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """Remove the bar, if one was shown."""
        if self._bar is not None:
            self._bar.close()


def rebuild_bar() -> CountBar:
    """Events read by each pass of an upgrade or rebuild, named by `store.rebuild.staged`."""
    return CountBar("events")
