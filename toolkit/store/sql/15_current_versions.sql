-- The current versions of questions and poll answers, kept per session by sync
-- (toolkit.store.session_stores: qaa_questions_store and poll_answers_store,
-- 07_derived_tables.sql): computing them took a window over every version of the
-- record (1.7 and 1.1 s at 10M events), and the nested views (30_) read them. The
-- views (20_current_views.sql) join each stored row to its typed row by rowid, and
-- compute the recent sessions (those with events since the stores' last refresh)
-- themselves, with the twins below: so they never lag the record. This file comes
-- before the views, which read its macros (DuckDB binds a view when it is created).

-- The sessions with events stored since the per-session stores were last refreshed
-- (toolkit.store.session_stores: events at or past the 'events' row of derived_marks;
-- every session when there is none): those whose rows the views over the stores
-- (20_current_views.sql, 70_stored_views.sql) compute themselves. Events are only appended, so this reads
-- the few rows added since.
CREATE OR REPLACE MACRO recent_sessions() AS TABLE
SELECT DISTINCT e.session_id
FROM events AS e
WHERE e.rowid >= coalesce(
    (SELECT max(m.row_end) FROM derived_marks AS m WHERE m.source = 'events'), 0
);

-- the rows of qaa_questions of the recent sessions
CREATE OR REPLACE MACRO qaa_questions_recent() AS TABLE
SELECT
    h.session_org_id,
    h.session_id,
    h.question_id,
    h.created_at,
    h.modified_at,
    h.is_deleted,
    h.text,
    h.is_anonymous,
    h.archived_status,
    h.profanities,
    h.upvotes,
    h.reply_count,
    h.author_user_id,
    h.author_name,
    h.author_unverified_name,
    h.status,
    h.data_session_id,
    h.event_id,
    h.event_at,
    h.actor_user_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count
FROM qaa_question_events AS h
WHERE h.session_id IN (SELECT r.session_id FROM recent_sessions() AS r)
WINDOW versions AS (
    PARTITION BY h.session_id, h.question_id, CASE WHEN h.question_id IS NULL THEN h.event_id END
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- the rows of poll_answers of the recent sessions
CREATE OR REPLACE MACRO poll_answers_recent() AS TABLE
SELECT
    h.session_org_id,
    h.session_id,
    h.poll_answer_id,
    h.created_at,
    h.modified_at,
    h.is_deleted,
    h.poll_id,
    h.poll_result_id,
    h.respondent_user_id,
    h.is_anonymous,
    h.text,
    h.options,
    h.question_answers,
    h.data_session_id,
    h.event_id,
    h.event_at,
    h.actor_user_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count
FROM poll_answer_events AS h
WHERE h.session_id IN (SELECT r.session_id FROM recent_sessions() AS r)
WINDOW versions AS (
    PARTITION BY h.session_id, h.poll_answer_id, CASE WHEN h.poll_answer_id IS NULL THEN h.event_id END
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- the rows of qaa_questions_store (07_derived_tables.sql) of every session, or of the
-- recent ones: each question's latest version, as the typed row's rowid, and the span
-- of its versions (the window of qaa_questions_recent())
CREATE OR REPLACE MACRO qaa_questions_in(only_recent) AS TABLE
SELECT
    h.session_no,
    h.session_id,
    h.rowid AS row_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count
FROM typed_qaa_question_events AS h
WHERE NOT only_recent OR h.session_id IN (SELECT r.session_id FROM recent_sessions() AS r)
WINDOW versions AS (
    PARTITION BY h.session_id, h.question_id, CASE WHEN h.question_id IS NULL THEN h.event_id END
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- the rows of poll_answers_store (07_derived_tables.sql) of every session, or of the
-- recent ones: each poll_answer's latest version, as the typed row's rowid, and the span
-- of its versions (the window of poll_answers_recent())
CREATE OR REPLACE MACRO poll_answers_in(only_recent) AS TABLE
SELECT
    h.session_no,
    h.session_id,
    h.rowid AS row_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count
FROM typed_poll_answer_events AS h
WHERE NOT only_recent OR h.session_id IN (SELECT r.session_id FROM recent_sessions() AS r)
WINDOW versions AS (
    PARTITION BY h.session_id, h.poll_answer_id, CASE WHEN h.poll_answer_id IS NULL THEN h.event_id END
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;
