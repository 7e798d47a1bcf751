"""Check an export against its manifest, offline; with a database, against it too.

Every problem found is collected and named (a file, a session, an event), so one
run says everything that is wrong; `VerifyResult.ok` is True only if none is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
import pyarrow.parquet as pq

from toolkit.analysis.queries import event_digest
from toolkit.evidence.manifest import MANIFEST, read_manifest, sha256_file
from toolkit.evidence.rows import check_events_file, digest_of_sorted

_FETCH = 65_536


@dataclass
class VerifyResult:
    """What `verify_export` checked and every mismatch it found."""

    root: Path
    manifest: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    events: int = 0

    @property
    def ok(self) -> bool:
        """True when the export is exactly what its manifest lists."""
        return not self.problems

    def verdict(self) -> str:
        """One line: intact, or how many problems."""
        m = self.manifest
        what = (
            f"{len(m['files'])} files, {len(m['sessions'])} sessions, {self.events} events "
            f"(exported {m.get('created_at')} by {m.get('tool')} {m.get('version')})"
        )
        if self.ok:
            checked = "every size, SHA-256, row count, event id and digest matches"
            return f"{self.root}: intact: {what}; {checked}"
        return f"{self.root} is altered or incomplete: {len(self.problems)} problem(s) in {what}"


def verify_export(
    root: Path,
    con: duckdb.DuckDBPyConnection | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> VerifyResult:
    """Check the export folder `root` against its manifest (and the database `con`).

    Raises:
        UsageError: `root` is not a folder.
        VerifyError: there is no readable manifest (nothing else can be checked).
    """
    result = VerifyResult(root, read_manifest(root))
    intact = _check_files(result)
    _check_unlisted(result)
    _check_sessions(result, intact, on_progress or (lambda done, total, stage: None))
    if con is not None:
        _check_database(result, con)
    return result


def _check_files(result: VerifyResult) -> set[str]:
    """Size, SHA-256 and row count of every listed file; returns the paths that are as listed."""
    intact = set()
    for entry in result.manifest["files"]:
        problem = _file_problem(result.root, entry)
        if problem:
            result.problems.append(f"{entry['path']}: {problem}")
        else:
            intact.add(entry["path"])
    return intact


def _file_problem(root: Path, entry: dict[str, Any]) -> str | None:
    """What is wrong with one listed file, or None if it is exactly as listed."""
    path = _inside(root, entry["path"])
    if path is None:
        return "listed with a path outside the export"
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != entry["bytes"]:
        return f"{size} bytes, the manifest lists {entry['bytes']}"
    if sha256_file(path) != entry["sha256"]:
        return "SHA-256 differs from the manifest's"
    if not entry["path"].endswith(".parquet"):
        return None
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as exc:  # any reader error means the same: not readable Parquet
        return f"cannot be read as Parquet ({exc})"
    if rows != entry.get("rows"):
        return f"{rows} rows, the manifest lists {entry.get('rows')}"
    return None


def _inside(root: Path, name: Any) -> Path | None:
    """The listed file's path, or None if the name would lead outside the folder."""
    if not isinstance(name, str):
        return None
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in name:
        return None
    return root.joinpath(*pure.parts)


def _check_unlisted(result: VerifyResult) -> None:
    """Every file in the folder must be in the manifest (or be the manifest)."""
    names = {e["path"] for e in result.manifest["files"]}
    for path in sorted(result.root.rglob("*")):
        name = path.relative_to(result.root).as_posix()
        if path.is_file() and name != MANIFEST and name not in names:
            result.problems.append(f"{name}: not listed in the manifest")


def _check_sessions(
    result: VerifyResult, intact: set[str], on_progress: Callable[[int, int, str], None]
) -> None:
    """Each session's events: count, digest, and every event id recomputed."""
    total = sum(int(s["events"]) for s in result.manifest["sessions"])
    claimed: set[str] = set()
    for session in result.manifest["sessions"]:
        org, sid = session["session_org_id"], session["session_id"]
        prefix = f"events/session_org_id={org}/session_id={sid}/"
        files = sorted(e["path"] for e in result.manifest["files"] if e["path"].startswith(prefix))
        claimed.update(files)
        readable = [f for f in files if f in intact]
        count = _check_session_events(result, sid, org, readable)
        if readable == files:  # else the damaged files are named already
            _compare(result, f"session {sid}", "events", count, session["events"])
            _compare_digest(result, session, files)
        result.events += count
        on_progress(result.events, total, "events")
    for entry in result.manifest["files"]:
        if entry["path"].startswith("events/") and entry["path"] not in claimed:
            result.problems.append(
                f"{entry['path']}: events of a session the manifest does not list"
            )


def _check_session_events(result: VerifyResult, sid: str, org: str, files: list[str]) -> int:
    count = 0
    for name in files:
        try:
            check = check_events_file(_inside(result.root, name) or result.root, org, sid)
        except (ValueError, OSError) as exc:
            result.problems.append(f"{name}: cannot be read as events ({exc})")
            continue
        count += check.rows
        if check.mismatched:
            more = check.mismatched - len(check.named)
            result.problems.append(
                f"{name}: {check.mismatched} event(s) whose content does not hash to their "
                f"event_id: {', '.join(check.named)}" + (f" and {more} more" if more else "")
            )
    return count


def _compare_digest(result: VerifyResult, session: dict[str, Any], files: list[str]) -> None:
    what = f"session {session['session_id']}"
    try:
        digest = _digest(result.root, files)
    except duckdb.Error as exc:
        result.problems.append(f"{what}: event ids cannot be read ({exc})")
        return
    _compare(result, what, "event digest", digest, session["event_digest"])


def _digest(root: Path, files: list[str]) -> str:
    """The event digest of the files' event ids, sorted by DuckDB (which spills, not us)."""
    if not files:
        return digest_of_sorted(iter(()))
    paths = [str(_inside(root, name)) for name in files]
    con = duckdb.connect()
    try:
        cursor = con.execute(
            "SELECT event_id FROM read_parquet(CAST($paths AS VARCHAR[])) ORDER BY event_id",
            {"paths": paths},
        )
        return digest_of_sorted(_fetched(cursor))
    finally:
        con.close()


def _fetched(cursor: duckdb.DuckDBPyConnection) -> Any:
    while rows := cursor.fetchmany(_FETCH):
        for (value,) in rows:
            yield value


def _compare(result: VerifyResult, what: str, name: str, found: Any, listed: Any) -> None:
    if found != listed:
        result.problems.append(f"{what}: {name} {found} recomputed, the manifest lists {listed}")


def _check_database(result: VerifyResult, con: duckdb.DuckDBPyConnection) -> None:
    """The manifest's sessions against the database: present, same count, same digest."""
    stored = {
        row[1]: (row[0], int(row[2]))
        for row in con.execute(
            "SELECT session_org_id, session_id, event_count FROM session_status"
        ).fetchall()
    }
    for session in result.manifest["sessions"]:
        sid = session["session_id"]
        if sid not in stored:
            result.problems.append(f"session {sid}: in the export, not in the database")
            continue
        count = stored[sid][1]
        if count != session["events"]:
            result.problems.append(
                f"session {sid}: {session['events']} events in the export, {count} in the database"
            )
        if event_digest(con, sid) != session["event_digest"]:
            result.problems.append(f"session {sid}: event digest differs from the database's")
