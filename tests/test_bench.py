"""The benchmark runs end to end at a tiny size and writes every figure (no timed assertions)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"
PHASES = (
    "limit",
    "fetch",
    "fetch_build",
    "fetch_build_c1",
    "sync",
    "resync",
    "resync_recheck",
    "sync_c1",
    "resync_c1",
    "queries",
    "latency_fetch",
    "latency_sync",
    "latency_sync_c1",
)
RATIOS = (
    "sync/limit",
    "resync/limit",
    "sync_peak_rss_mb",
    "db_bytes_per_event",
    "latency_sync/fetch",
    "concurrency_speedup",
    "slowest_view_or_helper_s",
    "slowest_report_s",
)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    """One benchmark run at 3,000 events over 4 sessions, and the JSON it wrote."""
    root = tmp_path_factory.mktemp("bench")
    cmd = [
        sys.executable,
        str(BENCH),
        "--events",
        "3000",
        "--sessions",
        "4",
        "--latency",
        "0.01",
        "--repeat",
        "1",
        "--work",
        str(root / "work"),
        "--results",
        str(root / "results"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=280)
    written = sorted((root / "results").glob("*.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(written) == 1, proc.stderr[-3000:]
    return proc, json.loads(written[0].read_text())


@pytest.mark.slow
def test_bench_records_every_phase_with_time_rate_and_memory(bench_run: tuple) -> None:
    _proc, result = bench_run
    for name in PHASES:
        figure = result["figures"][name]
        assert "error" not in figure, (name, figure)
        assert figure["seconds"] > 0
        assert figure["peak_rss_mb"] > 0
        if name != "queries":
            assert figure["events_per_second"] > 0
            assert figure["events"] > 0


@pytest.mark.slow
def test_bench_times_every_contract_view_helper_and_the_report(bench_run: tuple) -> None:
    _proc, result = bench_run
    names = set(result["figures"])
    for expected in (
        "view.sessions.count",
        "view.poll_results.session",
        "helper.poll_results",
        "helper.qa_questions",
        "report.session",
        "report.index",
    ):
        assert expected in names
    queries = {
        n: f for n, f in result["figures"].items() if n.startswith(("view.", "helper.", "report."))
    }
    for name, figure in queries.items():
        assert "error" not in figure, (name, figure)
        # real runs were timed: the median is positive and no faster than the fastest run
        assert 0 < figure["min_seconds"] <= figure["seconds"], (name, figure)
        assert figure["min_seconds"] <= figure["first_seconds"], (name, figure)
        assert figure["events"] == 3000 and figure["peak_rss_mb"] > 0, (name, figure)
    # every query ran inside the queries phase, one after another, so their times add up
    # to less than the phase took
    assert (
        sum(f["first_seconds"] for f in queries.values()) < result["figures"]["queries"]["seconds"]
    )


@pytest.mark.slow
def test_bench_ends_with_every_ratio_and_its_verdict(bench_run: tuple) -> None:
    proc, result = bench_run
    for name in RATIOS:
        ratio = result["ratios"][name]
        assert ratio["value"] is not None, name
        assert ratio["verdict"] in ("PASS", "MISS")
        assert name in proc.stdout
    for name in ("fetch_build_c1/limit", "sync/fetch_build_c1"):  # information only
        assert result["ratios"][name]["value"] > 0, name
    assert result["figures"]["sync"]["bytes_per_event"] > 0
    assert result["sample"] == {**result["sample"], "events": 3000, "sessions": 4}
    assert result["machine"]["cpu_count"] >= 1
    assert result["machine"]["versions"]["duckdb"]


@pytest.mark.slow
def test_medians_combine_runs_of_the_same_code_and_refuse_a_mix(
    bench_run: tuple, tmp_path: Path
) -> None:
    _proc, result = bench_run
    runs = []
    for n, sync_seconds in enumerate((3.0, 1.0, 2.0)):
        copy = json.loads(json.dumps(result))
        copy["figures"]["sync"]["seconds"] = sync_seconds
        runs.append(tmp_path / f"{n}.json")
        runs[-1].write_text(json.dumps(copy))
    medians = BENCH.with_name("medians.py")
    proc = subprocess.run(
        [sys.executable, str(medians), *map(str, runs)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "median of 3 runs" in proc.stdout
    assert re.search(r"^sync\s+2\.000 s$", proc.stdout, re.M)
    assert "sync/fetch_build_c1" in proc.stdout
    older = json.loads(runs[1].read_text())  # a run from before that ratio existed
    del older["ratios"]["sync/fetch_build_c1"]
    runs[1].write_text(json.dumps(older))
    proc = subprocess.run(
        [sys.executable, str(medians), *map(str, runs)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "sync/fetch_build_c1" not in proc.stdout and "sync/limit" in proc.stdout
    other = json.loads(runs[0].read_text())
    other["toolkit_digest"] = "different"
    runs[0].write_text(json.dumps(other))
    proc = subprocess.run(
        [sys.executable, str(medians), *map(str, runs)], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "different code or samples" in proc.stderr
