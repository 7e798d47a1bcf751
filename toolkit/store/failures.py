"""Storage failures said plainly: which file, what the system refused, what to do.

DuckDB and the operating system report a full disk, a read-only file system, a
missing permission or a file that is not a database in several wordings (an
`IOException`, a `TransactionException` at COMMIT, an `OSError` with its errno).
`storage_error` turns each into one `StorageError` (exit 7) naming the path.
"""

from __future__ import annotations

import errno
from pathlib import Path

from toolkit.errors import StorageError

# (words found in the error text, what happened, what to do)
_KINDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("no space left", "disk full", "file too large", "disk quota"),
        "the disk is full (or the file may grow no further)",
        "free space on that disk or give another file with --db, then run it again",
    ),
    (
        ("read-only file system",),
        "the file system is read-only",
        "remount it writable or give a file elsewhere with --db",
    ),
    (
        ("permission denied", "operation not permitted"),
        "permission denied",
        "give this user write access to the file and its folder, or use another --db",
    ),
    (
        ("not a valid duckdb database",),
        "the file is not a DuckDB database",
        "give the path of the compliance database with --db, or move that file away",
    ),
)
_ERRNO_WORDS = {
    errno.ENOSPC: "no space left",
    errno.EFBIG: "file too large",
    errno.EDQUOT: "disk quota",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def storage_error(path: str | Path, exc: BaseException) -> StorageError | None:
    """The StorageError that `exc` is, for the file at `path`; None if it is another error.

    Example:
        >>> storage_error("x.duckdb", OSError(28, "No space left on device"))  # doctest: +ELLIPSIS
        StorageError('cannot write x.duckdb: the disk is full...')
    """
    text = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno in _ERRNO_WORDS:
        text += " " + _ERRNO_WORDS[exc.errno]
    for words, what, todo in _KINDS:
        if any(word in text for word in words):
            verb = "open" if "database" in what else "write"
            return StorageError(
                f"cannot {verb} {path}: {what}; {todo}. Everything committed before is intact."
            )
    return None


def is_storage_failure(exc: BaseException) -> bool:
    """True if `exc` is a storage failure (see `storage_error`)."""
    return storage_error("", exc) is not None
