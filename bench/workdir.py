"""The benchmark's inputs: the sample, the pages as served, a latency subset, the sandbox.

Everything lives in a work folder (`bench/work/` by default, git-ignored) and is
reused when its manifest still matches, so a second run skips the generation.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson
import requests

from toolkit.sample.generate import read_manifest, write_sample

SANDBOX_TOKEN = "sandbox-token"
EVENTS_PATH = "/slido/compliance/events"
_READY = re.compile(r" at (http://\S+) ")
_DONE = "done.json"


@dataclass(frozen=True)
class Sample:
    """A dataset on disk: its folder, size and sessions as (org_id, session_id, events)."""

    folder: Path
    events: int
    seed: int
    sessions: tuple[tuple[str, str, int], ...]

    @property
    def bytes(self) -> int:
        """Size of the event files."""
        return sum(p.stat().st_size for p in (self.folder / "events").glob("*.jsonl"))


def log(message: str) -> None:
    """Progress for the person running the benchmark (stderr, so stdout stays data)."""
    print(message, file=sys.stderr, flush=True)


def load_sample(folder: Path) -> Sample:
    """Read a dataset's manifest."""
    info = read_manifest(folder)
    sessions = tuple((s.org_id, s.session_id, s.events) for s in info.sessions)
    return Sample(folder, info.events, info.seed, sessions)


def ensure_sample(work: Path, events: int, sessions: int, seed: int) -> Sample:
    """The sample of `events` over `sessions`, generated unless an identical one is there."""
    folder = work / f"sample-{events}x{sessions}-seed{seed}"
    if (folder / "manifest.json").exists():
        found = load_sample(folder)
        if (found.events, len(found.sessions), found.seed) == (events, sessions, seed):
            log(f"reusing sample {folder}")
            return found
    log(f"generating {events:,} events over {sessions} sessions in {folder} ...")
    write_sample(folder, sessions=sessions, events=events, seed=seed)
    return load_sample(folder)


def ensure_subset(sample: Sample, events: int) -> Sample:
    """The first `events` (about) of the sample, spread over its sessions as the sample is.

    Each session keeps its oldest lines, in proportion to its size; the whole sample
    is returned when `events` is not smaller.
    """
    if events >= sample.events:
        return sample
    folder = sample.folder / f"subset-{events}"
    if (folder / "manifest.json").exists():
        return load_sample(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "events").mkdir(parents=True)
    entries = []
    for org_id, session_id, count in sample.sessions:
        keep = max(1, round(count * events / sample.events))
        rel = f"events/{session_id}.jsonl"
        _copy_head(sample.folder / rel, tmp / rel, keep)
        entries.append({"org_id": org_id, "session_id": session_id, "events": keep, "file": rel})
    manifest = {
        "format": 1,
        "seed": sample.seed,
        "sessions": entries,
        "events": sum(e["events"] for e in entries),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return load_sample(folder)


def _copy_head(source: Path, target: Path, lines: int) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        for _ in range(lines):
            dst.write(src.readline())


def ensure_pages(url: str, sample: Sample) -> Path:
    """Every page the sandbox serves for the sample, saved as `pages/NNNNN.json` (reused)."""
    folder = sample.folder / "pages"
    if (folder / _DONE).exists():
        return folder
    log(f"saving the pages as served to {folder} ...")
    tmp = folder.with_name("pages.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    count = 0
    with requests.Session() as http:
        http.trust_env = False
        http.headers["Authorization"] = f"Bearer {SANDBOX_TOKEN}"
        for org_id, session_id, _events in sample.sessions:
            for body in _iter_bodies(http, url, org_id, session_id):
                (tmp / f"{count:05d}.json").write_bytes(body)
                count += 1
    (tmp / _DONE).write_text(json.dumps({"pages": count}) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def _iter_bodies(http: requests.Session, url: str, org_id: str, session_id: str) -> Iterator[bytes]:
    params = {"sessionOrgId": org_id, "sessionId": session_id}
    while True:
        resp = http.get(url + EVENTS_PATH, params=params, timeout=60)
        resp.raise_for_status()
        yield resp.content
        nxt = orjson.loads(resp.content).get("next")
        if not nxt:
            return
        params["start"] = nxt


def page_files(folder: Path) -> list[Path]:
    """The saved page files, in order (the marker file excluded)."""
    return sorted(p for p in folder.glob("*.json") if p.name != _DONE)


class SandboxProcess:
    """`python -m toolkit sandbox` in its own process, so its CPU and memory are not ours.

    Args:
        dataset: the dataset folder to serve.
        latency: seconds the sandbox waits before answering each page.
        ready_timeout: seconds to wait for the server's ready line.
    """

    def __init__(self, dataset: Path, latency: float = 0.0, ready_timeout: float = 600.0):
        self.dataset = dataset
        self.latency = latency
        self.ready_timeout = ready_timeout
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None

    def __enter__(self) -> SandboxProcess:
        cmd = [
            sys.executable,
            "-m",
            "toolkit",
            "sandbox",
            "--dataset",
            str(self.dataset),
            "--port",
            "0",
            "--lag-ms",
            "0",
            "--latency",
            str(self.latency),
        ]
        env = {k: v for k, v in os.environ.items() if k != "WEBEX_ACCESS_TOKEN"}
        self._stderr = open(self.dataset / "sandbox.stderr", "w+")
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env
        )
        try:
            self.url = self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self._proc.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=self.ready_timeout)
        except queue.Empty:
            line = ""
        match = _READY.search(line)
        if not match:
            raise RuntimeError(f"the sandbox did not start: {line!r} {self._error_text()}")
        return match.group(1)

    def _error_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-2000:]

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGINT may be ignored when the benchmark runs in the background
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
