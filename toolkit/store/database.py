"""The DuckDB file: opening it, applying the SQL files, appending batches, the sync ledger."""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

import duckdb
import pyarrow as pa

from toolkit import config
from toolkit.errors import DatabaseLockedError, ToolkitError, UsageError
from toolkit.store import derived, rebuild, typed
from toolkit.store.digests import KnownDigests
from toolkit.store.failures import storage_error
from toolkit.store.records import KnownPage
from toolkit.store.sqlfiles import sql_files
from toolkit.store.transactions import raise_if_interrupt, transaction

# 2: session_activity_store; 3: events.envelope_extra; 4: stored_pages; 5: meetings;
# 6: typed storage (typed_* tables, filled at write time; rebuilt from events on upgrade);
# 7: session_keys, and the session's number in each typed row
SCHEMA_VERSION = 7
RESHAPED = {7: typed.TABLES}  # tables a version redefines: dropped, then rebuilt from events
MEMORY_LIMIT = "192MB"  # a sync's DuckDB share of the 500 MB budget (bench/README.md)
# A checkpoint in the commit that takes the WAL past this. Few of them: each rewrites
# the tables' partly filled row groups and leaves the old blocks free (bench/README.md,
# "The shared file's size"). But below the memory limit: rows committed wait in memory
# until a checkpoint, and past the limit DuckDB moves them to a temporary file,
# compressed, to read them back at the checkpoint ("The sync's memory: evictions").
CHECKPOINT_THRESHOLD = "160MB"
_CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.S)
_LOCK_RE = re.compile(r"Conflicting lock is held in (\S+)(?: \(PID (\d+)\))?")


@functools.cache  # the package's files do not change while it runs; a sync opens often
def _sql_digest() -> str:
    digest = hashlib.sha256()
    for name, text in sql_files():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return f"{SCHEMA_VERSION}:{digest.hexdigest()[:16]}"


def connect(
    path: str | Path | None = None,
    read_only: bool = False,
    memory_limit: str | None = None,
    wait: float = 0.0,
    on_rebuild: rebuild.AnyProgress | None = None,
    drain: bool = True,
) -> duckdb.DuckDBPyConnection:
    """Open the compliance database, creating or upgrading its tables and views.

    A writable open also brings the typed storage up to date: a file from before
    it (schema 5), or one whose rebuild was interrupted, is rebuilt from `events`
    here (`toolkit.store.rebuild`), reporting to `on_rebuild`. Then it joins the
    events that syncs fetched while the file was busy and left waiting in the spool
    (`toolkit.store.spool`), unless a live sync owns them or `drain` is False.

    Args:
        path: the DuckDB file; defaults to `SLIDO_DB` or `data/compliance.duckdb`.
        read_only: open without write access (the file must exist and be current).
        memory_limit: DuckDB's memory limit for this connection; None means
            MEMORY_LIMIT (the sync's memory budget) for a writable
            connection and DuckDB's own default for a read-only one (queries and
            reports, whose windows and joins over millions of events need more).
        wait: seconds to keep retrying while another process holds the file.
        on_rebuild: called with (events done, events in all) while the typed
            storage is rebuilt; the store prints nothing itself.
        drain: for a writable open, join the spooled events of finished syncs.

    Returns:
        A DuckDB connection with every contract table and view in place.

    Example:
        >>> con = connect("data/compliance.duckdb")  # doctest: +SKIP
        >>> con.sql("SELECT count(*) FROM events").fetchone()  # doctest: +SKIP
    """
    target = config.db_path(path)
    if read_only and not target.exists():
        raise UsageError(f"no database at {target}; run 'slido-compliance sync' or 'demo' first")
    with storage_failures(target):
        if not read_only:
            target.parent.mkdir(parents=True, exist_ok=True)
        con = _open(target, read_only, time.monotonic() + wait)
        try:
            _configure(con, target, read_only, memory_limit, on_rebuild)
            if drain and not read_only:
                from toolkit.store import spool  # spool joins through this module

                spool.drain(con, target)
        except BaseException:
            con.close()
            raise
    return con


def _configure(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    read_only: bool,
    memory_limit: str | None,
    on_rebuild: rebuild.AnyProgress | None,
) -> None:
    if memory_limit is None and not read_only:
        memory_limit = MEMORY_LIMIT
    if memory_limit is not None:
        con.execute(f"SET memory_limit = '{_check_size(memory_limit)}'")
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB's common_subplan turns the two reads of recent_sessions() in a stored view
    # (70_stored_views.sql) into one materialized plan, and the typed tables under it
    # are then scanned whole: count(*) of session_activity at 10M 0.84 s with it, 0.03
    # without; nothing else measured changed (bench/README.md, "session numbers").
    con.execute("SET disabled_optimizers = 'common_subplan'")
    if not read_only:
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    _ensure_schema(con, target, read_only)
    _ensure_typed(con, target, read_only, on_rebuild)


@contextmanager
def storage_failures(target: Path) -> Iterator[None]:
    """Turn a full disk, a read-only file system, a refused permission or a file that is
    not a database, met in the block, into one StorageError naming `target`."""
    try:
        yield
    except (duckdb.Error, OSError, RuntimeError) as exc:
        error = storage_error(target, exc)
        if error is None:
            raise
        raise error from None


def _ensure_typed(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    read_only: bool,
    on_rebuild: rebuild.AnyProgress | None,
) -> None:
    if not read_only:
        rebuild.ensure_current(con, on_rebuild)
    elif not rebuild.is_current(con):
        raise UsageError(
            f"database {target} needs its typed storage rebuilt from its events; open it "
            "for writing once (slido-compliance rebuild, or a sync) and retry"
        )


def _open(target: Path, read_only: bool, deadline: float) -> duckdb.DuckDBPyConnection:
    while True:
        try:
            return duckdb.connect(str(target), read_only=read_only)
        except duckdb.IOException as exc:
            error: ToolkitError = storage_error(target, exc) or _lock_error(target, exc)
            if not isinstance(error, DatabaseLockedError) or time.monotonic() >= deadline:
                raise error from None
        except duckdb.Error as exc:
            failure = storage_error(target, exc)
            if failure is not None:
                raise failure from None
            raise UsageError(f"cannot open database {target}: {_first_line(exc)}") from None
        time.sleep(0.02)  # a commit holds the file for a fraction of a second


def _check_size(value: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", value, re.I):
        raise UsageError(f"memory limit {value!r} is not a size such as '256MB'")
    return value


def _ensure_schema(con: duckdb.DuckDBPyConnection, target: Path, read_only: bool) -> None:
    found = _stored_version(con)
    if found and int(found.split(":", 1)[0]) > SCHEMA_VERSION:
        raise UsageError(
            f"database {target} was written by a newer release (schema {found}); "
            "upgrade the toolkit"
        )
    wanted = _sql_digest()
    if found == wanted:
        return
    if read_only:
        if found and int(found.split(":", 1)[0]) == SCHEMA_VERSION:
            _apply_temp_views(con)  # same tables, newer views: shadow the stored ones
            return
        raise UsageError(
            f"database {target} needs a schema upgrade; run a sync on it once "
            "(it opens the file for writing) and retry"
        )
    with transaction(con):
        _drop_reshaped(con, int(found.split(":", 1)[0]) if found else SCHEMA_VERSION)
        for _name, text in sql_files():
            con.execute(text)
        con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [SCHEMA_VERSION, wanted])


def _drop_reshaped(con: duckdb.DuckDBPyConnection, found: int) -> None:
    """Drop the derived tables whose columns changed since schema `found`.

    `CREATE TABLE IF NOT EXISTS` keeps an old table as it is; these hold nothing but
    what the typed storage's rebuild (`rebuild.ensure_current`, right after) computes
    from `events` again, and their fill statements changed with them, so it runs.
    """
    for version, tables in RESHAPED.items():
        if found < version:
            for table in tables:
                con.execute(f"DROP TABLE IF EXISTS {table}")


def _apply_temp_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create this release's views as temporary ones over a read-only file's tables.

    The temporary catalog is searched first, so queries see the current views
    even though the file still holds an older release's. The derived storage
    (`derived.TABLES`) is shadowed by empty temporary tables: rows computed by other
    SQL, or tables the file lacks, so every view computes its rows from the typed ones.
    """
    files = sql_files()
    for _name, text in files:  # derived rows of other SQL: read as none
        for table, columns in _CREATE_TABLE.findall(text):
            if table in derived.TABLES:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({columns})")
    for name, text in files:
        if name.startswith("0"):
            continue  # tables (00_ to 09_): unchanged within a schema version
        text = text.replace("CREATE OR REPLACE VIEW", "CREATE OR REPLACE TEMP VIEW")
        con.execute(text.replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO"))


def _stored_version(con: duckdb.DuckDBPyConnection) -> str | None:
    # fetchall, not fetchone: a half-read result keeps the connection busy for con.sql()
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = 'schema_version'"
    ).fetchall()
    if not exists[0][0]:
        return None
    rows = con.execute(
        "SELECT sql_digest FROM schema_version ORDER BY applied_at DESC LIMIT 1"
    ).fetchall()
    return rows[0][0] if rows else None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _lock_error(target: Path, exc: BaseException) -> ToolkitError:
    text = str(exc)
    if "lock" not in text.lower():
        return UsageError(f"cannot open database {target}: {_first_line(exc)}")
    match = _LOCK_RE.search(text)
    holder = ""
    if match:
        pid = f", PID {match.group(2)}" if match.group(2) else ""
        holder = f" ({match.group(1).strip()}{pid})"
    return DatabaseLockedError(
        f"database {target} is locked by another process{holder}; "
        "close it, wait for it to finish (--wait), or use --db"
    )


def append_events(
    con: duckdb.DuckDBPyConnection, batch: pa.RecordBatch | pa.Table, sync_id: int
) -> int:
    """Append the events of a batch whose `event_id` is not stored yet; return how many.

    The batch has the columns of `events.EVENT_SCHEMA`; an id repeated inside it is
    stored once. Call inside a transaction: the typed rows of exactly the events
    added are stored with them (`toolkit.store.typed`).
    """
    new_only = """
        SELECT DISTINCT ON (i.event_id) i.* FROM _incoming AS i
        WHERE i.event_id NOT IN (
            SELECT e.event_id FROM events AS e
            WHERE e.session_id IN (SELECT DISTINCT session_id FROM _incoming)
        )
    """
    insert = f"INSERT INTO events BY NAME SELECT n.*, ? AS sync_id FROM {typed.SOURCE} AS n"
    return _insert_from(con, "_incoming", batch, insert, [sync_id], stage=new_only)


def insert_new_events(
    con: duckdb.DuckDBPyConnection, batches: list[tuple[pa.RecordBatch | pa.Table, int]]
) -> int:
    """Insert batches whose events are known to be new (see `stored_digests`); return how many.

    Each batch comes with the sync_id of the run that fetched it. No comparison with
    what is stored: the caller has already left out every event id of
    `stored_digests` and every id repeated in a batch. Call inside a transaction:
    the events' typed rows are stored with them (`toolkit.store.typed`).
    """
    tables = [
        pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b for b, _ in batches
    ]
    tables = [
        t.append_column("sync_id", pa.repeat(pa.scalar(sync_id, pa.int64()), t.num_rows))
        for t, (_, sync_id) in zip(tables, batches, strict=True)
        if t.num_rows
    ]
    if not tables:
        return 0
    rows = pa.concat_tables(tables)
    insert = f"INSERT INTO events BY NAME SELECT * FROM {typed.SOURCE}"
    return _insert_from(con, "_incoming", rows, insert, [], stage="SELECT * FROM _incoming")


def stored_digests(con: duckdb.DuckDBPyConnection, org_id: str, session_id: str) -> KnownDigests:
    """The SHA-256 digests (event ids as bytes) of the events stored for a session.

    Includes events of another session that the API served with this one, so a
    re-sync recognises them too. About 32 bytes of memory per event.
    """
    digests = con.sql(
        """
        SELECT unhex(event_id) AS digest FROM events
        WHERE session_id = $s AND session_org_id = $o
        UNION
        SELECT unhex(e.event_id) FROM events AS e, sync_runs AS r
        WHERE e.sync_id = r.sync_id AND r.session_id = $s AND r.session_org_id = $o
        ORDER BY digest  -- byte order, as KnownDigests keeps them: no sort in Python
        """,
        params={"s": session_id, "o": org_id},
    ).to_arrow_table()
    return KnownDigests.from_arrow(digests.column(0))


def stored_pages(
    con: duckdb.DuckDBPyConnection, org_id: str, session_id: str
) -> dict[bytes, KnownPage]:
    """The page bodies of a session whose items are all stored, by their SHA-256."""
    rows = con.execute(
        """
        SELECT body_sha256, next_token, items FROM stored_pages
        WHERE session_org_id = $o AND session_id = $s
        """,
        {"o": org_id, "s": session_id},
    ).fetchall()
    return {bytes(digest): KnownPage(nxt, items) for digest, nxt, items in rows}


def record_pages(
    con: duckdb.DuckDBPyConnection,
    org_id: str,
    session_id: str,
    pages: list[tuple[bytes, str | None, int]],
    sync_id: int,
) -> None:
    """List pages (digest, next token, items) whose items are now all stored.

    Call inside the transaction that stores their events, so a page is never listed
    without them. A page listed already is left as it is (a spooled group joined
    again after a kill lists its pages again).
    """
    if not pages:
        return
    digests, nexts, items = (list(column) for column in zip(*pages, strict=True))
    con.execute(
        """
        INSERT INTO stored_pages
        SELECT p.* FROM (
            SELECT $o AS o, $s AS s, unnest($digests) AS d, unnest($nexts) AS n,
                   unnest($items) AS i, $r AS r
        ) AS p
        WHERE NOT EXISTS (
            SELECT 1 FROM stored_pages AS k
            WHERE k.session_org_id = p.o AND k.session_id = p.s AND k.body_sha256 = p.d
        )
        """,
        {
            "o": org_id,
            "s": session_id,
            "digests": digests,
            "nexts": nexts,
            "items": items,
            "r": sync_id,
        },
    )


def append_rejects(con: duckdb.DuckDBPyConnection, rejects: pa.Table, sync_id: int) -> int:
    """Append rejected items not already kept for this session (by the hash of their text)."""
    return _insert_from(
        con,
        "_rejects",
        rejects,
        """
        INSERT INTO rejected_events
        SELECT DISTINCT ON (r.raw_sha256)
            ?, now(), r.reason, r.raw, s.session_org_id, s.session_id, r.raw_sha256
        FROM _rejects AS r, sync_runs AS s
        WHERE s.sync_id = ?
          AND NOT EXISTS (
              SELECT 1 FROM rejected_events AS k
              WHERE k.raw_sha256 = r.raw_sha256
                AND k.session_id IS NOT DISTINCT FROM s.session_id
          )
        """,
        [sync_id, sync_id],
    )


def _insert_from(
    con: duckdb.DuckDBPyConnection,
    name: str,
    table: pa.RecordBatch | pa.Table,
    sql: str,
    params: list[object],
    stage: str | None = None,
) -> int:
    """Run an INSERT that reads an Arrow table registered as `name`; return the rows added.

    With `stage`, the INSERT reads `_new_events`, the rows that SELECT takes, and their
    typed rows are stored with them (`typed.staged`).
    """
    if table.num_rows == 0:
        return 0
    con.register(name, table)
    try:
        with typed.staged(con, stage) if stage is not None else nullcontext():
            row = con.execute(sql, params).fetchone()
    except (duckdb.Error, RuntimeError) as exc:
        raise_if_interrupt(exc)
        raise
    finally:
        # in an aborted transaction (Ctrl-C) this fails; the next register replaces it
        with suppress(duckdb.Error):
            con.unregister(name)
    return int(row[0]) if row else 0
