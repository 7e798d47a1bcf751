"""The benchmark's output: one line per figure, the ratios against their targets, the JSON."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

Figures = dict[str, Any]
MB = 1024 * 1024


@dataclass(frozen=True)
class Ratio:
    """A derived figure, with its target when the issue sets one (`op` is <= or >=)."""

    name: str
    value: float | None
    op: str = ""
    bound: float | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        """PASS, MISS, n/a (a figure is missing) or "" (information only)."""
        if self.bound is None:
            return ""
        if self.value is None:
            return "n/a"
        ok = self.value <= self.bound if self.op == "<=" else self.value >= self.bound
        return "PASS" if ok else "MISS"

    def as_json(self) -> dict[str, Any]:
        """The ratio as stored in the results file."""
        target = f"{self.op} {self.bound:g}" if self.bound is not None else None
        return {
            "value": self.value,
            "target": target,
            "verdict": self.verdict or None,
            "note": self.note,
        }


def with_rate(fig: Figures) -> Figures:
    """Add events per second to a phase's figures."""
    seconds, events = fig.get("seconds"), fig.get("events")
    if seconds and events is not None:
        fig["events_per_second"] = events / seconds
    return fig


def _get(figures: dict[str, Figures], name: str, key: str = "seconds") -> float | None:
    value = figures.get(name, {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _slowest(figures: dict[str, Figures], prefixes: tuple[str, ...]) -> tuple[float | None, str]:
    timed = [
        (f["seconds"], n)
        for n, f in figures.items()
        if n.startswith(prefixes) and isinstance(f.get("seconds"), int | float)
    ]
    if not timed:
        return None, ""
    seconds, name = max(timed)
    return seconds, name


def ratios(figures: dict[str, Figures]) -> list[Ratio]:
    """The ratios and figures the issue sets targets for, plus a few for information."""
    g = _get
    limit, sync, resync = g(figures, "limit"), g(figures, "sync"), g(figures, "resync")
    worst_query, worst_name = _slowest(figures, ("view.", "helper."))
    worst_report, report_name = _slowest(figures, ("report.",))
    return [
        Ratio("sync/limit", _div(sync, limit), "<=", 2.0),
        Ratio("resync/limit", _div(resync, limit), "<=", 2.0),
        Ratio("resync/sync", _div(resync, sync), note="information"),
        Ratio(
            "resync_recheck/limit",
            _div(g(figures, "resync_recheck"), limit),
            note="information: every page decoded, every event checked",
        ),
        Ratio("sync_c1/limit", _div(g(figures, "sync_c1"), limit), note="information"),
        Ratio("resync_c1/limit", _div(g(figures, "resync_c1"), limit), note="information"),
        Ratio("fetch/limit", _div(g(figures, "fetch"), limit), note="information"),
        Ratio("fetch_build/limit", _div(g(figures, "fetch_build"), limit), note="information"),
        Ratio(
            "fetch_build_c1/limit",
            _div(g(figures, "fetch_build_c1"), limit),
            note="information: decoding and building alone, one session at a time",
        ),
        Ratio(
            "sync/fetch_build_c1",
            _div(sync, g(figures, "fetch_build_c1")),
            note="information: what storing adds to them",
        ),
        Ratio(
            "sync_peak_rss_mb",
            g(figures, "sync", "peak_rss_mb"),
            "<=",
            500.0,
            "target: < 500 MB at 1M, no higher at 4M (compare runs)",
        ),
        Ratio("resync_peak_rss_mb", g(figures, "resync", "peak_rss_mb"), "<=", 500.0),
        Ratio("db_bytes_per_event", g(figures, "sync", "bytes_per_event"), "<=", 300.0),
        Ratio(
            "latency_sync/fetch",
            _div(g(figures, "latency_sync"), g(figures, "latency_fetch")),
            "<=",
            1.1,
        ),
        Ratio(
            "concurrency_speedup",
            _div(g(figures, "latency_sync_c1"), g(figures, "latency_sync")),
            ">=",
            5.0,
        ),
        Ratio("slowest_view_or_helper_s", worst_query, "<=", 1.0, worst_name),
        Ratio("slowest_report_s", worst_report, "<=", 5.0, report_name),
    ]


def figure_line(name: str, fig: Figures) -> str:
    """`sync            8.21 s   121,800 ev/s   412 MB` (or the error)."""
    if "error" in fig:
        return f"{name:<44} ERROR {fig['error']}"
    rate = fig.get("events_per_second")
    rate_text = f"{rate:>12,.0f} ev/s" if rate else " " * 17
    rss = fig.get("peak_rss_mb")
    rss_text = f"{rss:6.0f} MB" if rss is not None else ""
    extra = ""
    if fig.get("bytes_per_event"):
        extra = f"   db {fig['db_bytes'] / MB:,.0f} MB, {fig['bytes_per_event']:.0f} B/event"
    return f"{name:<44} {fig['seconds']:9.3f} s {rate_text} {rss_text}{extra}"


def ratio_line(ratio: Ratio) -> str:
    """`sync/limit  1.73   target <= 2   PASS`."""
    value = "n/a" if ratio.value is None else f"{ratio.value:.3f}"
    target = f"target {ratio.op} {ratio.bound:g}" if ratio.bound is not None else ""
    note = f"  ({ratio.note})" if ratio.note else ""
    return f"{ratio.name:<28} {value:>10}   {target:<15} {ratio.verdict:<4}{note}"


def machine() -> dict[str, Any]:
    """Where the figures come from: CPUs, memory, Python and library versions, commit."""
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _proc_field("/proc/cpuinfo", "model name"),
        "memory_total": _proc_field("/proc/meminfo", "MemTotal"),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in (
                "duckdb",
                "pyarrow",
                "polars",
                "orjson",
                "requests",
                "slido-compliance-toolkit",
            )
        },
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain")),
    }


def _proc_field(path: str, field: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    """Read-only git facts about the checkout; None outside a repository."""
    try:
        out = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=10, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def source_digest() -> str:
    """A hash of the toolkit's Python and SQL sources: equal hashes, same code measured."""
    import toolkit

    root = Path(toolkit.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in {".py", ".sql"}:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def write_results(folder: Path, payload: dict[str, Any]) -> Path:
    """Write the run as `<UTC timestamp>.json` under `folder`; return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path
