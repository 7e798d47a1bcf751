"""The seeded sample dataset: realistic compliance events written as JSON lines.

A dataset directory holds `manifest.json` and one `events/<session_id>.jsonl` per
session, one compact event per line, oldest first (see `data/README.md`). The same
seed and sizes give byte-identical files. Events are streamed to disk as they are
generated, so memory stays flat from a few hundred events to millions.

Example:
    >>> info = write_sample("/tmp/sample", sessions=2, events=500, seed=1)  # doctest: +SKIP
    >>> info.sessions[0].file  # doctest: +SKIP
    'events/....jsonl'
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import orjson

from toolkit.config import ID_RE
from toolkit.errors import UsageError
from toolkit.sample.context import format_uuid
from toolkit.sample.meetings import MEETINGS_FILE, plan_meetings
from toolkit.sample.session import iter_session_events

__all__ = [
    "DEFAULT_DATASET",
    "SampleInfo",
    "SessionInfo",
    "default_dataset",
    "iter_session_events",
    "read_manifest",
    "write_sample",
]

FORMAT = 1
MANIFEST = "manifest.json"
EVENTS_DIR = "events"
DEFAULT_DATASET = Path(__file__).resolve().parents[1] / "data" / "sample"
DEFAULT_SESSIONS, DEFAULT_EVENTS, DEFAULT_SEED = 3, 3000, 7  # the committed data/sample
MIN_EVENTS_PER_SESSION = 10
# Sessions are laid out weekly, the last one starting at this fixed date
# (2026-03-03T15:00:00Z), so output never depends on today's date.
BASE_MS = 1_772_550_000_000
WEEK_MS = 7 * 24 * 3600 * 1000
_WRITE_BUFFER = 1 << 20
_PROGRESS_EVERY = 4096


@dataclass(frozen=True)
class SessionInfo:
    """One session of a dataset: its org, id, event count and file (relative to the dataset)."""

    org_id: str
    session_id: str
    events: int
    file: str


@dataclass(frozen=True)
class SampleInfo:
    """A dataset: its directory, seed, sessions, total event count and meetings file.

    `meetings` is the List Meetings items file relative to the dataset (None for a
    dataset written before meetings were part of it).
    """

    out_dir: Path
    seed: int
    sessions: list[SessionInfo]
    events: int
    meetings: str | None = None


def write_sample(
    out_dir: str | Path,
    sessions: int = 3,
    events: int = 2000,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
    base_ms: int = BASE_MS,
) -> SampleInfo:
    """Write a synthetic dataset of realistic Slido compliance events and their meetings.

    Args:
        out_dir: the dataset directory, created if needed; files of a dataset
            already there are replaced.
        sessions: how many sessions (meetings), all in one org.
        events: the total number of events, split unevenly over the sessions.
        seed: the random seed; the same arguments give byte-identical files.
        progress: called now and then with the number of events written so far.
        base_ms: when the last session starts (epoch ms); a fixed date by default,
            so output never depends on the clock. Tests of discovery pass a recent one.

    Returns:
        What was written, as `read_manifest` would return it.

    Raises:
        UsageError: on a non-positive count, fewer than 10 events per session,
            or a directory that cannot be written.
    """
    _check_sizes(sessions, events, seed)
    out = Path(out_dir)
    try:
        return _write(out, (sessions, events, seed, base_ms), progress or (lambda _n: None))
    except OSError as exc:
        raise UsageError(f"cannot write the sample dataset to {out}: {exc.strerror}") from None


def _check_sizes(sessions: int, events: int, seed: int) -> None:
    if sessions < 1:
        raise UsageError(f"--sessions must be at least 1, got {sessions}")
    if events < MIN_EVENTS_PER_SESSION * sessions:
        raise UsageError(
            f"--events must be at least {MIN_EVENTS_PER_SESSION} per session "
            f"({MIN_EVENTS_PER_SESSION * sessions} for {sessions} sessions), got {events}"
        )
    if seed < 0:
        raise UsageError(f"--seed must be zero or positive, got {seed}")


def _write(
    out: Path, sizes: tuple[int, int, int, int], progress: Callable[[int], None]
) -> SampleInfo:
    sessions, events, seed, base_ms = sizes
    (out / EVENTS_DIR).mkdir(parents=True, exist_ok=True)
    _remove_previous(out)
    infos: list[SessionInfo] = []
    spans: list[tuple[str, int, int]] = []
    done = 0
    for index, (org_id, session_id, count, start_ms) in enumerate(
        plan_sessions(sessions, events, seed, base_ms)
    ):
        rng = random.Random(f"slido-sample:{seed}:{index}")
        span = _Span(iter_session_events(org_id, session_id, count, rng, start_ms), start_ms)
        rel = f"{EVENTS_DIR}/{session_id}.jsonl"
        written = _write_lines(out / rel, span, functools.partial(_add_then, progress, done))
        infos.append(SessionInfo(org_id, session_id, written, rel))
        spans.append((session_id, start_ms, span.last_ms))
        done += written
    _write_lines(out / MEETINGS_FILE, plan_meetings(spans, seed), lambda _n: None)
    info = SampleInfo(out, seed, infos, done, MEETINGS_FILE)
    _write_manifest(info)
    progress(done)
    return info


class _Span:
    """Passes a session's events through, noting the time of the last one."""

    def __init__(self, stream: Iterable[dict[str, Any]], start_ms: int):
        self._stream = stream
        self.last_ms = start_ms

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for event in self._stream:
            self.last_ms = max(self.last_ms, event["createdAtMs"])
            yield event


def _add_then(progress: Callable[[int], None], base: int, n: int) -> None:
    progress(base + n)


def plan_sessions(
    sessions: int, events: int, seed: int, base_ms: int = BASE_MS
) -> list[tuple[str, str, int, int]]:
    """Decide each session's org, id, event count and start time from the seed.

    Args:
        sessions: how many sessions.
        events: the total number of events to split among them (unevenly).
        seed: the random seed.
        base_ms: when the last session starts, before its jitter (epoch ms).

    Returns:
        One (org_id, session_id, events, start_ms) per session, oldest first.
    """
    rng = random.Random(f"slido-sample:{seed}")
    org_id = format_uuid(rng.getrandbits(128), version=4)
    series = [f"{rng.getrandbits(128):032x}" for _ in range(max(1, (sessions + 1) // 2))]
    weights = [0.75 + 0.5 * rng.random() for _ in range(sessions)]
    counts = [int(events * w / sum(weights)) for w in weights]
    for i in range(events - sum(counts)):
        counts[i % sessions] += 1
    plan = []
    for i, count in enumerate(counts):
        session_id = f"{series[i % len(series)]}_I_{rng.getrandbits(59):018d}"
        start_ms = base_ms - (sessions - 1 - i) * WEEK_MS + int(rng.random() * 600_000)
        plan.append((org_id, session_id, count, start_ms))
    return plan


def _write_lines(
    path: Path, stream: Iterable[dict[str, Any]], progress: Callable[[int], None]
) -> int:
    """Stream events to `path` as JSON lines (via a temporary file); return how many."""
    tmp = path.with_name(path.name + ".tmp")
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    count = 0
    # Write each line at once: orjson's bytes keep a 4 KiB buffer, so a list of them
    # would cost far more memory than the lines themselves.
    with open(tmp, "wb", buffering=_WRITE_BUFFER) as f:
        write = f.write
        for count, event in enumerate(stream, 1):
            write(dumps(event, option=newline))
            if not count % _PROGRESS_EVERY:
                progress(count)
    os.replace(tmp, path)
    return count


def _write_manifest(info: SampleInfo) -> None:
    manifest = {
        "format": FORMAT,
        "seed": info.seed,
        "sessions": [
            {"org_id": s.org_id, "session_id": s.session_id, "events": s.events, "file": s.file}
            for s in info.sessions
        ],
        "events": info.events,
    }
    if info.meetings is not None:
        manifest["meetings"] = info.meetings
    tmp = info.out_dir / (MANIFEST + ".tmp")
    tmp.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(tmp, info.out_dir / MANIFEST)


def _remove_previous(out: Path) -> None:
    """Delete the event files an earlier dataset in `out` listed, and its manifest."""
    try:
        previous = read_manifest(out)
    except UsageError:
        return
    for s in previous.sessions:
        (out / s.file).unlink(missing_ok=True)
    if previous.meetings is not None:
        (out / previous.meetings).unlink(missing_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)


def read_manifest(dataset_dir: str | Path) -> SampleInfo:
    """Read a dataset's `manifest.json`.

    Args:
        dataset_dir: the dataset directory.

    Returns:
        The dataset's seed, sessions and event count.

    Raises:
        UsageError: when the manifest is missing, not JSON, or not of the expected shape.
    """
    folder = Path(dataset_dir)
    path = folder / MANIFEST
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(
            f"no sample dataset at {folder}: {path} is missing; "
            f"create one with 'slido-compliance sample --out {folder}'"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON ({exc}); regenerate the dataset") from None
    return _parse_manifest(folder, path, raw)


def _parse_manifest(folder: Path, path: Path, raw: Any) -> SampleInfo:
    def bad(why: str) -> UsageError:
        return UsageError(f"{path} is not a valid sample manifest: {why}; regenerate the dataset")

    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise bad(f'expected an object with "format": {FORMAT}')
    if not isinstance(raw.get("sessions"), list):
        raise bad('"sessions" must be a list')
    sessions = [_parse_session(entry, bad) for entry in raw["sessions"]]
    seed = raw.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise bad('"seed" must be an integer')
    total = sum(s.events for s in sessions)
    if raw.get("events", total) != total:
        raise bad(f'"events" is {raw.get("events")!r} but the sessions add up to {total}')
    meetings = raw.get("meetings")
    if meetings is not None and not _inside(meetings):
        raise bad(f'"meetings" {meetings!r} must be a path inside the dataset')
    return SampleInfo(folder, seed, sessions, total, meetings)


def _inside(file: Any) -> TypeGuard[str]:
    """True for a relative path that stays inside the dataset folder."""
    return isinstance(file, str) and not Path(file).is_absolute() and ".." not in Path(file).parts


def _parse_session(entry: Any, bad: Callable[[str], UsageError]) -> SessionInfo:
    if not isinstance(entry, dict):
        raise bad("each session must be an object")
    org_id, session_id = _id_field(entry, "org_id", bad), _id_field(entry, "session_id", bad)
    events, file = entry.get("events"), entry.get("file")
    if not isinstance(events, int) or isinstance(events, bool) or events < 0:
        raise bad(f"session {session_id} has no valid event count")
    if not _inside(file):
        raise bad(f"session {session_id} file {file!r} must be a path inside the dataset")
    return SessionInfo(org_id, session_id, events, file)


def _id_field(entry: dict[str, Any], name: str, bad: Callable[[str], UsageError]) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise bad(f"session {name} {value!r} is not a valid id")
    return value


def default_dataset() -> Path:
    """The repository's `data/sample` dataset, generated first if it is missing.

    Returns:
        The dataset directory (3 sessions, 3000 events, seed 7).
    """
    if not (DEFAULT_DATASET / MANIFEST).is_file():
        write_sample(DEFAULT_DATASET, DEFAULT_SESSIONS, DEFAULT_EVENTS, DEFAULT_SEED)
    return DEFAULT_DATASET
