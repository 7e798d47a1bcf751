"""Errors the toolkit raises, each carrying the exit status the CLI reports."""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_API = 4
EXIT_LOCKED = 5
EXIT_VERIFY = 6
EXIT_STORAGE = 7  # the disk or file refused: full, read-only, no permission, not a database


class ToolkitError(Exception):
    """Base class: a message meant for the user and the exit status to report."""

    exit_code: int = EXIT_USAGE


class UsageError(ToolkitError):
    """Bad usage or bad input: a wrong flag, id, file or query (exit 2)."""

    exit_code = EXIT_USAGE


class AuthError(ToolkitError):
    """The API refused the token: 401 or 403 (exit 3)."""

    exit_code = EXIT_AUTH


class ApiError(ToolkitError):
    """The API failed for good, after retries or with a final 4xx (exit 4)."""

    exit_code = EXIT_API

    def __init__(self, message: str, status: int | None = None, tracking_id: str | None = None):
        super().__init__(message)
        self.status = status
        self.tracking_id = tracking_id


class DatabaseLockedError(ToolkitError):
    """Another process holds the database file (exit 5)."""

    exit_code = EXIT_LOCKED


class VerifyError(ToolkitError):
    """An export is altered or incomplete: its files disagree with its manifest (exit 6)."""

    exit_code = EXIT_VERIFY


class StorageError(ToolkitError):
    """The file system refused the database or the spool: full, read-only, no permission,
    or the file is not a DuckDB database (exit 7). What was committed before is intact."""

    exit_code = EXIT_STORAGE
