"""Storage failures said plainly: a full disk, a read-only file system, a file too large,
a file that is not a database. Real processes on a real small file system (tmpfs)."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import toolkit
from toolkit.errors import EXIT_OK, EXIT_STORAGE
from toolkit.sample.generate import SampleInfo, write_sample

from .test_sharing import env, hold, stored_ids, sync_cmd


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    """60,000 events: more than a 12 MB file system holds as a record."""
    return write_sample(tmp_path_factory.mktemp("big"), sessions=3, events=60_000, seed=11)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 12 MB tmpfs mounted for the test (needs root and mount rights; else skipped)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]


def assert_plain(out: subprocess.CompletedProcess, words: str, db: Path) -> None:
    assert out.returncode == EXIT_STORAGE, out.stderr
    assert "Traceback" not in out.stderr
    assert words in out.stderr
    assert str(db) in out.stderr or str(db.parent) in out.stderr


def assert_complete(info: SampleInfo, db: Path) -> None:
    ids = stored_ids(db)
    assert len(ids) == len(set(ids)) == info.events
    con = toolkit.connect(db, read_only=True)
    try:
        assert not con.execute("SELECT * FROM sync_runs WHERE status = 'running'").fetchall()
    finally:
        con.close()


def test_a_full_disk_exits_7_plainly_and_the_next_sync_with_room_completes(
    big, sandbox_factory, small_disk, tmp_path
):
    db = small_disk / "record.duckdb"
    box = sandbox_factory(dataset_dir=big.out_dir)
    out = run(sync_cmd(big, tmp_path, db, box.base_url))
    assert_plain(out, "the disk is full", db)
    remount(small_disk, "size=400m")
    out = run(sync_cmd(big, tmp_path, db, box.base_url))
    assert out.returncode == EXIT_OK, out.stderr
    assert_complete(big, db)


def test_a_spool_that_would_fill_the_disk_stops_plainly_and_nothing_is_lost(
    big, sandbox_factory, small_disk, tmp_path
):
    db = small_disk / "record.duckdb"
    toolkit.connect(db).close()
    box = sandbox_factory(dataset_dir=big.out_dir)
    reader = hold(db)  # the record stays busy: fetched events go to the spool
    try:
        out = run(sync_cmd(big, tmp_path, db, box.base_url))
    finally:
        reader.kill()
        reader.wait()
    assert_plain(out, "no room to keep fetched events", db)
    remount(small_disk, "size=400m")
    out = run(sync_cmd(big, tmp_path, db, box.base_url))
    assert out.returncode == EXIT_OK, out.stderr
    assert_complete(big, db)


def test_a_read_only_file_system_exits_7_and_a_writable_one_completes(
    sample_dataset, sandbox_factory, small_disk, tmp_path
):
    db = small_disk / "record.duckdb"
    toolkit.connect(db).close()
    remount(small_disk, "ro")
    box = sandbox_factory()
    out = run(sync_cmd(sample_dataset, tmp_path, db, box.base_url))
    assert_plain(out, "read-only", db)
    remount(small_disk, "rw")
    out = run(sync_cmd(sample_dataset, tmp_path, db, box.base_url))
    assert out.returncode == EXIT_OK, out.stderr
    assert_complete(sample_dataset, db)


def _limit_file_size() -> None:  # in the sync's child process, before it runs
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (3 * 2**20, 3 * 2**20))


def test_a_file_that_may_not_grow_exits_7_and_the_next_sync_completes(
    big, sandbox_factory, tmp_path
):
    db = tmp_path / "record.duckdb"
    box = sandbox_factory(dataset_dir=big.out_dir)
    out = run(sync_cmd(big, tmp_path, db, box.base_url), preexec_fn=_limit_file_size)
    assert_plain(out, "the disk is full (or the file may grow no further)", db)
    out = run(sync_cmd(big, tmp_path, db, box.base_url))
    assert out.returncode == EXIT_OK, out.stderr
    assert_complete(big, db)


def test_a_file_that_is_not_a_database_exits_7_for_every_command(sample_dataset, tmp_path):
    db = tmp_path / "notes.duckdb"
    db.write_text("these are my notes\n")
    for args in (["status"], ["sql", "SELECT 1"], ["report"]):
        out = run([sys.executable, "-m", "toolkit", *args, "--db", str(db)])
        assert_plain(out, "is not a DuckDB database", db)
    assert db.read_text() == "these are my notes\n"
