"""Advisory file locks: one sync per database file, and which spool folders are live.

DuckDB's own lock is held only while a connection is open, and a sync now opens the
file only to commit; these `flock` locks say who is writing between commits. The
kernel drops them when their process dies, so a killed sync never leaves one behind.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not Linux/macOS: no advisory locks, no protection
    fcntl = None  # type: ignore[assignment]


class FileLock:
    """An exclusive `flock` on a small file; `acquire` says whether it was had in time."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self, wait: float = 0.0) -> bool:
        """Take the lock, retrying for `wait` seconds; True if taken."""
        deadline = time.monotonic() + wait
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            if _try_lock(fd):
                self._fd = fd
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                return True
            if time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(0.1)

    def holder(self) -> str:
        """The PID written by the holder, or '?'."""
        try:
            return self.path.read_text(encoding="ascii").strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        """Let the lock go (closing the descriptor releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _try_lock(fd: int) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
