"""The demo's last line is a command that works as printed, virtual environment or not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_demo_ends_with_a_command_that_runs_without_the_venv_on_path(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    demo = subprocess.run(
        [sys.executable, "-m", "toolkit", "demo"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr
    last = demo.stdout.strip().splitlines()[-1]
    assert last.startswith("next: SLIDO_DB=data/demo.duckdb ")
    # a new user's shell: the venv's bin folder not on PATH, nothing activated
    env["PATH"] = "/usr/bin:/bin"
    env.pop("VIRTUAL_ENV", None)
    shown = subprocess.run(
        ["/bin/sh", "-c", last.removeprefix("next: ")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "poll_id" in shown.stdout
