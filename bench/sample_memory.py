"""Show that the sample generator streams: events/s and peak memory at growing sizes.

Each size runs `toolkit.sample.write_sample` in a fresh subprocess, which reports its
resident memory after imports, its peak resident memory, and its speed. Flat peaks
across sizes mean memory does not grow with the number of events.

Usage:
    .venv/bin/python bench/sample_memory.py --sizes 100000,400000,1600000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
import psutil
from toolkit.sample.generate import write_sample
base = psutil.Process().memory_info().rss
start = time.perf_counter()
info = write_sample(sys.argv[1], sessions=int(sys.argv[3]), events=int(sys.argv[2]), seed=7)
seconds = time.perf_counter() - start
size = sum((info.out_dir / s.file).stat().st_size for s in info.sessions)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"events": info.events, "seconds": seconds, "bytes": size,
                  "base_rss": base, "peak_rss": peak}))
"""


def measure(events: int, sessions: int, folder: Path) -> dict[str, float]:
    """Generate `events` events in a subprocess and return its figures."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(events), str(sessions)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,400000,1600000", help="comma-separated")
    parser.add_argument("--sessions", type=int, default=3)
    args = parser.parse_args()
    mib = 1 << 20
    print(
        f"{'events':>10} {'events/s':>10} {'output MiB':>11} {'RSS after import':>17} "
        f"{'peak RSS':>9} {'growth':>7}"
    )
    for events in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="sample-bench-") as tmp:
            r = measure(events, args.sessions, Path(tmp))
        growth = r["peak_rss"] - r["base_rss"]
        print(
            f"{r['events']:>10,} {r['events'] / r['seconds']:>10,.0f} "
            f"{r['bytes'] / mib:>11,.1f} {r['base_rss'] / mib:>13,.1f} MiB "
            f"{r['peak_rss'] / mib:>5,.1f} MiB {growth / mib:>3,.1f} MiB"
        )


if __name__ == "__main__":
    main()
