"""The demo end to end: its HTML index links every session's HTML report, relatively."""

from __future__ import annotations

import re
from pathlib import Path

from toolkit.demo import describe_demo, run_demo
from toolkit.sample.generate import SampleInfo


def test_demo_writes_an_html_index_linking_each_sessions_report(
    sample_dataset: SampleInfo, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    result = run_demo(tmp_path / "demo.duckdb", reports, sample_dataset.out_dir)
    index = (reports / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)">', index)
    sessions = [s.session_id for s in sample_dataset.sessions]
    assert sorted(links) == sorted(f"{sid}.html" for sid in sessions)
    assert all((reports / link).is_file() for link in links)  # relative to the index
    assert (reports / "index.md").is_file()
    assert f"report {reports / 'index.html'}" in describe_demo(result)
