"""Benchmark sync against DuckDB's own JSON loading, side by side, in one command.

Usage: python bench/run.py [--events N] [--sessions 16] [--concurrency 4] ...

Generates (or reuses) a sample under bench/work/, serves it from a sandbox process
on loopback, and runs each measured phase in a child process of its own
(`run.py --phase NAME ...`), so every phase's peak RSS is its own. Prints one line
per figure, then the ratios against the issue's targets, and writes the same as
JSON under bench/results/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import phases
import summary
from workdir import Sample, SandboxProcess, ensure_pages, ensure_sample, ensure_subset, log

HERE = Path(__file__).resolve().parent
Figures = dict[str, Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: the run's sizes, or (internally) one phase to measure."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000, help="events in the sample")
    p.add_argument("--sessions", type=int, default=16, help="sessions in the sample")
    p.add_argument("--seed", type=int, default=7, help="seed of the sample")
    p.add_argument("--concurrency", type=int, default=4, help="sessions at once (fetch, sync)")
    p.add_argument("--latency", type=float, default=0.05, help="seconds added per page")
    p.add_argument(
        "--latency-events",
        type=int,
        default=None,
        help="events in the latency subset (default: min(events, 200000))",
    )
    p.add_argument(
        "--latency-concurrency", type=int, default=8, help="sessions at once under latency"
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per query (median is kept)")
    p.add_argument("--work", type=Path, default=HERE / "work", help="work folder (reused)")
    p.add_argument("--results", type=Path, default=HERE / "results", help="results folder")
    p.add_argument("--phase-timeout", type=float, default=3600.0, help="seconds per phase")
    internal = p.add_argument_group("one phase (what the benchmark runs in each child)")
    internal.add_argument("--phase", choices=sorted(PHASES))
    internal.add_argument("--url")
    internal.add_argument("--dataset", type=Path)
    internal.add_argument("--db", type=Path)
    internal.add_argument("--pages", type=Path)
    internal.add_argument("--expect", type=int)
    internal.add_argument("--fresh", action="store_true", help="sync into a new database")
    internal.add_argument("--build", action="store_true", help="fetch: also build batches")
    internal.add_argument("--recheck", action="store_true", help="sync: decode every page")
    return p.parse_args(argv)


# -- a child: one phase ---------------------------------------------------------------------


def _phase_limit(a: argparse.Namespace) -> Figures:
    return phases.limit(a.pages, a.db, a.expect)


def _phase_fetch(a: argparse.Namespace) -> Figures:
    return phases.fetch(a.url, a.dataset, a.concurrency, a.build)


def _phase_sync(a: argparse.Namespace) -> Figures:
    return phases.sync(a.url, a.dataset, a.db, a.concurrency, a.fresh, a.recheck)


def _phase_queries(a: argparse.Namespace) -> Figures:
    started = time.perf_counter()
    per_query = phases.queries(a.db, a.repeat)
    return {"seconds": time.perf_counter() - started, "queries": per_query}


PHASES = {
    "limit": _phase_limit,
    "fetch": _phase_fetch,
    "sync": _phase_sync,
    "queries": _phase_queries,
}


def run_phase(args: argparse.Namespace) -> int:
    """Measure one phase and print its figures as one JSON line on stdout."""
    try:
        figures = PHASES[args.phase](args)
    except RuntimeError as exc:
        print(f"phase {args.phase}: {exc}", file=sys.stderr)
        return 1
    figures["peak_rss_mb"] = phases.peak_rss_mb()
    figures["cpu_seconds"] = phases.cpu_seconds()
    print(json.dumps(figures))
    return 0


# -- the parent: every phase, side by side --------------------------------------------------


class Run:
    """The figures gathered so far, printed as each phase finishes."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.figures: dict[str, Figures] = {}

    def measure(self, name: str, phase: str, *options: object) -> Figures:
        """Run `phase` in a child process and record its figures under `name`."""
        log(f"[{name}] running ...")
        fig = self._child(phase, [str(o) for o in options])
        if "queries" in fig:
            for query, figure in fig.pop("queries").items():
                self._record(query, figure)
        return self._record(name, fig)

    def _record(self, name: str, fig: Figures) -> Figures:
        self.figures[name] = summary.with_rate(fig)
        print(summary.figure_line(name, fig), flush=True)
        return fig

    def _child(self, phase: str, options: list[str]) -> Figures:
        cmd = [sys.executable, str(HERE / "run.py"), "--phase", phase, *options]
        load = phases.load_average()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {self.timeout:.0f} s"}
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            return {"error": f"exit {proc.returncode}: {tail}"[:800]}
        fig = json.loads(lines[-1])
        fig["load_average_before"] = load
        return fig

    @property
    def errors(self) -> list[str]:
        """Names of the figures that failed."""
        return [n for n, f in self.figures.items() if "error" in f]


def run_all(args: argparse.Namespace) -> int:
    """Every phase, then the ratios and the results file; 1 if a phase failed."""
    started = datetime.now(timezone.utc)
    code = summary.source_digest()
    args.work.mkdir(parents=True, exist_ok=True)
    sample = ensure_sample(args.work, args.events, args.sessions, args.seed)
    subset = ensure_subset(sample, args.latency_events or min(args.events, 200_000))
    run = Run(args.phase_timeout)
    pages = _main_phases(run, args, sample)
    _latency_phases(run, args, subset)
    found = summary.ratios(run.figures)
    print()
    for ratio in found:
        print(summary.ratio_line(ratio), flush=True)
    payload = _payload(args, started, sample, subset, pages, run, found)
    payload["toolkit_digest"] = code
    payload["toolkit_changed_during_run"] = summary.source_digest() != code
    if payload["toolkit_changed_during_run"]:
        log("warning: toolkit sources changed during the run; phases measured different code")
    path = summary.write_results(args.results, payload)
    log(f"wrote {path}")
    if run.errors:
        log("failed: " + ", ".join(run.errors))
    return 1 if run.errors else 0


def _main_phases(run: Run, args: argparse.Namespace, sample: Sample) -> int:
    db, n, c = args.work / "sync.duckdb", sample.events, args.concurrency
    with SandboxProcess(sample.folder) as box:
        pages = ensure_pages(box.url, sample)
        src = ("--url", box.url, "--dataset", sample.folder)
        run.measure(
            "limit", "limit", "--pages", pages, "--db", args.work / "limit.duckdb", "--expect", n
        )
        run.measure("fetch", "fetch", *src, "--concurrency", c)
        run.measure("fetch_build", "fetch", *src, "--concurrency", c, "--build")
        # one session at a time, as the paced sync runs on loopback: the floor of its
        # per-event Python, with nothing stored
        run.measure("fetch_build_c1", "fetch", *src, "--concurrency", 1, "--build")
        run.measure("sync", "sync", *src, "--db", db, "--concurrency", c, "--fresh")
        run.measure("resync", "sync", *src, "--db", db, "--concurrency", c)
        # the same with every page decoded and every event checked (`sync --recheck`)
        run.measure("resync_recheck", "sync", *src, "--db", db, "--concurrency", c, "--recheck")
        # against a loopback server the work is CPU-bound: one session at a time is the
        # other configuration worth knowing (its own file, so the queries use `sync`'s)
        db1 = args.work / "sync_c1.duckdb"
        run.measure("sync_c1", "sync", *src, "--db", db1, "--concurrency", 1, "--fresh")
        run.measure("resync_c1", "sync", *src, "--db", db1, "--concurrency", 1)
    run.measure("queries", "queries", "--db", db, "--repeat", args.repeat)
    return len(list(pages.glob("[0-9]*.json")))


def _latency_phases(run: Run, args: argparse.Namespace, subset: Sample) -> None:
    db, c = args.work / "latency.duckdb", args.latency_concurrency
    with SandboxProcess(subset.folder, latency=args.latency) as box:
        src = ("--url", box.url, "--dataset", subset.folder)
        run.measure("latency_fetch", "fetch", *src, "--concurrency", c)
        run.measure("latency_sync", "sync", *src, "--db", db, "--concurrency", c, "--fresh")
        run.measure("latency_sync_c1", "sync", *src, "--db", db, "--concurrency", 1, "--fresh")


def _payload(
    args: argparse.Namespace,
    started: datetime,
    sample: Sample,
    subset: Sample,
    pages: int,
    run: Run,
    found: list[summary.Ratio],
) -> dict[str, Any]:
    return {
        "format": 1,
        "started_at": started.isoformat(),
        "seconds": (datetime.now(timezone.utc) - started).total_seconds(),
        "args": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in vars(args).items()
            if k
            not in {"phase", "url", "dataset", "db", "pages", "expect", "fresh", "build", "recheck"}
        },
        "sample": {
            "events": sample.events,
            "sessions": len(sample.sessions),
            "seed": sample.seed,
            "bytes": sample.bytes,
            "pages": pages,
        },
        "latency_subset": {
            "events": subset.events,
            "sessions": len(subset.sessions),
            "latency_s": args.latency,
            "concurrency": args.latency_concurrency,
        },
        "machine": summary.machine(),
        "figures": run.figures,
        "ratios": {r.name: r.as_json() for r in found},
        "errors": run.errors,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, or one phase of it when `--phase` is given."""
    args = parse_args(argv)
    if args.phase:
        return run_phase(args)
    return run_all(args)


if __name__ == "__main__":
    sys.exit(main())
