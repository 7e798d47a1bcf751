-- Derived storage: what a question about one session would otherwise compute over the
-- whole record, kept up to date by toolkit.store.derived (refreshed at the end of each
-- sync, for the rows the sync added; rebuilt with the typed tables by `slido-compliance
-- rebuild`). Like the typed tables, nothing here is anything but a function of `events`;
-- the views that read it add the typed rows stored since its last refresh, so they
-- never lag the record.

-- one row per user named by a question or reply, with the name of their latest named
-- version (greatest event_at, then event_id); key user_id. The `user_names` view is
-- these rows merged with the questions and replies stored since (derived_marks).
CREATE TABLE IF NOT EXISTS user_names_store (
    user_id VARCHAR NOT NULL,
    display_name VARCHAR NOT NULL,
    name_at TIMESTAMP WITH TIME ZONE NOT NULL,
    name_event_id VARCHAR NOT NULL
);

-- the current version of each question and poll answer (qaa_questions and
-- poll_answers, 20_current_views.sql), kept per session by sync
-- (toolkit.store.session_stores): the typed row of the latest version by its rowid,
-- and the span of the versions; key session_id, row_id (see qaa_questions_in and
-- poll_answers_in, 15_current_versions.sql). Typed rows are only appended between
-- rebuilds, and a rebuild fills these again.
CREATE TABLE IF NOT EXISTS qaa_questions_store (
    session_no INTEGER NOT NULL,
    session_id VARCHAR NOT NULL,
    row_id BIGINT NOT NULL,
    first_event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    last_event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    version_count BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS poll_answers_store (
    session_no INTEGER NOT NULL,
    session_id VARCHAR NOT NULL,
    row_id BIGINT NOT NULL,
    first_event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    last_event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    version_count BIGINT NOT NULL
);

-- the rows of poll_results (40_poll_results.sql), kept per session by sync
-- (toolkit.store.session_stores, like session_activity_store); key session_id,
-- poll_id, question_id, option_id
CREATE TABLE IF NOT EXISTS poll_results_store (
    session_id VARCHAR NOT NULL,
    poll_id VARCHAR,
    question_id VARCHAR,
    option_id VARCHAR,
    option_title VARCHAR,
    is_correct BOOLEAN,
    votes BIGINT,
    respondents BIGINT
);

-- where a session's events lie in `events`: one row per session and refresh of the
-- per-session stores (toolkit.store.session_rows), spanning the rowids of the session's
-- events stored since the refresh before; covers the events before the
-- 'session_rows' row of derived_marks. `events` is the record as received and has no
-- session number, so a filter on a session id alone reads every row group of it; a
-- rowid span lets DuckDB skip the others (session_events(sid), 50_status.sql).
CREATE TABLE IF NOT EXISTS session_rows (
    session_id VARCHAR NOT NULL,
    row_start BIGINT NOT NULL,
    row_end BIGINT NOT NULL
);

-- one row per source of derived storage; key source. The rows of `source` with rowid
-- < row_end (rows_covered of them) are in the derived tables: rows are only appended
-- (typed rows between rebuilds), so the rows at or past row_end are the ones since.
-- Sources: the typed tables user_names_store reads, `events` for the per-session
-- stores (toolkit.store.session_stores), and `session_rows` (the events it spans).
CREATE TABLE IF NOT EXISTS derived_marks (
    source VARCHAR NOT NULL,
    row_end BIGINT NOT NULL,
    rows_covered BIGINT NOT NULL
);

-- The view is here, not among the analysis views (60_), because it reads the tables
-- above: a read-only open of a file written before them keeps that file's own
-- user_names (files 00_ to 09_ are not re-applied as temporary views), which
-- computes the same rows from the typed tables alone.

-- The first rowid of `relation` (a typed table) that user_names_store has not read.
CREATE OR REPLACE MACRO derived_row_end(relation) AS coalesce((
    SELECT max(m.row_end) FROM derived_marks AS m WHERE m.source = relation
), 0);

-- The name a question or reply version is posted under: the author's, or the
-- unverified one marked so.
CREATE OR REPLACE MACRO posted_name(given, unverified) AS coalesce(
    nullif(given, ''), nullif(unverified, '') || ' (unverified)'
);

-- one row per named question or reply version stored since user_names_store's last
-- refresh (rowid at or past derived_marks.row_end): what `user_names` adds to the stored
-- names, and what the refresh (derive/user_names.sql) folds into them. A table macro,
-- not a view: the record's views are the contract's. Anonymous versions name nobody.
CREATE OR REPLACE MACRO user_name_versions_since() AS TABLE
WITH named AS (
    SELECT
        q.author_user_id AS user_id,
        q.event_at,
        q.event_id,
        posted_name(q.author_name, q.author_unverified_name) AS display_name
    FROM typed_qaa_question_events AS q
    WHERE NOT q.f_is_anonymous AND q.rowid >= derived_row_end('typed_qaa_question_events')
    UNION ALL
    SELECT
        r.author_user_id,
        r.event_at,
        r.event_id,
        posted_name(r.author_name, r.author_unverified_name)
    FROM typed_qaa_question_reply_events AS r
    WHERE NOT r.f_is_anonymous
        AND r.rowid >= derived_row_end('typed_qaa_question_reply_events')
)
SELECT n.user_id, n.event_at, n.event_id, n.display_name
FROM named AS n
WHERE n.user_id IS NOT NULL AND n.display_name IS NOT NULL;

-- one row per user who posted a question or reply under a name; key user_id
-- The name of the user's latest named version (greatest event_at, then event_id) over
-- the whole record: user_names_store holds it for the rows up to its last refresh; the
-- users named since then have their stored and new versions merged. The stored rows of
-- everyone else are read as they are, not aggregated again, so a join that needs a few
-- users' names does not group every user of the record.
CREATE OR REPLACE VIEW user_names AS
WITH since AS (
    SELECT v.user_id, v.event_at, v.event_id, v.display_name
    FROM user_name_versions_since() AS v
),
merged AS (
    SELECT n.user_id, arg_max(n.display_name, (n.event_at, n.event_id)) AS display_name
    FROM (
        SELECT s.user_id, s.name_at AS event_at, s.name_event_id AS event_id, s.display_name
        FROM user_names_store AS s
        WHERE s.user_id IN (SELECT since.user_id FROM since)
        UNION ALL
        SELECT since.user_id, since.event_at, since.event_id, since.display_name
        FROM since
    ) AS n
    GROUP BY n.user_id
)
SELECT s.user_id, s.display_name
FROM user_names_store AS s
WHERE s.user_id NOT IN (SELECT m.user_id FROM merged AS m)
UNION ALL
SELECT m.user_id, CAST(m.display_name AS VARCHAR) AS display_name
FROM merged AS m;
