"""The measured phases, each run in a child process of its own (`run.py --phase NAME`).

A phase returns a dict of figures: at least `seconds` (wall) and `events`; the
child adds its peak RSS and CPU seconds at the end, so each phase's memory is its
own. The queries phase returns one such dict per query, keyed by the query's name.
"""

from __future__ import annotations

import inspect
import os
import re
import resource
import shutil
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
from workdir import SANDBOX_TOKEN, Sample, load_sample

from toolkit.store.records import HISTORY_VIEWS, STATE_RELATIONS

Figures = dict[str, Any]

LIMIT_COLUMNS = (
    '{\'items\': \'STRUCT("createdAtMs" BIGINT, "sessionId" VARCHAR, '
    '"sessionOrgId" VARCHAR, "userId" VARCHAR, "data" JSON)[]\', \'next\': \'VARCHAR\'}'
)
# The relations of CONTRACT.md that are views (the tables are measured through them).
CONTRACT_VIEWS = (*HISTORY_VIEWS, *STATE_RELATIONS)
NOT_HELPERS = frozenset({"run_sql"})  # timed last: it may lock the connection down


# -- process figures ------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User plus system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def vm_hwm_mb() -> float:
    """Peak RSS since the last reset, from /proc/self/status (MiB)."""
    match = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(match.group(1)) / 1024 if match else peak_rss_mb()


# -- limit: DuckDB loading the saved pages --------------------------------------------------


def limit(pages: Path, db_path: Path, expect: int) -> Figures:
    """Time DuckDB's read_json loading the saved pages into a fresh table, envelope + data."""
    db_path.unlink(missing_ok=True)
    glob = str(pages / "[0-9]*.json").replace("'", "''")
    sql = f"""
        CREATE TABLE events AS
        SELECT e.createdAtMs AS created_at_ms, e.sessionId AS session_id,
               e.sessionOrgId AS session_org_id, e.userId AS user_id, e.data AS data
        FROM (SELECT unnest(items) AS e FROM read_json('{glob}', columns={LIMIT_COLUMNS}))
    """
    started = time.perf_counter()
    con = duckdb.connect(str(db_path))
    con.execute(sql)
    con.close()
    seconds = time.perf_counter() - started
    con = duckdb.connect(str(db_path), read_only=True)
    row = con.execute("SELECT count(*) FROM events").fetchone()
    con.close()
    loaded = int(row[0]) if row else 0
    _check(loaded == expect, f"read_json loaded {loaded} rows, expected {expect}")
    return {"seconds": seconds, "events": loaded, **db_size(db_path, loaded)}


def db_size(db_path: Path, events: int) -> Figures:
    """The database file's size (with any WAL left) and bytes per event."""
    size = sum(p.stat().st_size for p in (db_path, Path(f"{db_path}.wal")) if p.exists())
    return {"db_bytes": size, "bytes_per_event": size / events if events else None}


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise RuntimeError(message)


# -- fetch: our client, storing nothing -----------------------------------------------------


def fetch(url: str, dataset: Path, concurrency: int, build: bool = False) -> Figures:
    """Page every session with `ingest.client.Client` (one per session, `concurrency` at once).

    With `build`, each page is also turned into an Arrow batch with event ids
    (`events.build_batch`), which is all sync does before the database.
    """
    sample = load_sample(dataset)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        counts = list(pool.map(lambda s: _fetch_session(url, s[0], s[1], build), sample.sessions))
    seconds = time.perf_counter() - started
    received = sum(c[0] for c in counts)
    _check(received == sample.events, f"fetched {received} events, expected {sample.events}")
    return {
        "seconds": seconds,
        "events": received,
        "pages": sum(c[1] for c in counts),
        "concurrency": concurrency,
    }


def _fetch_session(url: str, org_id: str, session_id: str, build: bool) -> tuple[int, int]:
    from toolkit.config import Secret
    from toolkit.ingest.client import Client
    from toolkit.ingest.events import build_batch

    client = Client(url, Secret(SANDBOX_TOKEN))
    received = pages = 0
    try:
        for page in client.iter_pages(org_id, session_id):
            pages += 1
            received += len(page.items)
            if build:
                build_batch(page.items)
    finally:
        client.close()
    return received, pages


# -- sync -----------------------------------------------------------------------------------


def sync(
    url: str, dataset: Path, db_path: Path, concurrency: int, fresh: bool, recheck: bool = False
) -> Figures:
    """Time `sync_sessions(path)`, as the `sync` command does (the file opened per commit)."""
    from toolkit.config import Secret, SessionRef
    from toolkit.ingest.sync import SyncOptions, sync_sessions

    sample = load_sample(dataset)
    if fresh:
        for path in (db_path, Path(f"{db_path}.wal")):
            path.unlink(missing_ok=True)
        shutil.rmtree(f"{db_path}.spool", ignore_errors=True)
    refs = [SessionRef(org, sid) for org, sid, _n in sample.sessions]
    options = SyncOptions(url, Secret(SANDBOX_TOKEN), concurrency=concurrency, recheck=recheck)
    started = time.perf_counter()
    results = sync_sessions(db_path, refs, options)  # opens the file for each commit
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        **_sync_counts(results, sample, fresh),
        "concurrency": concurrency,
        **db_size(db_path, sample.events),
    }


def _sync_counts(results: list[Any], sample: Sample, fresh: bool) -> Figures:
    failed = [f"{r.session_id}: {r.status} {r.error}" for r in results if r.status != "ok"]
    _check(not failed, "sync failed: " + "; ".join(failed))
    received = sum(r.received for r in results)
    new = sum(r.new for r in results)
    _check(received == sample.events, f"sync received {received}, expected {sample.events}")
    expected_new = sample.events if fresh else 0
    _check(new == expected_new, f"sync stored {new} new events, expected {expected_new}")
    return {"events": received, "new": new, "pages": sum(r.pages for r in results)}


# -- queries --------------------------------------------------------------------------------


def queries(db_path: Path, repeat: int) -> dict[str, Figures]:
    """Time each contract view, every public helper and the report on the synced database."""
    import toolkit

    con = toolkit.connect(db_path, read_only=True)
    events, session_id = _largest_session(con)
    out: dict[str, Figures] = {}
    for name, call in _query_calls(con, session_id):
        out[name] = _time_query(call, repeat, events)
    con.close()
    return out


def _largest_session(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    total = con.execute("SELECT count(*) FROM events").fetchone()
    row = con.execute(
        "SELECT session_id FROM events GROUP BY session_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    _check(bool(total and row), "the database holds no events")
    assert total is not None and row is not None
    return int(total[0]), str(row[0])


def _query_calls(
    con: duckdb.DuckDBPyConnection, session_id: str
) -> list[tuple[str, Callable[[], object]]]:
    calls: list[tuple[str, Callable[[], object]]] = []
    for view in CONTRACT_VIEWS:
        calls += _view_calls(con, view, session_id)
    calls += _helper_calls(con, session_id)
    calls += _report_calls(con, session_id)
    from toolkit import run_sql  # last: it may lock the connection down

    calls.append(("helper.run_sql", lambda: run_sql(con, "SELECT count(*) FROM events")))
    return calls


def _view_calls(
    con: duckdb.DuckDBPyConnection, view: str, session_id: str
) -> list[tuple[str, Callable[[], object]]]:
    """`count(*)` of the view, and all its columns for one session, fetched as Arrow."""
    calls: list[tuple[str, Callable[[], object]]] = [
        (f"view.{view}.count", lambda: con.execute(f"SELECT count(*) FROM {view}").fetchall())
    ]
    try:
        columns = {d[0] for d in con.execute(f"SELECT * FROM {view} LIMIT 0").description}
    except duckdb.Error:
        return calls  # the count records the error
    if "session_id" in columns:
        sql = f"SELECT * FROM {view} WHERE session_id = ?"
        # a relation, not a cursor: DuckDB 2 copies a cursor's rows once more for Arrow
        calls.append(
            (f"view.{view}.session", lambda: con.sql(sql, params=[session_id]).to_arrow_table())
        )
    return calls


def _helper_calls(
    con: duckdb.DuckDBPyConnection, session_id: str
) -> list[tuple[str, Callable[[], object]]]:
    """Every public helper of `toolkit`: a function taking `con`, and at most a session."""
    import toolkit

    calls = []
    for name in toolkit.__all__:
        fn = getattr(toolkit, name)
        kwargs = _helper_args(fn, session_id)
        if name not in NOT_HELPERS and kwargs is not None:
            calls.append((f"helper.{name}", lambda fn=fn, kwargs=kwargs: fn(con, **kwargs)))
    return calls


def _helper_args(fn: object, session_id: str) -> dict[str, Any] | None:
    """The arguments after `con` (the session where one is taken); None if not a helper."""
    if not inspect.isfunction(fn):
        return None
    params = list(inspect.signature(fn).parameters.values())
    if not params or params[0].name != "con":
        return None
    kwargs: dict[str, Any] = {}
    for p in params[1:]:
        if p.name == "session_id":
            kwargs["session_id"] = session_id
        elif p.default is inspect.Parameter.empty:
            return None  # needs more than a session (sync_sessions, query): not a helper
    return kwargs


def _report_calls(
    con: duckdb.DuckDBPyConnection, session_id: str
) -> list[tuple[str, Callable[[], object]]]:
    from toolkit.report.build import build_report, render_html

    return [
        ("report.session", lambda: render_html(build_report(con, session_id))),
        ("report.index", lambda: render_html(build_report(con, None))),
    ]


def _time_query(call: Callable[[], object], repeat: int, events: int) -> Figures:
    """Median and first of `repeat` runs, and the peak RSS while running them."""
    exact = reset_peak_rss()
    times = []
    try:
        for _ in range(max(1, repeat)):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
    except Exception as exc:  # one broken helper must not hide the others' figures
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}
    return {
        "seconds": statistics.median(times),
        "first_seconds": times[0],
        "min_seconds": min(times),
        "events": events,
        "peak_rss_mb": vm_hwm_mb() if exact else peak_rss_mb(),
    }


def load_average() -> float:
    """The one-minute load average (how busy the shared machine was)."""
    return os.getloadavg()[0]
