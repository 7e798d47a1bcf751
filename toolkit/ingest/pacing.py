"""How many sessions a sync fetches at once: as many as the network's waits call for.

A worker that waits W seconds for each page's answer and then works C seconds on it
(reading, hashing, decoding, building the batch) is busy C / (W + C) of the time, so
1 + W / C workers keep the work going without a gap; the pacer takes its whole part,
the medians over the last pages for W and C. Against a slow network (the
real API: W is tens to hundreds of milliseconds, C about one) that is more than any
`--concurrency` a user gives, and the limit is used. Against a fast one (a sandbox on
loopback: W is close to nothing) it is one: more workers would only contend for the
interpreter lock and for the cores the database writer needs, which made a sync at
four sessions at once some 25 % slower than one at a time (bench/README.md).
"""

from __future__ import annotations

from collections import deque
from statistics import median

WINDOW = 16  # pages: their medians, so one slow answer (a busy server) changes nothing
_MIN_WORK = 1e-4  # seconds: a page known from before costs almost nothing to handle


class Pacer:
    """Sessions to fetch at once, from the pages' recent waits and work (1 to `limit`).

    Fed by one thread (the sync's writer), with what each worker measured for a page.
    """

    def __init__(self, limit: int, paced: bool = True):
        """A pacer allowing at most `limit` sessions; `paced=False` always allows `limit`."""
        self.limit = max(1, limit)
        self.paced = paced
        self._waited: deque[float] = deque(maxlen=WINDOW)
        self._worked: deque[float] = deque(maxlen=WINDOW)

    def record(self, waited: float, worked: float) -> None:
        """Count one page: seconds waiting for its answer, seconds working on it."""
        self._waited.append(waited)
        self._worked.append(worked)

    def target(self) -> int:
        """How many sessions to fetch at once now: one until a page has been measured."""
        if not self.paced:
            return self.limit
        if not self._waited:
            return 1
        # whole workers only: one more for each full page of work spent waiting, since
        # a session started for less contends more than it fills the gaps
        wanted = 1 + median(self._waited) / max(median(self._worked), _MIN_WORK)
        return max(1, min(self.limit, int(wanted + 1e-9)))
