"""What a sync fetched while the record was busy: durable files waiting to join it.

A sync opens the database only to commit (`toolkit.ingest.joining`). When it cannot
(a reader holds the file), each group of pages it fetched is written here as one
Arrow IPC file, fsynced, with its run's facts in the file's metadata: a *segment*.
Segments join the record in order, each in one transaction that also notes it in
`spool_joins`, so a segment joined before a kill is never counted twice; its events
are compared with `events` when joined (`append_events`), so none is stored twice.

Layout, beside the database `X.duckdb`:

    X.duckdb.spool/<pid>-<hex>/lock          flock'ed by the live sync that owns it
    X.duckdb.spool/<pid>-<hex>/000001.arrow  a segment: events + facts, fsynced

A folder whose lock is free belongs to a sync that ended (or died): the next
writable open (`toolkit.connect`) or sync joins it and removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc as ipc

from toolkit.errors import StorageError
from toolkit.store import database as db
from toolkit.store import ledger
from toolkit.store.failures import storage_error
from toolkit.store.locks import FileLock

PageRow = tuple[bytes, str | None, int]  # a page to list in stored_pages: digest, next, items
SUFFIX = ".spool"
RESERVE_BYTES = 256 * 2**20  # at most this much of a disk is kept free for others
RESERVE_SHARE = 0.05  # or this share of a small disk
INTERRUPTED = (
    "interrupted: the sync process stopped before this run finished; the events it fetched are kept"
)


@dataclass
class RunFacts:
    """One session's run in a sync, as far as the sync knows it before it is recorded."""

    run_key: str
    org_id: str
    session_id: str
    base_url: str
    started_at: datetime
    sync_id: int | None = None  # None until the run's first join allocates it


@dataclass
class Group:
    """Pages of one session to join the record in one transaction (from memory or a file)."""

    run: RunFacts
    events: pa.Table
    rejects: pa.Table | None = None  # reason, raw, raw_sha256 (`ingest.events.REJECT_SCHEMA`)
    listed: list[PageRow] = field(default_factory=list)
    pages: int = 0
    received: int = 0
    compare: bool = False  # events may be stored already: compare each with `events`
    finished: tuple[str, str | None] | None = None  # the run's (status, error) once it ended


def root_of(db_path: Path) -> Path:
    """The spool folder of a database file."""
    return db_path.with_name(db_path.name + SUFFIX)


def sync_lock(db_path: Path) -> FileLock:
    """The lock a sync holds for its whole run: one sync per database file at a time."""
    root = root_of(db_path)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _storage(root, exc) from None
    return FileLock(root / "sync.lock")


def join_group(con: duckdb.DuckDBPyConnection, group: Group, segment: str | None = None) -> int:
    """Join a group to the record in one transaction; return the events it added.

    Sets `group.run.sync_id` (starting the run if it has none). With `segment`, the
    join is noted in `spool_joins` and skipped if it was noted before.
    """
    with _runs_kept_on_failure([group]), db.transaction(con):
        if segment is not None and _joined(con, segment, group.run):
            return 0
        _start(con, group.run)
        new = _add_events(con, [group])[0]
        _account(con, group, new)
        if segment is not None:
            con.execute(
                "INSERT INTO spool_joins VALUES (?, ?, ?, now())",
                [segment, group.run.run_key, group.run.sync_id],
            )
    return new


def join_groups(con: duckdb.DuckDBPyConnection, groups: list[Group]) -> list[int]:
    """Join groups of several sessions in one transaction; return the events each added.

    One transaction, one insert and one pass of each typed fill for them all: per
    group, each fill statement's fixed cost (milliseconds) outweighed its rows'
    (bench/README.md, "The writer beside the fetching"). Sets each `group.run.sync_id`.
    """
    if not groups:
        return []
    with _runs_kept_on_failure(groups), db.transaction(con):
        for group in groups:
            _start(con, group.run)
        news = _add_events(con, groups)
        for group, new in zip(groups, news, strict=True):
            _account(con, group, new)
    return news


@contextlib.contextmanager
def _runs_kept_on_failure(groups: list[Group]) -> Iterator[None]:
    """Forget the runs a rolled-back transaction started: their rows are gone with it."""
    fresh = [g.run for g in groups if g.run.sync_id is None]
    try:
        yield
    except BaseException:
        for run in fresh:
            run.sync_id = None
        raise


def _start(con: duckdb.DuckDBPyConnection, run: RunFacts) -> None:
    if run.sync_id is None:
        run.sync_id = _run_of(con, run.run_key) or ledger.start_run(
            con, run.org_id, run.session_id, run.base_url, run.started_at
        )


def _add_events(con: duckdb.DuckDBPyConnection, groups: list[Group]) -> list[int]:
    """Store the groups' events: those known new in one insert, the others compared."""
    ids = [_sync_id(g.run) for g in groups]
    db.insert_new_events(
        con, [(g.events, i) for g, i in zip(groups, ids, strict=True) if not g.compare]
    )
    return [
        db.append_events(con, g.events, i) if g.compare else g.events.num_rows
        for g, i in zip(groups, ids, strict=True)
    ]


def _sync_id(run: RunFacts) -> int:
    if run.sync_id is None:
        raise RuntimeError(f"run {run.run_key} was not started")  # `_start` comes first
    return run.sync_id


def _account(con: duckdb.DuckDBPyConnection, group: Group, new: int) -> None:
    """The group's rejects, pages and counts in the ledger, and its run's end if it ended."""
    run, sync_id = group.run, _sync_id(group.run)
    rejected = group.rejects.num_rows if group.rejects is not None else 0
    if rejected:
        db.append_rejects(con, group.rejects, sync_id)
    db.record_pages(con, run.org_id, run.session_id, group.listed, sync_id)
    ledger.add_progress(con, sync_id, ledger.PageCounts(group.pages, group.received, new, rejected))
    if group.finished is not None:
        ledger.finish_run(con, sync_id, *group.finished)


def _joined(con: duckdb.DuckDBPyConnection, segment: str, run: RunFacts) -> bool:
    rows = con.execute("SELECT sync_id FROM spool_joins WHERE segment = ?", [segment]).fetchall()
    if rows:
        run.sync_id = int(rows[0][0])
    return bool(rows)


def _run_of(con: duckdb.DuckDBPyConnection, run_key: str) -> int | None:
    rows = con.execute(
        "SELECT min(sync_id) FROM spool_joins WHERE run_key = ?", [run_key]
    ).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


ASKED = "readers-waiting"  # a reader's request that the sync let the file go


def ask_for_the_file(db_path: Path) -> None:
    """A reader refused by a live sync asks it to let the file go (nothing if none runs)."""
    root = root_of(db_path)
    if root.is_dir():
        with contextlib.suppress(OSError):  # a sync that cannot see it lets go by time
            (root / ASKED).touch()


def file_asked_for(db_path: Path) -> bool:
    """True if a reader asked for the file since the sync last let it go."""
    return (root_of(db_path) / ASKED).exists()


def answered(db_path: Path) -> None:
    """The sync let the file go: the request is met."""
    with contextlib.suppress(OSError):
        (root_of(db_path) / ASKED).unlink(missing_ok=True)


class Spool:
    """One sync's spool folder: segments written durably, joined in order, then removed."""

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self.folder = root_of(db_path) / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._lock: FileLock | None = None
        self._count = 0
        self.waiting = 0  # events in segments not joined yet

    def _open(self) -> None:
        if self._lock is not None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(self.folder / "lock")
            self._lock.acquire()
        except OSError as exc:
            raise _storage(self.folder, exc) from None

    def write(self, group: Group) -> None:
        """Write a group as the next segment, fsynced, after checking the disk has room."""
        self._open()
        table = group.events
        meta = {b"facts": json.dumps(_facts(group)).encode()}
        table = table.replace_schema_metadata(meta)
        self._check_room(table.nbytes + len(meta[b"facts"]))
        self._count += 1
        final = self.folder / f"{self._count:06d}.arrow"
        temp = final.with_suffix(".part")
        try:
            with open(temp, "wb") as out:
                with ipc.new_file(out, table.schema) as writer:
                    writer.write_table(table)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, final)
            _fsync_dir(self.folder)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise _storage(self.folder, exc) from None
        self.waiting += table.num_rows

    def _check_room(self, needed: int) -> None:
        usage = shutil.disk_usage(self.folder)
        keep = min(RESERVE_BYTES, int(usage.total * RESERVE_SHARE))
        if usage.free - needed < keep:
            raise StorageError(
                f"no room to keep fetched events in {self.folder}: {usage.free // 2**20} MB "
                f"free, {needed // 2**20 + 1} MB needed beyond the {keep // 2**20} MB kept "
                f"free for others; free space on that disk and sync again (the "
                f"{self.waiting} events spooled so far are kept and join the record later)"
            )

    def segments(self) -> list[Path]:
        """This sync's segments not joined yet, oldest first."""
        return _segments(self.folder)

    def join(self, con: duckdb.DuckDBPyConnection) -> list[tuple[Group, int]]:
        """Join this sync's segments to the record, in order (see `join_folder`)."""
        groups = join_folder(con, self.folder)
        self.waiting = 0
        return groups

    def close(self) -> None:
        """Release the folder: removed if empty, else left for the next open to join."""
        if self._lock is None:
            return
        self._lock.release()
        self._lock = None
        if not self.segments():
            shutil.rmtree(self.folder, ignore_errors=True)
            _remove_if_empty(self.folder.parent)


def join_folder(con: duckdb.DuckDBPyConnection, folder: Path) -> list[tuple[Group, int]]:
    """Join every segment of a folder, oldest first, removing each once joined.

    Returns:
        Each segment's group and the events it added.
    """
    groups = []
    for path in _segments(folder):
        group = read_segment(path)
        new = join_group(con, group, f"{folder.name}/{path.name}")
        path.unlink()
        groups.append((group, new))
    return groups


def drain(con: duckdb.DuckDBPyConnection, db_path: Path) -> int:
    """Join the segments of every sync that has ended (its folder's lock is free).

    A run left without an outcome (its sync was killed) is closed as failed with
    what it fetched kept; each session touched gets its counts refreshed.

    Returns:
        The number of segments joined.
    """
    root = root_of(db_path)
    if not root.is_dir():
        return 0
    joined = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        lock = FileLock(folder / "lock")
        if not lock.acquire():
            continue  # a live sync: it joins its own
        try:
            groups = [group for group, _new in join_folder(con, folder)]
            _close_unfinished(con, groups)
            joined += len(groups)
        finally:
            lock.release()
        shutil.rmtree(folder, ignore_errors=True)
    _remove_if_empty(root)
    return joined


def _close_unfinished(con: duckdb.DuckDBPyConnection, groups: list[Group]) -> None:
    finished = {g.run.run_key for g in groups if g.finished is not None}
    touched: dict[str, RunFacts] = {g.run.run_key: g.run for g in groups}
    for key, run in touched.items():
        if key not in finished and run.sync_id is not None:
            ledger.finish_run(con, run.sync_id, "failed", INTERRUPTED)
    ledger.refresh_sessions_activity(con, [(r.org_id, r.session_id) for r in touched.values()])


def waiting(db_path: Path) -> dict[tuple[str, str], int]:
    """Events waiting in the spool to join the record, per (org, session)."""
    counts: dict[tuple[str, str], int] = {}
    root = root_of(db_path)
    if not root.is_dir():
        return counts
    for folder in root.iterdir():
        for path in _segments(folder):
            # a half-written or vanished file is skipped: it is not waiting
            with contextlib.suppress(OSError, KeyError, ValueError, pa.ArrowException):
                reader = ipc.open_file(str(path))
                facts = json.loads(reader.schema.metadata[b"facts"])
                key = (facts["run"]["org_id"], facts["run"]["session_id"])
                counts[key] = counts.get(key, 0) + sum(
                    reader.get_batch(i).num_rows for i in range(reader.num_record_batches)
                )
    return counts


def read_segment(path: Path) -> Group:
    """A segment file back as the group it was written from."""
    with pa.memory_map(str(path)) as source:
        table = ipc.open_file(source).read_all()
    facts = json.loads(table.schema.metadata[b"facts"])
    run = dict(facts["run"])
    run["started_at"] = datetime.fromisoformat(run["started_at"])
    return Group(
        run=RunFacts(**run),
        events=table.replace_schema_metadata(None),
        rejects=pa.Table.from_pylist(facts["rejects"]) if facts["rejects"] else None,
        listed=[(bytes.fromhex(d), n, i) for d, n, i in facts["listed"]],
        pages=facts["pages"],
        received=facts["received"],
        compare=True,  # joined later: other writers may have stored some since
        finished=tuple(facts["finished"]) if facts["finished"] else None,
    )


def _facts(group: Group) -> dict[str, Any]:
    run = group.run
    return {
        "format": 1,
        "run": {
            "run_key": run.run_key,
            "org_id": run.org_id,
            "session_id": run.session_id,
            "base_url": run.base_url,
            "started_at": run.started_at.isoformat(),
            "sync_id": run.sync_id,
        },
        "rejects": group.rejects.to_pylist() if group.rejects is not None else [],
        "listed": [(d.hex(), n, i) for d, n, i in group.listed],
        "pages": group.pages,
        "received": group.received,
        "finished": list(group.finished) if group.finished else None,
    }


def _segments(folder: Path) -> list[Path]:
    try:
        return sorted(folder.glob("[0-9]*.arrow"))
    except OSError:
        return []


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or gone
        folder.rmdir()


def _storage(path: Path, exc: OSError) -> StorageError:
    return storage_error(path, exc) or StorageError(f"cannot write the spool {path}: {exc}")
