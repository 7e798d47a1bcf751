"""The median of several benchmark runs: `python bench/medians.py bench/results/A.json B.json ...`

The machine is shared and noisy, so targets are judged on medians. Only runs of the
same toolkit sources (`toolkit_digest`) and the same sample may be combined; the
command refuses a mix.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

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
)


def medians(runs: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall seconds of the main phases, and median value of every ratio."""
    seconds = {
        name: statistics.median(r["figures"][name]["seconds"] for r in runs)
        for name in PHASES
        if all("seconds" in r["figures"].get(name, {}) for r in runs)
    }
    names = [
        n
        for n in runs[0]["ratios"]
        if all(r["ratios"].get(n, {}).get("value") is not None for r in runs)
    ]
    ratios = {n: statistics.median(r["ratios"][n]["value"] for r in runs) for n in names}
    return seconds, ratios


def main(paths: list[str]) -> int:
    runs = [json.loads(Path(p).read_text()) for p in paths]
    if not runs:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    kinds = {(r["toolkit_digest"], r["sample"]["events"], r["sample"]["seed"]) for r in runs}
    if len(kinds) > 1:
        print(f"these runs measured different code or samples: {sorted(kinds)}", file=sys.stderr)
        return 2
    seconds, ratios = medians(runs)
    print(f"median of {len(runs)} runs ({runs[0]['sample']['events']:,} events)")
    for name, value in seconds.items():
        print(f"{name:<28} {value:9.3f} s")
    for name, value in ratios.items():
        target = runs[0]["ratios"][name]["target"]
        print(f"{name:<28} {value:9.3f}   {target or '(information)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
