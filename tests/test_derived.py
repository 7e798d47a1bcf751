"""Derived storage (toolkit.store.derived): `user_names` from a store refreshed by syncs.

The oracle is the view's definition before the store: the latest named version of each
user over every question and reply stored. Whatever was refreshed or not, and however
the rows arrived, the view must answer exactly that.
"""

from __future__ import annotations

from typing import Any

from toolkit.store import database as db
from toolkit.store import derived, ledger, rebuild

from .helpers import ORG, SESSION, T0, envelope, insert_events

OTHER = "abcdef0123456789abcdef0123456789_I_000000000000000002"

# user_names as it was computed before the store: over every typed question and reply
REFERENCE = """
WITH named AS (
    SELECT author_user_id AS user_id, event_at, event_id, coalesce(nullif(author_name, ''),
        nullif(author_unverified_name, '') || ' (unverified)') AS display_name
    FROM typed_qaa_question_events WHERE NOT f_is_anonymous
    UNION ALL
    SELECT author_user_id, event_at, event_id, coalesce(nullif(author_name, ''),
        nullif(author_unverified_name, '') || ' (unverified)')
    FROM typed_qaa_question_reply_events WHERE NOT f_is_anonymous
)
SELECT user_id, CAST(arg_max(display_name, (event_at, event_id)) AS VARCHAR) AS display_name
FROM named WHERE user_id IS NOT NULL AND display_name IS NOT NULL
GROUP BY user_id ORDER BY user_id
"""


def post(
    kind: str,
    item: str,
    minute: int,
    user: str,
    name: str | None,
    session: str = SESSION,
    unverified: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A question or reply version posted by `user` under `name` (None: no name)."""
    author = {"userId": user, "name": name, "unverifiedName": unverified}
    data = {"type": kind, "createdAtMs": T0, "modifiedAtMs": T0 + minute * 60_000}
    data |= {"questionId": item} if kind == "qaaQuestion" else {"replyId": item, "questionId": "q"}
    return envelope({**data, "user": author, **more}, T0 + minute * 60_000, user, session)


def names(con) -> list[tuple]:
    return con.execute("SELECT * FROM user_names ORDER BY user_id").fetchall()


def reference(con) -> list[tuple]:
    return con.execute(REFERENCE).fetchall()


def test_names_are_the_same_before_after_and_between_refreshes(con):
    insert_events(con, [post("qaaQuestion", "q1", 1, "u-ann", "Ann"), post("x", "", 0, "u", None)])
    assert names(con) == reference(con) == [("u-ann", "Ann")]
    assert derived.refresh(con) == 1
    assert con.execute("SELECT count(*) FROM user_names_store").fetchone() == (1,)
    insert_events(
        con,
        [
            post("qaaQuestion", "q1", 5, "u-ann", "Ann Smith"),  # renamed later
            post("qaaQuestionReply", "r1", 3, "u-bob", "Bob", OTHER),
            post("qaaQuestion", "q2", 2, "u-cy", "", unverified="cy"),
            post("qaaQuestion", "q3", 4, "u-dee", "Dee", isAnonymous=True),  # not a name
        ],
    )
    expected = [("u-ann", "Ann Smith"), ("u-bob", "Bob"), ("u-cy", "cy (unverified)")]
    assert names(con) == reference(con) == expected  # store + the rows since
    derived.refresh(con)
    assert names(con) == reference(con) == expected  # all from the store
    insert_events(con, [post("qaaQuestion", "q1", 0, "u-ann", "Ann (old)", OTHER)])  # older
    derived.refresh(con)
    assert names(con) == reference(con) == expected
    assert derived.refresh(con) == 0  # nothing new: nothing read


def test_the_sync_refresh_fills_the_store_and_a_rebuild_fills_it_alike(con):
    insert_events(con, [post("qaaQuestion", f"q{i}", i, f"u{i % 3}", f"N{i}") for i in range(9)])
    ledger.refresh_sessions_activity(con, [(ORG, SESSION)])
    stored = con.execute("SELECT * FROM user_names_store ORDER BY ALL").fetchall()
    assert len(stored) == 3
    rebuild.rebuild(con)
    assert con.execute("SELECT * FROM user_names_store ORDER BY ALL").fetchall() == stored
    assert names(con) == reference(con)
    assert rebuild.is_current(con)


def test_rows_removed_under_the_marks_make_the_refresh_start_again(con):
    insert_events(con, [post("qaaQuestion", "q1", 1, "u-ann", "Ann")])
    derived.refresh(con)
    con.execute("DELETE FROM typed_qaa_question_events")  # not the way rows ever go
    insert_events(con, [post("qaaQuestion", "q2", 2, "u-bob", "Bob")])
    derived.refresh(con)
    assert con.execute("SELECT user_id FROM user_names_store").fetchall() == [("u-bob",)]
    assert names(con) == reference(con) == [("u-bob", "Bob")]


def test_a_file_without_the_derived_rows_is_read_and_gets_them_on_a_writable_open(tmp_path):
    path = tmp_path / "x.duckdb"
    con = db.connect(path)
    insert_events(con, [post("qaaQuestion", "q1", 1, "u-ann", "Ann")])
    con.execute("DELETE FROM typed_state WHERE kind = ?", [derived.KIND])  # as before it
    con.close()
    reader = db.connect(path, read_only=True)  # answers right, from the typed rows alone
    try:
        assert names(reader) == [("u-ann", "Ann")]
        assert not derived.is_current(reader)
    finally:
        reader.close()
    con = db.connect(path)
    try:
        assert derived.is_current(con)
        assert con.execute("SELECT user_id FROM user_names_store").fetchall() == [("u-ann",)]
    finally:
        con.close()


def test_a_file_of_the_same_schema_from_before_the_derived_tables_is_read_as_before(tmp_path):
    path = tmp_path / "x.duckdb"
    con = db.connect(path)
    insert_events(con, [post("qaaQuestion", "q1", 1, "u-ann", "Ann")])
    # as the release before left it: no derived tables, its own user_names, other SQL
    con.execute("DROP VIEW user_names")
    con.execute("DROP TABLE user_names_store")
    con.execute("DROP TABLE derived_marks")
    con.execute(f"CREATE VIEW user_names AS {REFERENCE.replace('ORDER BY user_id', '')}")
    con.execute("DELETE FROM typed_state WHERE kind = ?", [derived.KIND])
    con.execute(f"UPDATE schema_version SET sql_digest = '{db.SCHEMA_VERSION}:0000000000000000'")
    con.close()
    reader = db.connect(path, read_only=True)  # this release's views over that file
    try:
        assert names(reader) == [("u-ann", "Ann")]
    finally:
        reader.close()
    con = db.connect(path)  # the upgrade: the tables made, then filled
    try:
        assert derived.is_current(con)
        assert con.execute("SELECT user_id FROM user_names_store").fetchall() == [("u-ann",)]
        assert names(con) == [("u-ann", "Ann")]
    finally:
        con.close()
