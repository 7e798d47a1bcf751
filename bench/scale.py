"""How a session's questions cost as the record grows (issue 19), in one command.

Usage: python bench/scale.py [--sizes 1000000:100,4000000:400] [--baseline DIR]

For each size (events:sessions, seed 3) it generates (or reuses) the sample under
bench/work/, syncs it into a fresh file from a sandbox process, and times, in child
processes of their own: the per-session helpers and the report for the session
nearest 10,000 events, the record-wide `sessions()`, `poll_results(con)` and
`count(*)` of every view, and adding one new 10,000-event session (and its
re-sync) to the record against adding it to an empty file. With --baseline (a
worktree of the release before), the fresh sync of the first size is also timed
with that code, for the 1.15 x target. Prints a table with the growth between the
sizes and PASS/MISS, and writes JSON under bench/results/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import phases
import summary
from workdir import SANDBOX_TOKEN, SandboxProcess, ensure_sample, load_sample, log

HERE = Path(__file__).resolve().parent
Figures = dict[str, Any]
TARGET_EVENTS = 10_000  # the size of "one session" in the targets
PER_SESSION = (
    "qa_questions",
    "question_replies",
    "moderation_log",
    "user_activity",
    "deleted_content",
    "audit_summary",
    "timeline",
    "polls_overview",
    "poll_results",
    "event_digest",
    "sync_history",
)
LIMITS = {"helper": 0.1, "report": 0.5, "record": 1.0, "growth": 1.3, "add": 1.2, "sync": 1.15}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: sizes and baseline, or (internally) one phase."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000000:100,4000000:400", help="events:sessions, ...")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--repeat", type=int, default=5, help="runs per query (median kept)")
    p.add_argument("--baseline", type=Path, help="worktree of the release before (sync ratio)")
    p.add_argument("--work", type=Path, default=HERE / "work")
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--phase", choices=("sync", "queries"))
    p.add_argument("--url")
    p.add_argument("--dataset", type=Path)
    p.add_argument("--db", type=Path)
    p.add_argument("--session")
    p.add_argument("--fresh", action="store_true")
    return p.parse_args(argv)


# -- children --------------------------------------------------------------------------------


def phase_sync(a: argparse.Namespace) -> Figures:
    """Sync every session of the dataset into the file (a new one with --fresh)."""
    import toolkit
    from toolkit.config import Secret, SessionRef
    from toolkit.ingest.sync import SyncOptions, sync_sessions

    sample = load_sample(a.dataset)
    if a.fresh:
        for path in (a.db, Path(f"{a.db}.wal")):
            path.unlink(missing_ok=True)
    refs = [SessionRef(org, sid) for org, sid, _n in sample.sessions]
    started = time.perf_counter()
    con = toolkit.connect(a.db)
    results = sync_sessions(con, refs, SyncOptions(a.url, Secret(SANDBOX_TOKEN), concurrency=4))
    con.close()
    seconds = time.perf_counter() - started
    failed = [f"{r.session_id}: {r.error}" for r in results if r.status != "ok"]
    if failed:
        raise RuntimeError("sync failed: " + "; ".join(failed))
    return {
        "seconds": seconds,
        "events": sum(r.received for r in results),
        "new": sum(r.new for r in results),
        "db_bytes": a.db.stat().st_size,
    }


def phase_queries(a: argparse.Namespace) -> Figures:
    """Median seconds of each per-session and record-wide question."""
    import toolkit
    from toolkit.report.build import build_report, render_html

    con = toolkit.connect(a.db, read_only=True)
    sid = a.session
    calls: dict[str, Any] = {
        f"session.{name}": (lambda name=name: getattr(toolkit, name)(con, session_id=sid))
        for name in PER_SESSION
    }
    calls["session.report"] = lambda: render_html(build_report(con, sid))
    calls["record.sessions"] = lambda: toolkit.sessions(con)
    calls["record.poll_results"] = lambda: toolkit.poll_results(con)
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"
    ).fetchall()
    for (view,) in views:
        calls[f"count.{view}"] = lambda v=view: con.execute(f"SELECT count(*) FROM {v}").fetchall()
    out = {name: _median(call, a.repeat) for name, call in calls.items()}
    con.close()
    return out


def _median(call: Any, repeat: int) -> float:
    """Median of `repeat` runs; one run when the first takes over 2 s (a miss whatever
    the others take: every limit is at most 1 s), so a large record's slow views do not
    take the run's hour."""
    times: list[float] = []
    while len(times) < max(1, repeat) and not (times and times[0] > 2.0):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_phase(a: argparse.Namespace) -> int:
    """One phase; its figures as one JSON line on stdout."""
    figures = phase_sync(a) if a.phase == "sync" else phase_queries(a)
    figures["peak_rss_mb"] = phases.peak_rss_mb()
    print(json.dumps(figures))
    return 0


def child(options: list[str], code: Path | None = None) -> Figures:
    """Run a phase in a child process (with another toolkit on PYTHONPATH for `code`)."""
    script = (code or HERE.parent) / "bench" / ("run.py" if code else "scale.py")
    env = {**os.environ, "PYTHONPATH": str(code or HERE.parent)}
    proc = subprocess.run(
        [sys.executable, str(script), *options], capture_output=True, text=True, env=env
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"phase {options[:2]} failed: {proc.stderr.strip()[-800:]}")
    return dict(json.loads(lines[-1]))


# -- the parent ------------------------------------------------------------------------------


def measure_size(
    a: argparse.Namespace, events: int, sessions: int, extra: Path, last: bool
) -> Figures:
    """Sync one size, time its questions and the added session."""
    sample = ensure_sample(a.work, events, sessions, a.seed)
    db = a.work / f"scale-{events}x{sessions}.duckdb"
    with SandboxProcess(sample.folder) as box:
        log(f"[{events:,}] sync ...")
        out: Figures = {"sync": child(_sync(box.url, sample.folder, db, fresh=True))}
        if a.baseline and last:
            log(f"[{events:,}] sync with the baseline code ...")
            base_db = a.work / "scale-baseline.duckdb"
            out["baseline_sync"] = child(
                [*_sync(box.url, sample.folder, base_db, fresh=True), "--concurrency", "4"],
                code=a.baseline,
            )
            base_db.unlink(missing_ok=True)
    _org, sid, n = min(sample.sessions, key=lambda s: abs(s[2] - TARGET_EVENTS))
    out["session"] = {"session_id": sid, "events": n}
    log(f"[{events:,}] queries on {sid} ({n} events) ...")
    out["queries"] = child(
        ["--phase", "queries", "--db", str(db), "--session", sid, "--repeat", str(a.repeat)]
    )
    if last:  # the targets compare adding to the larger record with adding to nothing
        out["add"] = add_session(extra, db, a.work / "scale-add.duckdb")
    return out


def add_session(extra: Path, record: Path, scratch: Path) -> Figures:
    """Sync the extra session (and re-sync it) into a copy of the record and into nothing."""
    out: Figures = {}
    with SandboxProcess(extra) as box:
        for name, source in (("empty", None), ("record", record)):
            scratch.unlink(missing_ok=True)
            if source is not None:
                shutil.copyfile(source, scratch)
                _flush(scratch)
            out[f"{name}.sync"] = child(_sync(box.url, extra, scratch))["seconds"]
            out[f"{name}.resync"] = child(_sync(box.url, extra, scratch))["seconds"]
    scratch.unlink(missing_ok=True)
    return out


def _flush(path: Path) -> None:
    """Write a fresh copy's pages to disk before the timed sync: otherwise its first
    checkpoint's fsync writes the whole copy (the close took 0.38 s of a 0.86 s add
    into the 4M record, 0.08 s with the copy on disk), a cost of the copy, not of the
    record's size."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _sync(url: str, dataset: Path, db: Path, fresh: bool = False) -> list[str]:
    options = ["--phase", "sync", "--url", url, "--dataset", str(dataset), "--db", str(db)]
    return [*options, "--fresh"] if fresh else options


def verdicts(sizes: list[tuple[str, Figures]]) -> list[dict[str, Any]]:
    """One row per figure: value per size, growth, target, PASS/MISS."""
    (small_name, small), (large_name, large) = sizes[0], sizes[-1]
    rows = []
    for name in sorted(large["queries"]):
        if name == "peak_rss_mb":
            continue
        limit = _limit(name)
        value_s, value_l = small["queries"].get(name), large["queries"][name]
        growth = value_l / value_s if value_s else None
        ok = value_l <= limit if limit else True
        if name.startswith("session.") and growth is not None:
            ok = ok and growth <= LIMITS["growth"] and value_s <= limit
        rows.append(_row(name, value_s, value_l, growth, f"<= {limit} s", ok))
    for kind in ("sync", "resync"):
        empty, full = large["add"][f"empty.{kind}"], large["add"][f"record.{kind}"]
        rows.append(_row(f"add.{kind}", empty, full, full / empty, "<= 1.2 x", full / empty <= 1.2))
    sync = large["sync"]
    per_event = sync["db_bytes"] / sync["events"]
    rows.append(_row("bytes_per_event", per_event, None, None, "<= 300", per_event <= 300))
    for name, fig in (small_name, small), (large_name, large):
        rss = fig["sync"]["peak_rss_mb"]
        rows.append(_row(f"sync_peak_rss_mb.{name}", rss, None, None, "< 500", rss < 500))
    if "baseline_sync" in large:
        ratio = sync["seconds"] / large["baseline_sync"]["seconds"]
        rows.append(
            _row(
                "sync/baseline",
                large["baseline_sync"]["seconds"],
                sync["seconds"],
                ratio,
                "<= 1.15 x",
                ratio <= LIMITS["sync"],
            )
        )
    return rows


def _limit(name: str) -> float:
    if name == "session.report":
        return LIMITS["report"]
    return LIMITS["helper"] if name.startswith("session.") else LIMITS["record"]


def _row(name: str, small: Any, large: Any, growth: Any, target: str, ok: bool) -> dict:
    return {
        "figure": name,
        "small": small,
        "large": large,
        "growth": growth,
        "target": target,
        "verdict": "PASS" if ok else "MISS",
    }


def print_table(rows: list[dict[str, Any]], names: list[str]) -> None:
    """The table: figure, each size, growth, target, verdict."""

    def cell(value: Any) -> str:
        return "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    print(f"| figure | {names[0]} | {names[-1]} | growth | target | verdict |")
    print("| --- | --: | --: | --: | --- | --- |")
    for r in rows:
        print(
            f"| {r['figure']} | {cell(r['small'])} | {cell(r['large'])} | "
            f"{cell(r['growth'])} | {r['target']} | {r['verdict']} |"
        )


def main(argv: list[str] | None = None) -> int:
    """Build both records, time every figure, print and save the table."""
    a = parse_args(argv)
    if a.phase:
        return run_phase(a)
    started = datetime.now(timezone.utc)
    a.work.mkdir(parents=True, exist_ok=True)
    extra = ensure_sample(a.work, TARGET_EVENTS, 1, a.seed + 1000).folder
    sizes = []
    specs = a.sizes.split(",")
    for n, spec in enumerate(specs):
        events, sessions = (int(x) for x in spec.split(":"))
        figures = measure_size(a, events, sessions, extra, last=n == len(specs) - 1)
        sizes.append((f"{events / 1_000_000:g}M/{sessions}", figures))
    rows = verdicts(sizes)
    print_table(rows, [name for name, _ in sizes])
    payload = {
        "started_at": started.isoformat(),
        "machine": summary.machine(),
        "load_average_end": phases.load_average(),
        "sizes": dict(sizes),
        "rows": rows,
        "toolkit_digest": summary.source_digest(),
    }
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"scale-{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    log(f"wrote {path}")
    return 0 if all(r["verdict"] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
