"""Time `export` and `verify` of a large record, with each one's peak memory.

It builds the database once (the sample in `bench/work/`, served by the sandbox in
a process of its own, synced into `bench/work/export-<events>.duckdb`; both reused
while they match), then runs export, verify and verify --db each in a child
process of its own, whose peak resident memory (`ru_maxrss`) and CPU seconds are
that step's alone; psutil samples the child's memory every 0.1 s as a check.

Usage:
    .venv/bin/python bench/export.py                   # 1,000,000 events, 16 sessions
    .venv/bin/python bench/export.py --events 200000   # quicker
    .venv/bin/python bench/export.py --db data/compliance.duckdb   # an existing record
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workdir import SANDBOX_TOKEN, SandboxProcess, ensure_sample, log

HERE = Path(__file__).resolve().parent
CHILD = """
import json, resource, sys, time
from pathlib import Path
from toolkit import commands
step, db, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
start, cpu = time.perf_counter(), time.process_time()
if step == "export":
    text = commands.run_export(db, out)
elif step == "verify":
    text = commands.run_verify(out)
else:
    text = commands.run_verify(out, db)
print(json.dumps({
    "seconds": time.perf_counter() - start,
    "cpu_seconds": time.process_time() - cpu,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "said": text.splitlines()[0],
}))
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--db", type=Path, help="export this database instead of building one")
    return parser.parse_args(argv)


def ensure_database(args: argparse.Namespace) -> Path:
    """The record to export: given, or the sample synced once into the work folder."""
    if args.db is not None:
        return args.db
    db = args.work / f"export-{args.events}-{args.sessions}-{args.seed}.duckdb"
    if db.exists():
        return db
    sample = ensure_sample(args.work, args.events, args.sessions, args.seed)
    partial = db.with_name(db.name + ".partial")
    partial.unlink(missing_ok=True)
    listing = args.work / "export-sessions.txt"
    listing.write_text("".join(f"{org},{sid}\n" for org, sid, _n in sample.sessions))
    with SandboxProcess(sample.folder) as box:
        log(f"syncing {sample.events} events from {box.url} into {db}")
        env = {**os.environ, "WEBEX_ACCESS_TOKEN": SANDBOX_TOKEN}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "toolkit",
                "sync",
                "--db",
                str(partial),
                "--base-url",
                box.url,
                "--sessions-file",
                str(listing),
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    partial.rename(db)
    return db


def measure(step: str, db: Path, out: Path) -> dict[str, object]:
    """Run one step in a child process; its figures plus psutil's sampled peak."""
    proc = psutil.Popen(
        [sys.executable, "-c", CHILD, step, str(db), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampled = 0
    while proc.poll() is None:
        try:
            sampled = max(sampled, proc.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{step} failed ({proc.returncode}): {stderr.strip()}")
    figures = json.loads(stdout)
    figures["sampled_peak_rss_mb"] = round(sampled / 2**20, 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    db = ensure_database(args)
    out = args.work / "export-out"
    shutil.rmtree(out, ignore_errors=True)
    (events,) = _events(db)
    results: dict[str, object] = {
        "events": events,
        "db_bytes": db.stat().st_size,
        "load_average": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    for step in ("export", "verify", "verify_db"):
        log(f"{step} ...")
        results[step] = measure(step, db, out)
    results["export_bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(json.dumps(results, indent=2))
    return 0


def _events(db: Path) -> tuple[int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM events").fetchone()
    finally:
        con.close()
    assert row is not None
    return (int(row[0]),)


if __name__ == "__main__":
    sys.exit(main())
