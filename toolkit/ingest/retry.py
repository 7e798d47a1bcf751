"""How hard the clients try: the retry policy, the shared wait gate, Retry-After values."""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TRANSIENT = frozenset(range(500, 600))  # every 5xx: the contract calls them transient
WAIT_STATUSES = frozenset({423, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per page, backoff, the longest Retry-After we accept."""

    attempts: int = 6
    backoff: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 300.0
    connect_timeout: float = 10.0
    read_timeout: float = 120.0

    def backoff_for(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based), with jitter."""
        ceiling = min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class RateGate:
    """A shared 'not before' time: when the API asks one worker to wait, all wait."""

    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._lock = threading.Lock()
        self._until = 0.0
        self._sleep = sleep
        self._clock = clock

    def hold(self, seconds: float) -> None:
        """Make every worker wait at least `seconds` from now before its next request."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def wait(self) -> None:
        """Sleep until the gate opens."""
        while True:
            with self._lock:
                remaining = self._until - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (seconds or HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return None
    return seconds
