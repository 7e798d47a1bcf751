"""Handles on the database file that hold it only while they use it.

DuckDB lets one process write a file, and any open connection, even a read-only one,
keeps a writer of another process out. So neither side keeps the file open:

- `Reader` (public as `toolkit.open`) opens the file read-only for each question and
  closes it after, retrying for a while when a sync is committing. A question sees
  the record as committed when it is asked.
- `RecordFile` is the sync's: it opens the file for writing only to commit a group
  (`writing`) or to read a session's stored digests (`read`), and closes it after.
- `HeldRecord` is the same interface over a connection the caller keeps open (the
  library's `sync_sessions(con, ...)`): nothing is released between commits.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from toolkit import config
from toolkit.errors import DatabaseLockedError
from toolkit.store import database as db
from toolkit.store import ledger, spool
from toolkit.store.rebuild import AnyProgress

T = TypeVar("T")

READER_PATIENCE = 30.0  # seconds a question waits for a commit (one takes well under 2 s)
WRITER_PATIENCE = 0.5  # seconds a sync waits for a reader's question before spooling


class Reader:
    """Opens the database read-only for each question and closes it after.

    Pass it wherever a helper takes a connection (`toolkit.qa_questions(rec, sid)`).
    A notebook holding one never keeps a sync out: between questions the file is
    free. `with rec.connection() as con:` holds one connection for several questions
    (the report does so); keep such blocks short.

    Example:
        >>> rec = toolkit.open("data/compliance.duckdb")  # doctest: +SKIP
        >>> toolkit.sessions(rec)  # doctest: +SKIP
    """

    def __init__(self, path: str | Path | None = None, wait: float = READER_PATIENCE):
        self.path = config.db_path(path)
        self.wait = wait
        self._local = threading.local()  # a held connection, per thread

    def __repr__(self) -> str:
        return f"toolkit.open({str(self.path)!r})"

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for the block, closed after (reused if already held)."""
        held = getattr(self._local, "con", None)
        if held is not None:
            yield held
            return
        try:
            con = db.connect(self.path, read_only=True)
        except DatabaseLockedError:  # a sync holds it: ask it to let go, then retry
            spool.ask_for_the_file(self.path)
            con = db.connect(self.path, read_only=True, wait=self.wait)
        self._local.con = con
        try:
            yield con
        finally:
            self._local.con = None
            con.close()

    def sql(self, query: str, params: dict[str, Any] | None = None) -> Any:
        """Run one query and return its rows as a polars DataFrame (see `toolkit.query`)."""
        from toolkit.analysis.query import fetch

        return fetch(self, query, params)


def open(path: str | Path | None = None, wait: float = READER_PATIENCE) -> Reader:
    """A handle on the database that opens the file for each question and closes it after.

    Args:
        path: the DuckDB file; defaults to `SLIDO_DB` or `data/compliance.duckdb`.
        wait: seconds a question keeps retrying while a writer holds the file.

    Returns:
        A `Reader`, accepted by every helper in place of a connection.
    """
    return Reader(path, wait)


def tidy(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A sync's first open: join the spool of syncs that ended, close runs of those that died.

    Before any stored digests are read, so a session's spooled events count as stored.
    """
    spool.drain(con, path)
    ledger.close_abandoned_runs(con)


class RecordFile:
    """The sync's access to the file: opened for a commit or a read, let go when asked.

    Opening costs tens of milliseconds and closing checkpoints (and a checkpoint per
    commit made the file half as large again and the sync slower), so the file stays
    open between uses while nobody asks for it. A `Reader` refused by it asks (a
    marker file in the spool folder, `spool.ask_for_the_file`); the sync then lets
    go within `POLL` seconds (or once the commit in progress ends) and waits `GAP`
    before opening again, so the reader gets in. Without asking (a plain
    `toolkit.connect`), a reader waits until the file has been idle `LINGER` seconds
    or open `HOLD` seconds. The first open tidies (`tidy`); the sync holds the file's
    sync lock meanwhile.

    A worker's read of stored state runs on a cursor of its own beside a commit in
    progress (it sees the record as last committed): waiting for the commit held
    each session that started during one for up to a second (bench/README.md).
    """

    HOLD = 10.0
    LINGER = 3.0  # longer than a join's interval (`SyncOptions.commit_seconds`)
    POLL = 0.05
    GAP = 0.1

    def __init__(
        self,
        path: Path,
        wait: float = WRITER_PATIENCE,
        on_rebuild: AnyProgress | None = None,
    ):
        self.path = path
        self.wait = wait
        self._on_rebuild = on_rebuild  # the first open may upgrade an older file
        self._writer = threading.Lock()  # one commit at a time within the process
        self._state = threading.Condition()  # guards the connection and its users
        self._users = 0
        self._tidied = False
        self._con: duckdb.DuckDBPyConnection | None = None
        self._opened = self._used = self._closed = 0.0
        self._stop = threading.Event()
        self._closer = threading.Thread(target=self._close_idle, name="sync-file", daemon=True)
        self._closer.start()

    @contextmanager
    def writing(self, wait: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The file open for writing during the block (DatabaseLockedError if busy)."""
        with self._writer, self._use(self.wait if wait is None else wait) as con:
            yield con

    @contextmanager
    def _use(self, wait: float) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._state:
            con = self._lease(wait)
            self._users += 1
        failed = False
        try:
            with db.storage_failures(self.path):
                yield con
        except BaseException:
            failed = True
            raise
        finally:
            with self._state:
                self._users -= 1
                self._used = time.monotonic()
                self._state.notify_all()
                asked = self._used - self._opened >= self.HOLD or spool.file_asked_for(self.path)
                if failed or asked:
                    self._release()

    def _lease(self, wait: float) -> duckdb.DuckDBPyConnection:
        """The open connection, opened if need be (called holding `_state`)."""
        if self._con is not None and time.monotonic() - self._opened < self.HOLD:
            return self._con
        self._release()
        time.sleep(max(0.0, self._closed + self.GAP - time.monotonic()))
        con = db.connect(self.path, wait=wait, drain=False, on_rebuild=self._on_rebuild)
        try:
            with db.storage_failures(self.path):
                if not self._tidied:
                    tidy(con, self.path)
                    self._tidied = True
        except BaseException:
            con.close()
            raise
        # a sync's statements are small; DuckDB's threads would take the CPU the fetch
        # workers need (bench/README.md, "DuckDB's threads")
        con.execute("SET threads = 1")
        self._con, self._opened = con, time.monotonic()
        return con

    def _release(self) -> None:
        """Close the file once nobody uses it (called holding `_state`)."""
        while self._users:
            self._state.wait()
        if self._con is None:
            return
        con, self._con = self._con, None
        spool.answered(self.path)
        try:
            with db.storage_failures(self.path):
                con.close()  # checkpoints: a full disk may refuse it
        finally:
            self._closed = time.monotonic()

    def _close_idle(self) -> None:
        while not self._stop.wait(self.POLL):
            with self._state:
                if self._con is None or self._users:
                    continue
                idle = time.monotonic() - self._used >= self.LINGER
                if idle or spool.file_asked_for(self.path):
                    with contextlib.suppress(Exception):  # the next use reports it
                        self._release()

    def read(self, read: Callable[..., T], *args: Any) -> T | None:
        """Run a read of stored state; None if the file is busy (compare at join time)."""
        try:
            with self._use(self.wait) as con:
                cursor = con.cursor()  # beside a commit in progress, on another thread
                try:
                    return read(cursor, *args)
                finally:
                    cursor.close()
        except DatabaseLockedError:
            return None

    def close(self) -> None:
        """Close the file (its last checkpoint) and stop the closing thread."""
        self._stop.set()
        self._closer.join()
        with self._state:
            self._release()


class HeldRecord:
    """The same interface over a writable connection the caller keeps open."""

    def __init__(self, con: duckdb.DuckDBPyConnection, readers: int):
        self.con = con
        self.path = database_path(con)
        self._before = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        con.execute("SET threads = 1")
        with db.storage_failures(self.path):
            tidy(con, self.path)
        # a cursor per fetch worker, made on this thread (the connection is not thread-safe)
        self._cursors: queue.Queue[duckdb.DuckDBPyConnection] = queue.Queue()
        for _ in range(readers):
            self._cursors.put(con.cursor())

    @contextmanager
    def writing(self, wait: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The caller's connection."""
        with db.storage_failures(self.path):
            yield self.con

    def read(self, read: Callable[..., T], *args: Any) -> T | None:
        """Run a read of stored state on a borrowed cursor."""
        cursor = self._cursors.get()
        try:
            return read(cursor, *args)
        finally:
            self._cursors.put(cursor)

    def close(self) -> None:
        """Close the cursors and restore the connection's threads."""
        while not self._cursors.empty():
            self._cursors.get().close()
        with contextlib.suppress(duckdb.Error):  # the connection failed: nothing to restore
            self.con.execute(f"SET threads = {int(self._before)}")


def database_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The file a connection has open."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return Path(rows[0][0]) if rows and rows[0][0] else Path("memory")
