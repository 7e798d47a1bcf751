"""The meetings table: the upsert, the join into sessions(), and the report's overview facts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import toolkit
from tests.helpers import ORG, SESSION
from tests.scenario import OTHER_SESSION, build_database
from toolkit.report.build import build_report
from toolkit.store.meetings import upsert_meetings

T = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
ITEM = {
    "id": SESSION,
    "meetingSeriesId": SESSION.split("_I_")[0],
    "title": "Board <briefing>",
    "meetingType": "meeting",
    "state": "ended",
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-01-01T01:00:00Z",
    "hostEmail": "ada@example.com",
    "hostDisplayName": "Ada Lovelace",
    "hasSlido": True,
}


def test_finding_a_meeting_again_updates_it_and_keeps_when_it_was_first_found(tmp_path: Path):
    con = toolkit.connect(tmp_path / "meetings.duckdb")
    first = upsert_meetings(con, ORG, [ITEM], "https://webexapis.com/v1", T)
    later = T + timedelta(days=1)
    again = upsert_meetings(con, ORG, [{**ITEM, "title": "Renamed"}], "https://x/v1", later)
    row = con.execute(
        "SELECT title, first_discovered_at, last_discovered_at, base_url, raw->>'title', "
        '"start", count(*) OVER () FROM meetings'
    ).fetchone()
    con.close()
    assert (first.new, first.known, again.new, again.known) == (1, 0, 0, 1)
    assert row is not None
    assert row[0] == "Renamed" and row[1] == T and row[2] == later
    assert row[3:5] == ("https://x/v1", "Renamed")
    assert row[5] == datetime(2026, 1, 1, tzinfo=timezone.utc) and row[6] == 1


def test_the_report_shows_the_meeting_where_discovered_and_says_not_discovered_elsewhere(
    tmp_path: Path,
):
    db = build_database(tmp_path / "compliance.duckdb")
    con = toolkit.connect(db)
    upsert_meetings(con, ORG, [ITEM], "https://webexapis.com/v1", T)
    found = {f.label: f.value for f in build_report(con, SESSION).glance.meeting}
    other = {f.label: f.value for f in build_report(con, OTHER_SESSION).glance.meeting}
    listed = toolkit.sessions(con).select("session_id", "title", "host_email").rows()
    con.close()
    assert found["Meeting"] == "Board <briefing>"
    assert found["Host"] == "Ada Lovelace <ada@example.com>"
    assert found["Scheduled start"] == "2026-01-01T00:00:00Z"
    assert {other[k] for k in ("Meeting", "Host", "Scheduled end")} == {"not discovered"}
    assert (SESSION, "Board <briefing>", "ada@example.com") in listed
    assert (OTHER_SESSION, None, None) in listed
