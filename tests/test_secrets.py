"""The access token: sent only in the Authorization header to the configured host, and never
written anywhere else: not the database (nor its WAL), a report, an output file, a message.

Every scan looks for the token and for fragments of it (its halves, base64), in the raw
bytes of every file the flow leaves and, because DuckDB compresses strings on disk, in
every column of every table read back through SQL.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from toolkit.config import Secret, SessionRef
from toolkit.errors import EXIT_API, EXIT_AUTH, EXIT_OK, EXIT_USAGE, UsageError
from toolkit.ingest.client import Client, RetryPolicy
from toolkit.ingest.sync import SyncOptions, sync_sessions
from toolkit.store import database as db

from .test_cli import cli, sync_args
from .test_hostile import Reply, Scripted
from .test_sync import FAST

TOKEN = "tok-7f3c9e1a5b2d4f60-Secret_Value-0a8e6c4b2d1f3e5a"


def fragments(token: str = TOKEN) -> list[bytes]:
    """What a leak could look like: the token, its halves, the header, base64 of it."""
    raw = token.encode()
    half = len(raw) // 2
    return [raw, raw[:half], raw[half:], b"Bearer " + raw, base64.b64encode(raw)[:-4]]


def assert_not_in(blob: bytes | str, where: str, token: str = TOKEN) -> None:
    data = blob.encode("utf-8", "surrogatepass") if isinstance(blob, str) else blob
    for fragment in fragments(token):
        assert fragment not in data, f"token fragment {fragment[:12]!r}... found in {where}"


def assert_no_file_holds_the_token(root: Path, token: str = TOKEN) -> list[Path]:
    """Scan the bytes of every file under root; return the files scanned."""
    files = [p for p in root.rglob("*") if p.is_file()]
    for path in files:
        assert_not_in(path.read_bytes(), str(path), token)
    return files


def assert_no_table_holds_the_token(db_path: Path, token: str = TOKEN) -> int:
    """Read every column of every table back as text; return the cells scanned."""
    con = db.connect(db_path, read_only=True)
    cells = 0
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name IN "
            "(SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')"
        ).fetchall()
        for table, column in columns:
            half = len(token) // 2
            hits, n = con.execute(
                f'SELECT count(*) FILTER (WHERE contains(CAST("{column}" AS VARCHAR), ?) '
                f'OR contains(CAST("{column}" AS VARCHAR), ?) '
                f'OR contains(CAST("{column}" AS VARCHAR), ?)), count(*) FROM "{table}"',
                [token, token[:half], token[half:]],
            ).fetchone()
            assert hits == 0, f"token in {table}.{column}"
            cells += n
    finally:
        con.close()
    return cells


def test_a_full_flow_leaves_the_token_nowhere(sample_dataset, sandbox_factory, tmp_path):
    box = sandbox_factory(token=TOKEN)
    work = tmp_path / "work"
    work.mkdir()
    database = work / "compliance.duckdb"
    listing = work / "sessions.csv"
    listing.write_text("".join(f"{s.org_id},{s.session_id}\n" for s in sample_dataset.sessions))
    session = sample_dataset.sessions[0].session_id
    runs = [
        cli(
            "sync",
            "--sessions-file",
            str(listing),
            "--db",
            str(database),
            "--base-url",
            box.base_url,
            token=TOKEN,
        ),
        cli("status", "--db", str(database), token=TOKEN),
        cli("sql", "SELECT * FROM sync_runs", "--db", str(database), token=TOKEN),
        cli(
            "sql", "SELECT * FROM sync_runs", "--db", str(database), "--format", "json", token=TOKEN
        ),
        cli(
            "sql",
            "SELECT * FROM sync_runs",
            "--db",
            str(database),
            "--out",
            str(work / "runs.parquet"),
            token=TOKEN,
        ),
        cli(
            "sql",
            "SELECT * FROM rejected_events",
            "--db",
            str(database),
            "--out",
            str(work / "rejected.csv"),
            token=TOKEN,
        ),
        cli("report", "--db", str(database), token=TOKEN),
        *[
            cli(
                "report",
                "--session",
                session,
                "--db",
                str(database),
                "--out",
                str(work / f"report.{fmt}"),
                token=TOKEN,
            )
            for fmt in ("md", "html", "json")
        ],
        cli("report", "--session", session, "--db", str(database), "--format", "html", token=TOKEN),
    ]
    for out in runs:
        assert out.returncode == EXIT_OK, (out.args, out.stderr)
        assert_not_in(out.stdout + out.stderr, f"output of {out.args[3:5]}")
    assert runs[0].stdout.count(": ok,") == len(sample_dataset.sessions)
    files = assert_no_file_holds_the_token(work)
    assert {p.suffix for p in files} >= {".duckdb", ".parquet", ".csv", ".md", ".html", ".json"}
    assert assert_no_table_holds_the_token(database) > sample_dataset.events


def test_a_sync_killed_mid_write_leaves_no_token_in_the_database_or_its_wal(
    sample_dataset, sandbox_factory, tmp_path
):
    box = sandbox_factory(token=TOKEN, latency=0.02, page_size=20)
    database = tmp_path / "killed.duckdb"
    wal = database.with_name(database.name + ".wal")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit", *sync_args(sample_dataset, box, database)],
        env={**env, "WEBEX_ACCESS_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    session_id = sample_dataset.sessions[0].session_id.encode()
    try:  # until a group of pages is committed into the WAL (a sync joins every 2 s)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (wal.exists() and session_id in wal.read_bytes()):
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        stdout, stderr = proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert wal.exists(), "the sync ended before it was killed; nothing to scan"
    assert session_id in wal.read_bytes(), "the WAL holds this run's strings in clear"
    assert_not_in(stdout + stderr, "output of the killed sync")
    assert_no_file_holds_the_token(tmp_path)
    assert assert_no_table_holds_the_token(database) > 0


def echo_token(status: int) -> Any:
    """A hostile server: it reflects the Authorization header into every part of its answer."""

    def script(_path: str, headers: dict[str, str]) -> Reply:
        value = headers.get("Authorization", "")
        reflected = {
            "TrackingID": value,
            "Location": f"http://127.0.0.1:9/elsewhere?access_token={value.split()[-1]}",
            "Retry-After": value,
            "WWW-Authenticate": f'Bearer error="{value}"',
            "Content-Type": "application/json",
        }
        body = f'{{"message": "{value}", "trackingId": "{value}", "errors": []}}'.encode()
        return status, reflected, body

    return script


REFLECTED_STATUSES = [301, 302, 307, 400, 401, 403, 404, 418, 429, 500, 503]


@pytest.mark.parametrize("status", REFLECTED_STATUSES)
def test_a_server_reflecting_the_token_does_not_get_it_into_messages_or_the_record(
    status, tmp_path
):
    database = tmp_path / "db.duckdb"
    with Scripted(echo_token(status)).running() as server:
        con = db.connect(database)
        options = SyncOptions(server.base_url, Secret(TOKEN), policy=FAST)
        (result,) = sync_sessions(con, [SessionRef("org-1", "sess-1")], options)
        con.close()
    assert result.status == "failed" and result.error
    assert f"HTTP {status}" in result.error
    assert_not_in(result.error, "the sync error")
    assert_no_file_holds_the_token(tmp_path)
    assert_no_table_holds_the_token(database)


@pytest.mark.parametrize(("status", "code"), [(302, EXIT_API), (401, EXIT_AUTH), (418, EXIT_API)])
def test_the_cli_never_prints_a_reflected_token(status, code, tmp_path):
    with Scripted(echo_token(status)).running() as server:
        out = cli(
            "sync",
            "--org",
            "org-1",
            "--session",
            "sess-1",
            "--db",
            str(tmp_path / "db.duckdb"),
            "--base-url",
            server.base_url,
            token=TOKEN,
        )
    assert out.returncode == code, out.stderr
    assert f"HTTP {status}" in out.stdout
    assert_not_in(out.stdout + out.stderr, "CLI output")
    assert_no_file_holds_the_token(tmp_path)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_not_followed_and_carries_no_token(status, tmp_path):
    with Scripted(lambda _p, _h: (200, {}, b'{"items":[]}'), host="127.0.0.2").running() as other:
        target = other.base_url.replace("/v1", "") + "/v1/slido/compliance/events?x=1"
        first = Scripted(lambda _p, _h: (status, {"Location": target}, b""))
        with first.running():
            out = cli(
                "sync",
                "--org",
                "org-1",
                "--session",
                "sess-1",
                "--db",
                str(tmp_path / "db.duckdb"),
                "--base-url",
                first.base_url,
                token=TOKEN,
            )
    assert other.requests == [], "the redirect was followed"
    assert len(first.requests) == 1, "a redirect is final: no retry"
    assert first.requests[0][1]["Authorization"] == f"Bearer {TOKEN}"
    assert out.returncode == EXIT_API
    assert f"HTTP {status}" in out.stdout and "not followed" in out.stdout
    assert "127.0.0.2" in out.stdout  # the message names where it was sent


REFUSALS = textwrap.dedent(
    """
    import contextlib, io, json, os, sys

    REACHING_OUT = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                    "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.sendto",
                    "socket.sendmsg"}
    attempts = []

    def refuse_sockets(event, args):
        if event in REACHING_OUT:
            attempts.append(f"{event} {args[1:] if event == 'socket.connect' else args[:2]}")
            raise OSError(f"blocked by the test: {event}")

    sys.addaudithook(refuse_sockets)
    from toolkit.cli import main

    db, results = sys.argv[1], []
    for url in sys.argv[2:]:
        for how in ("flag", "env"):
            args = ["sync", "--org", "org-1", "--session", "sess-1", "--db", db]
            args += ["--base-url", url] if how == "flag" else []
            os.environ.pop("WEBEX_API_BASE", None)
            if how == "env":
                os.environ["WEBEX_API_BASE"] = url
            attempts.clear()
            err, out = io.StringIO(), io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    main(args)
                    code = 0
                except SystemExit as exc:
                    code = exc.code
            results.append({"url": url, "how": how, "code": code, "stderr": err.getvalue(),
                            "stdout": out.getvalue(), "attempts": list(attempts)})
    print(json.dumps(results))
    """
)

# what the client says when it refuses a base URL, by the reason it refuses it
REFUSED_URL = (
    r"refusing to send the access token over plain HTTP to \S+; use https"
    r"|carries a user name or password; remove it"
    r"|has a backslash, space or control character, or names its host ambiguously"
    r"|is not an http\(s\) URL with a host"
)
PLAIN_HTTP_ELSEWHERE = [
    "http://192.0.2.1/v1",
    "http://192.0.2.1:80/v1",
    "HTTP://192.0.2.1/v1",
    "http://127.0.0.1:9@192.0.2.1/v1",
    "http://192.0.2.1\\@127.0.0.1:9/v1",  # urlsplit reads 127.0.0.1, requests 192.0.2.1
    "http://192.0.2.1\\\\@127.0.0.1:9/v1",
    "http://192.0.2.1 @127.0.0.1:9/v1",
    "http://[::ffff:192.0.2.1]/v1",
    "http://127.0.0.1.nip.io/v1",
    "http://0x7f000001/v1",
    "ftp://192.0.2.1/v1",
    "file:///etc/passwd",
    "//192.0.2.1/v1",
]


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Each URL tried as --base-url and as WEBEX_API_BASE in one process that has every
    socket operation reaching out (connect, DNS, send) refused and logged by an audit hook."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "SLIDO_"))}
    database = tmp_path_factory.mktemp("refusals") / "db.duckdb"
    out = subprocess.run(
        [sys.executable, "-c", REFUSALS, str(database), *PLAIN_HTTP_ELSEWHERE],
        capture_output=True,
        text=True,
        env={**clean, "WEBEX_ACCESS_TOKEN": TOKEN},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    by_url: dict[str, list[dict[str, Any]]] = {}
    for result in json.loads(out.stdout):
        by_url.setdefault(result["url"], []).append(result)
    return by_url


@pytest.mark.parametrize("url", PLAIN_HTTP_ELSEWHERE)
def test_plain_http_to_another_host_is_refused_before_any_connection(url, refusals):
    for result in refusals[url]:
        assert result["attempts"] == [], result
        assert result["code"] == EXIT_USAGE, result
        assert result["stderr"].startswith("Error: ") and "Traceback" not in result["stderr"]
        assert_not_in(result["stdout"] + result["stderr"], "the refusal")
    with pytest.raises(UsageError, match=REFUSED_URL):
        Client(url, Secret(TOKEN))


def test_loopback_sandboxes_are_allowed_over_plain_http():
    for url in (
        "http://127.0.0.1:8765/v1",
        "http://localhost:1/v1",
        "http://[::1]:2/v1",
        "http://127.9.9.9/v1",
    ):
        Client(url, Secret(TOKEN)).close()


def test_a_url_carrying_credentials_is_refused_without_echoing_them():
    with pytest.raises(UsageError, match="carries a user name or password") as refused:
        Client("https://user:hunter2-password@webexapis.com/v1", Secret(TOKEN))
    assert "hunter2" not in str(refused.value)


def test_the_token_is_never_taken_from_the_command_line(tmp_path):
    out = cli(
        "sync",
        "--org",
        "o",
        "--session",
        "s",
        "--token",
        TOKEN,
        "--db",
        str(tmp_path / "db.duckdb"),
        token=None,
    )
    assert out.returncode == EXIT_USAGE and "No such option '--token'" in out.stderr


def test_settings_and_errors_show_the_token_as_stars():
    secret = Secret(TOKEN)
    options = SyncOptions("https://webexapis.com/v1", secret, policy=RetryPolicy())
    client = Client("https://webexapis.com/v1", secret)
    client.close()
    for text in (
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        repr(options),
        repr(vars(client)),
    ):
        assert_not_in(text, "a repr")
