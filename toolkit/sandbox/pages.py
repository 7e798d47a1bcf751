"""How the sandbox cuts a session's JSON-lines file into pages, without parsing it.

Each session file is indexed once: the byte offset and length of every non-blank
line (in `array('q')`s, 16 bytes a line) and the envelope `createdAtMs` read from
the line's first bytes. A seeded permutation of the lines decides which page serves
which line, so pages come in no order. A page reads its lines with `os.pread` and
returns their bytes untouched; nothing holds the file's content in memory.

Page tokens are opaque: URL-safe base64 of a small JSON object carrying the page
number and a check value bound to the session and seed, so a token forged, damaged
or taken from another session is refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import math
import os
import random
import re
from array import array
from pathlib import Path

import orjson

_CREATED_PREFIX = b'{"createdAtMs":'
_CREATED_RE = re.compile(rb'"createdAtMs"\s*:\s*(\d+)')
_CREATED_SCAN = 4096  # bytes of a line searched for createdAtMs when it does not lead


def created_at(line: bytes) -> int:
    """The envelope `createdAtMs` of a raw line; 0 (always old enough) when not found.

    A value outside the 64-bit range of the index counts as not found: the line
    is served, for the client to reject.
    """
    value = None
    if line.startswith(_CREATED_PREFIX):
        end = line.find(b",", len(_CREATED_PREFIX))
        with contextlib.suppress(ValueError):
            value = int(line[len(_CREATED_PREFIX) : end])
    if value is None:
        match = _CREATED_RE.search(line, 0, _CREATED_SCAN)
        value = int(match.group(1)) if match else 0
    return value if -(2**63) <= value < 2**63 else 0


class Layout:
    """Which positions of a session's permutation each page holds.

    Pages hold `page_size` lines, less the room kept for duplicates from the page
    before; the first page holds `oversize` lines more.
    """

    def __init__(self, n_lines: int, page_size: int, duplicate_rate: float, oversize: int):
        self.n_lines = n_lines
        self.duplicates = math.ceil(page_size * duplicate_rate) if duplicate_rate else 0
        self.base = max(1, page_size - self.duplicates)
        self.first = self.base + oversize
        extra = max(0, n_lines - self.first)
        self.pages = 1 + math.ceil(extra / self.base)

    def bounds(self, page: int) -> tuple[int, int]:
        """The [start, end) positions of `page` in the permutation."""
        if page == 0:
            return 0, min(self.first, self.n_lines)
        start = self.first + (page - 1) * self.base
        return start, min(start + self.base, self.n_lines)


class SessionPages:
    """One session's file, indexed by line, served page by page."""

    def __init__(
        self,
        org_id: str,
        session_id: str,
        path: Path | None,
        seed: int,
        layout: tuple[int, float, int],
    ):
        """Index `path` (None: a session without events).

        Args:
            org_id: the org the session belongs to.
            session_id: the session.
            path: its JSON-lines file, or None for a session with no events.
            seed: seeds the order of lines and the tokens' check values.
            layout: (page_size, duplicate_rate, oversize) as for `Layout`.
        """
        self.org_id = org_id
        self.session_id = session_id
        self.seed = seed
        self.starts, self.lengths, self.created = index_lines(path)
        self.order = array("q", range(len(self.starts)))
        random.Random(f"sandbox:{seed}:{session_id}").shuffle(self.order)
        self.layout = Layout(len(self.starts), *layout)
        self.fd = os.open(path, os.O_RDONLY) if path is not None else -1

    def close(self) -> None:
        """Close the session file."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def positions(self, page: int) -> list[int]:
        """The line numbers `page` serves: its share of the permutation, then duplicates."""
        start, end = self.layout.bounds(page)
        lines = self.order[start:end].tolist()
        if page > 0 and self.layout.duplicates:
            before = self.layout.bounds(page - 1)
            k = min(self.layout.duplicates, before[1] - before[0])
            rng = random.Random(f"sandbox-dup:{self.seed}:{self.session_id}:{page}")
            lines += [self.order[i] for i in rng.sample(range(*before), k)]
        return lines

    def read(self, page: int, cutoff_ms: int) -> list[bytes]:
        """The raw bytes of the lines `page` serves, skipping those newer than `cutoff_ms`."""
        fd, starts, lengths, created = self.fd, self.starts, self.lengths, self.created
        return [
            os.pread(fd, lengths[i], starts[i])
            for i in self.positions(page)
            if created[i] <= cutoff_ms
        ]

    def token(self, page: int) -> str:
        """The opaque `next` token that asks for `page`."""
        payload = orjson.dumps({"v": 1, "p": page, "k": self._check(page)})
        return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")

    def page_of(self, token: str) -> int:
        """The page a `start` token asks for.

        Raises:
            ValueError: if the token is not one this session handed out.
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            fields = orjson.loads(raw)
            page = fields["p"]
            valid = fields["v"] == 1 and fields["k"] == self._check(page)
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise ValueError("malformed start token") from None
        if not valid or not isinstance(page, int) or not 0 <= page < self.layout.pages:
            raise ValueError("start token does not belong to this listing")
        return page

    def _check(self, page: object) -> str:
        text = f"{self.seed}:{self.session_id}:{page}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def index_lines(path: Path | None) -> tuple[array, array, array]:
    """Offsets, lengths (without the newline) and createdAtMs of the non-blank lines."""
    starts, lengths, created = array("q"), array("q"), array("q")
    if path is None:
        return starts, lengths, created
    position = 0
    with open(path, "rb") as f:
        for line in f:
            body = line[:-1] if line.endswith(b"\n") else line
            if body.strip():
                starts.append(position)
                lengths.append(len(body))
                created.append(created_at(body))
            position += len(line)
    return starts, lengths, created
