"""discover, update and unattended tokens, run for real: subprocess CLI, sandbox, DuckDB file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import orjson
import pytest
import requests

from toolkit.errors import EXIT_AUTH, EXIT_OK
from toolkit.sample.generate import SampleInfo, write_sample
from toolkit.sandbox.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN
from toolkit.sandbox.server import Faults, Sandbox

from .conftest import SANDBOX_TOKEN

DAY_MS = 24 * 3600 * 1000


@pytest.fixture(scope="module")
def recent(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    """3 sessions a week apart, the last two days ago, with 3000 events in all."""
    base = int(time.time() * 1000) - 2 * DAY_MS
    folder = tmp_path_factory.mktemp("recent")
    info = write_sample(folder, 3, 3000, 11, base_ms=base)
    return info


def cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m toolkit ARGS` with no WEBEX_/SLIDO_ variable but those given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def issued_tokens(box: Sandbox) -> dict:
    """Trade the sandbox's first refresh token for an access token and a new refresh token."""
    form = {
        "grant_type": "refresh_token",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "refresh_token": DEFAULT_REFRESH_TOKEN,
    }
    return requests.post(f"{box.base_url}/access_token", data=form, timeout=10).json()


def stored(db: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_update_twice_syncs_what_is_new_then_adds_nothing_and_says_so(
    recent: SampleInfo, tmp_path: Path
):
    db = tmp_path / "updated.duckdb"
    env = {"WEBEX_ACCESS_TOKEN": SANDBOX_TOKEN}
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN, faults=Faults(page_size=200)) as box:
        first = cli("update", "--days", "20", "--db", str(db), "--base-url", box.base_url,
                    env_extra=env)  # fmt: skip
        assert first.returncode == EXIT_OK, first.stderr
        second = cli("update", "--days", "20", "--db", str(db), "--base-url", box.base_url,
                     env_extra=env)  # fmt: skip
    assert second.returncode == EXIT_OK, second.stderr
    for s in recent.sessions:
        assert f"{s.session_id} (new): ok" in first.stdout
    assert "3 sessions synced, 3000 new events" in first.stdout
    assert second.stdout.strip().endswith("nothing new")
    assert "0 sessions synced, 0 new events" in second.stdout
    assert stored(db, "SELECT count(*) FROM events") == [(3000,)]
    meetings = stored(db, "SELECT count(*), count(*) FILTER (first_discovered_at "
                          "< last_discovered_at) FROM meetings")  # fmt: skip
    assert meetings == [(3, 3)]
    titled = stored(db, "SELECT count(*) FROM sessions WHERE title IS NOT NULL")
    assert titled == [(3,)]


def test_discover_writes_the_sessions_file_that_sync_reads(recent: SampleInfo, tmp_path: Path):
    db, out = tmp_path / "found.duckdb", tmp_path / "sessions.csv"
    env = {"WEBEX_ACCESS_TOKEN": SANDBOX_TOKEN}
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN) as box:
        found = cli("discover", "--days", "20", "--out", str(out), "--db", str(db),
                    "--base-url", box.base_url, env_extra=env)  # fmt: skip
        assert found.returncode == EXIT_OK, found.stderr
        synced = cli("sync", "--sessions-file", str(out), "--db", str(db),
                     "--base-url", box.base_url, env_extra=env)  # fmt: skip
    assert synced.returncode == EXIT_OK, synced.stderr
    ids = {s.session_id for s in recent.sessions}
    listed = [line.split(",")[1] for line in out.read_text().splitlines()[1:]]
    assert set(listed) == ids
    assert "discovered 3 meetings with Slido" in found.stdout
    assert stored(db, "SELECT count(DISTINCT session_id) FROM events") == [(3,)]


def test_an_expiring_token_without_refresh_credentials_ends_with_exit_3_keeping_pages(
    recent: SampleInfo, tmp_path: Path
):
    db, token_file = tmp_path / "expiring.duckdb", tmp_path / "token"
    faults = Faults(page_size=100, token_requests=6)
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN, faults=faults) as box:
        token_file.write_text(issued_tokens(box)["access_token"])
        session = recent.sessions[0]
        result = cli("sync", "--org", session.org_id, "--session", session.session_id,
                     "--db", str(db), "--base-url", box.base_url, "--token-file",
                     str(token_file), "--concurrency", "1")  # fmt: skip
    assert result.returncode == EXIT_AUTH, result.stdout + result.stderr
    assert "401" in result.stdout + result.stderr
    kept = stored(db, "SELECT count(*) FROM events")[0][0]
    assert 0 < kept < session.events
    assert kept % 100 == 0  # whole pages: every page fetched before the 401


def test_a_token_expiring_in_the_middle_of_a_sync_is_renewed_and_the_sync_ends_ok(
    recent: SampleInfo, tmp_path: Path
):
    db, token_file = tmp_path / "renewed.duckdb", tmp_path / "token.json"
    faults = Faults(page_size=100, token_requests=6)
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN, faults=faults) as box:
        first = issued_tokens(box)
        token_file.write_text(orjson.dumps({**first, "expires_at": time.time() + 3600}).decode())
        session = recent.sessions[0]
        env = {"WEBEX_CLIENT_ID": DEFAULT_CLIENT_ID, "WEBEX_CLIENT_SECRET": DEFAULT_CLIENT_SECRET}
        result = cli("sync", "--org", session.org_id, "--session", session.session_id,
                     "--db", str(db), "--base-url", box.base_url, "--token-file",
                     str(token_file), "--concurrency", "1", env_extra=env)  # fmt: skip
        rejected = [s for _, _, target, s in box.request_log if s == 401]
        grants = box.oauth.grants
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert f"{session.session_id}: ok" in result.stdout
    assert stored(db, "SELECT count(*) FROM events") == [(session.events,)]
    assert rejected and grants >= 2  # the test's grant, then at least one on a 401
    saved = orjson.loads(token_file.read_bytes())
    assert saved["refresh_token"] != first["refresh_token"]  # rotated, written back
    assert saved["access_token"] != first["access_token"]
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_no_secret_reaches_output_database_or_report(recent: SampleInfo, tmp_path: Path):
    db, token_file = tmp_path / "secrets.duckdb", tmp_path / "token.json"
    with Sandbox(recent.out_dir, token=SANDBOX_TOKEN, faults=Faults(token_requests=50)) as box:
        token_file.write_text(orjson.dumps({"refresh_token": DEFAULT_REFRESH_TOKEN}).decode())
        env = {"WEBEX_CLIENT_ID": DEFAULT_CLIENT_ID, "WEBEX_CLIENT_SECRET": DEFAULT_CLIENT_SECRET}
        ran = cli("update", "--days", "20", "--db", str(db), "--base-url", box.base_url,
                  "--token-file", str(token_file), env_extra=env)  # fmt: skip
        grants = box.oauth.grants
    assert ran.returncode == EXIT_OK, ran.stderr
    assert grants >= 1
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = orjson.loads(token_file.read_bytes())
    report = cli("report", "--db", str(db), "--format", "html")
    secrets = [saved["access_token"], saved["refresh_token"], DEFAULT_CLIENT_SECRET]
    haystacks = {
        "stdout": ran.stdout.encode(),
        "stderr": ran.stderr.encode(),
        "report": report.stdout.encode(),
        "database": b"".join(  # the file, its WAL and its spool
            f.read_bytes()
            for p in tmp_path.glob("secrets.duckdb*")
            for f in ([p] if p.is_file() else sorted(p.rglob("*")))
            if f.is_file()
        ),
    }
    for where, data in haystacks.items():
        for secret in secrets:
            assert secret.encode() not in data, f"a secret reached the {where}"
