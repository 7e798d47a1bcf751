"""The command line, run for real in subprocesses: output and exit statuses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from toolkit.errors import EXIT_API, EXIT_AUTH, EXIT_OK, EXIT_USAGE

from .conftest import SANDBOX_TOKEN


def cli(
    *args: str,
    token: str | None = SANDBOX_TOKEN,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run `python -m toolkit ARGS` with a clean environment and the token in it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    if token is not None:
        env["WEBEX_ACCESS_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        cwd=cwd,
        timeout=timeout,
    )


def sync_args(info, box, db, *extra: str) -> list[str]:
    session = info.sessions[0]
    return [
        "sync",
        "--org",
        session.org_id,
        "--session",
        session.session_id,
        "--db",
        str(db),
        "--base-url",
        box.base_url,
        *extra,
    ]


def test_sync_prints_per_session_figures_and_exits_0(sample_dataset, sandbox_factory, tmp_db):
    box = sandbox_factory()
    out = cli(*sync_args(sample_dataset, box, tmp_db))
    assert out.returncode == EXIT_OK, out.stderr
    n = sample_dataset.sessions[0].events
    assert "ok, " in out.stdout and f"{n} received, {n} new, 0 duplicates, 0 rejected" in out.stdout
    again = cli(*sync_args(sample_dataset, box, tmp_db))
    assert f"{n} received, 0 new, {n} duplicates" in again.stdout


def test_recheck_decodes_pages_stored_before_and_restores_what_was_removed(
    sample_dataset, sandbox_factory, tmp_db
):
    import duckdb

    box = sandbox_factory()
    assert cli(*sync_args(sample_dataset, box, tmp_db)).returncode == EXIT_OK
    with duckdb.connect(str(tmp_db)) as con:
        con.execute("DELETE FROM events WHERE event_id = (SELECT min(event_id) FROM events)")
    n = sample_dataset.sessions[0].events
    assert f"{n} received, 0 new" in cli(*sync_args(sample_dataset, box, tmp_db)).stdout
    out = cli(*sync_args(sample_dataset, box, tmp_db, "--recheck"))
    assert out.returncode == EXIT_OK, out.stderr
    assert f"{n} received, 1 new, {n - 1} duplicates" in out.stdout


def test_sessions_file_syncs_every_line(sample_dataset, sandbox_factory, tmp_db, tmp_path):
    box = sandbox_factory()
    listing = tmp_path / "sessions.csv"
    listing.write_text("".join(f"{s.org_id},{s.session_id}\n" for s in sample_dataset.sessions))
    out = cli(
        "sync",
        "--sessions-file",
        str(listing),
        "--db",
        str(tmp_db),
        "--base-url",
        box.base_url,
        "--concurrency",
        "2",
    )
    assert out.returncode == EXIT_OK, out.stderr
    assert out.stdout.count(": ok,") == len(sample_dataset.sessions)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync", "--org", "o", "--session", "bad id!"], "session id 'bad id!' is not valid"),
        (["sync", "--session", "s1"], "--session needs --org"),
        (["sync", "--org", "o"], "no session to sync"),
        (
            ["sync", "--org", "o", "--session", "s", "--base-url", "http://example.com/v1"],
            "refusing to send the access token over plain HTTP",
        ),
        (
            ["sync", "--org", "o", "--session", "s", "--gov", "--base-url", "https://x/v1"],
            "give only one",
        ),
        (["sql", "SELECT 1", "--db", "/nonexistent/x.duckdb"], "no database at"),
        (["sample"], "Missing option '--out'"),
        (["nonsense"], "No such command"),
    ],
)
def test_bad_usage_exits_2_with_a_specific_message(args, message):
    out = cli(*args)
    assert out.returncode == EXIT_USAGE
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_token_exits_2_naming_the_variable(tmp_db):
    out = cli(
        "sync",
        "--org",
        "o",
        "--session",
        "s",
        "--db",
        str(tmp_db),
        "--base-url",
        "http://127.0.0.1:9/v1",
        token=None,
    )
    assert out.returncode == EXIT_USAGE and "WEBEX_ACCESS_TOKEN" in out.stderr


def test_refused_token_exits_3(sample_dataset, sandbox_factory, tmp_db):
    box = sandbox_factory()
    out = cli(*sync_args(sample_dataset, box, tmp_db), token="expired-token-value")
    assert out.returncode == EXIT_AUTH
    assert "HTTP 401" in out.stdout and "expired-token-value" not in out.stdout + out.stderr


def test_api_failure_after_retries_exits_4_and_keeps_the_record(
    sample_dataset, sandbox_factory, tmp_db
):
    cli(*sync_args(sample_dataset, sandbox_factory(), tmp_db))
    failing = sandbox_factory(error_rate=1.0)
    out = cli(*sync_args(sample_dataset, failing, tmp_db), timeout=300)
    assert out.returncode == EXIT_API and "gave up after" in out.stdout
    count = cli("sql", "SELECT count(*) AS n FROM events", "--db", str(tmp_db), "--format", "csv")
    assert count.stdout.split() == ["n", str(sample_dataset.sessions[0].events)]


def test_a_database_held_by_another_process_leaves_the_events_waiting(
    sample_dataset, sandbox_factory, tmp_db
):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from toolkit.store import database as db
            con = db.connect({str(tmp_db)!r})
            print("held", flush=True)
            time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        out = cli(*sync_args(sample_dataset, sandbox_factory(), tmp_db))
        assert out.returncode == EXIT_OK, out.stderr
        assert "events wait in the spool to join the record" in out.stdout
        assert f"database {tmp_db} is locked by another process" in out.stdout
        assert f"PID {holder.pid}" in out.stdout
    finally:
        holder.kill()
        holder.wait()
    out = cli("status", "--db", str(tmp_db))  # the read-only open does not join them
    assert f"{sample_dataset.sessions[0].events} events waiting to join" in out.stdout
    out = cli(*sync_args(sample_dataset, sandbox_factory(), tmp_db))
    assert out.returncode == EXIT_OK, out.stderr
    assert "wait in the spool" not in out.stdout
    out = cli("status", "--db", str(tmp_db))
    assert "waiting" not in out.stdout
    assert f"{sample_dataset.sessions[0].events} events, last sync" in out.stdout


def test_status_reports_settled_sessions(sample_dataset, sandbox_factory, tmp_db):
    cli(*sync_args(sample_dataset, sandbox_factory(), tmp_db))
    out = cli("status", "--db", str(tmp_db))
    assert out.returncode == EXIT_OK
    session = sample_dataset.sessions[0]
    assert f"{session.session_id} (org {session.org_id}): {session.events} events" in out.stdout
    from .test_promises import SETTLED, status_labels  # the label after the line's last ', '

    # the sample's newest event is long past: the sync just made settles it
    labels = status_labels(out.stdout)
    assert labels == {session.session_id: "settled"}, f"{SETTLED}: {out.stdout}"


def test_sample_command_writes_a_dataset(tmp_path):
    out = cli("sample", "--out", str(tmp_path / "ds"), "--sessions", "2", "--events", "400")
    assert out.returncode == EXIT_OK, out.stderr
    assert "wrote 400 events in 2 sessions" in out.stdout
    assert (tmp_path / "ds" / "manifest.json").exists()


def test_every_command_has_help_with_an_example():
    for command in ("sync", "status", "sql", "report", "sample", "sandbox", "demo"):
        out = cli(command, "--help")
        assert out.returncode == EXIT_OK and "Example: slido-compliance" in out.stdout


@pytest.fixture
def synced_db(sample_dataset, sandbox_factory, tmp_db) -> Path:
    """A database holding the first sample session, synced through the CLI."""
    cli(*sync_args(sample_dataset, sandbox_factory(), tmp_db))
    return tmp_db


def test_sql_reads_the_query_from_standard_input_and_a_file(synced_db, tmp_path):
    out = cli(
        "sql",
        "-",
        "--db",
        str(synced_db),
        "--format",
        "json",
        stdin="SELECT count(*) AS n FROM qaa_questions",
    )
    assert out.returncode == EXIT_OK and '"n"' in out.stdout
    query = tmp_path / "q.sql"
    query.write_text("SELECT count(*) AS n FROM events")
    out = cli("sql", f"@{query}", "--db", str(synced_db), "--format", "csv")
    assert out.stdout.split()[0] == "n"


def test_sql_writes_parquet_and_refuses_writes(synced_db, tmp_path):
    import polars as pl

    target = tmp_path / "events.parquet"
    out = cli(
        "sql",
        "SELECT event_id, event_type FROM events",
        "--db",
        str(synced_db),
        "--out",
        str(target),
    )
    assert out.returncode == EXIT_OK and pl.read_parquet(target).height > 0
    refused = cli("sql", "DELETE FROM events", "--db", str(synced_db))
    assert refused.returncode == EXIT_USAGE and "read-only" in refused.stderr
    bad = cli("sql", "SELEC nonsense", "--db", str(synced_db))
    assert bad.returncode == EXIT_USAGE and bad.stderr.startswith("Error: ")


def test_report_writes_each_format(synced_db, sample_dataset, tmp_path):
    from .test_promises import CHECKS  # each file parsed as its format

    session = sample_dataset.sessions[0].session_id
    for suffix in ("md", "html", "json"):
        target = tmp_path / f"report.{suffix}"
        out = cli("report", "--session", session, "--db", str(synced_db), "--out", str(target))
        assert out.returncode == EXIT_OK, out.stderr
        text = target.read_text(encoding="utf-8")
        assert session.split("_")[0] in text  # md escapes _
        CHECKS[suffix](text, f"report --out report.{suffix}", set())
    index = cli("report", "--db", str(synced_db))
    assert index.returncode == EXIT_OK and session.split("_")[0] in index.stdout


def test_status_names_event_types_the_views_do_not_know(tmp_db):
    from toolkit.store import database as db

    from .helpers import T0, envelope, insert_events

    con = db.connect(tmp_db)
    insert_events(con, [envelope({"type": "brandNewThing", "x": 1}, T0)])
    con.close()
    out = cli("status", "--db", str(tmp_db))
    assert out.returncode == EXIT_OK
    assert "not know yet, kept in events: brandNewThing (1 events)" in out.stdout
