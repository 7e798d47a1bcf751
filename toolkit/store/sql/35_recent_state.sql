-- The current state of the recent sessions (recent_sessions(), 15_current_versions.sql:
-- those with events stored since the per-session stores' last refresh), which the views over those
-- stores (70_stored_views.sql) compute themselves. Each macro is its view's query
-- with every relation it reads restricted to those sessions: a semi join above each
-- typed table's scan (none recent: the scan stops at once), so nothing here costs
-- the rest of the record. Kept as the views' twins (tests/test_session_stores.py
-- compares each with its view restricted to the recent sessions) rather than making
-- the views macros themselves: a view's plan then kept the recent branch's joins, and
-- the nested views must go on reading the current views by name (the report's
-- session snapshots: toolkit.analysis.query.session_read_once).

-- the rows of polls of the recent sessions
CREATE OR REPLACE MACRO polls_recent() AS TABLE
SELECT
    h.session_org_id,
    h.session_id,
    h.poll_id,
    h.created_at,
    h.modified_at,
    h.is_deleted,
    h.poll_type,
    h.question_type,
    h.title,
    h.description,
    h.hide_names,
    h.max_answers,
    h.options,
    h.max_options,
    h.enable_correct_options,
    h.reveal_correct_options,
    h.is_locked,
    h.reveal_results,
    h.questions,
    h.active_poll_result_id,
    h.sort_order,
    h.data_session_id,
    h.event_id,
    h.event_at,
    h.actor_user_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count
FROM poll_events AS h
WHERE h.session_id IN (SELECT r.session_id FROM recent_sessions() AS r)
WINDOW versions AS (
    PARTITION BY h.session_id, h.poll_id, CASE WHEN h.poll_id IS NULL THEN h.event_id END
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- the rows of poll_answer_reviews of the recent sessions
CREATE OR REPLACE MACRO poll_answer_reviews_recent() AS TABLE
SELECT
    h.session_org_id,
    h.session_id,
    h.poll_answer_id,
    h.created_at,
    h.modified_at,
    h.is_deleted,
    h.poll_id,
    h.poll_result_id,
    h.approval,
    h.questions,
    h.data_session_id,
    h.event_id,
    h.event_at,
    h.actor_user_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count
FROM poll_answer_review_events AS h
WHERE h.session_id IN (SELECT r.session_id FROM recent_sessions() AS r)
WINDOW versions AS (
    PARTITION BY h.session_id, h.poll_answer_id, CASE WHEN h.poll_answer_id IS NULL THEN h.event_id END
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- the rows of poll_options of the recent sessions
CREATE OR REPLACE MACRO poll_options_recent() AS TABLE
WITH parts AS (
    -- one row per part of a poll: its root (question_id NULL), then each survey question
    SELECT
        p.session_id,
        p.poll_id,
        unnest(list_prepend(
            {'key': CAST(NULL AS VARCHAR), 'value': {'options': p.options}},
            map_entries(json_transform(p.questions, '"MAP(VARCHAR, STRUCT(options JSON))"'))
        )) AS part
    FROM polls_recent() AS p
),
entries AS (
    SELECT
        x.session_id,
        x.poll_id,
        x.part.key AS question_id,
        unnest(map_entries(json_transform(x.part.value.options, '"MAP(VARCHAR, JSON)"'))) AS entry
    FROM parts AS x
),
parsed AS (
    SELECT
        x.session_id,
        x.poll_id,
        x.question_id,
        x.entry.key AS option_id,
        json_transform(x.entry.value, '{
            "title": "VARCHAR",
            "isCorrect": "BOOLEAN",
            "order": "DOUBLE"
        }') AS o
    FROM entries AS x
)
SELECT
    session_id,
    poll_id,
    CAST(question_id AS VARCHAR) AS question_id,
    CAST(option_id AS VARCHAR) AS option_id,
    CAST(o.title AS VARCHAR) AS title,
    CAST(o.isCorrect AS BOOLEAN) AS is_correct,
    CAST(o."order" AS DOUBLE) AS sort_order
FROM parsed;

-- the rows of poll_answer_parts of the recent sessions
CREATE OR REPLACE MACRO poll_answer_parts_recent() AS TABLE
SELECT
    a.session_id,
    a.poll_answer_id,
    a.poll_id,
    a.poll_result_id,
    a.respondent_user_id,
    a.is_deleted,
    a.is_anonymous,
    {'key': CAST(NULL AS VARCHAR), 'value': {'options': a.options, 'text': a.text}} AS part
FROM poll_answers_recent() AS a
UNION ALL
SELECT
    a.session_id,
    a.poll_answer_id,
    a.poll_id,
    a.poll_result_id,
    a.respondent_user_id,
    a.is_deleted,
    a.is_anonymous,
    unnest(map_entries(json_transform(
        a.question_answers, '"MAP(VARCHAR, STRUCT(options JSON, text VARCHAR))"'
    ))) AS part
FROM poll_answers_recent() AS a
WHERE a.question_answers IS NOT NULL;

-- the rows of poll_answer_options of the recent sessions
CREATE OR REPLACE MACRO poll_answer_options_recent() AS TABLE
WITH choices AS (
    SELECT
        p.session_id,
        p.poll_answer_id,
        p.poll_id,
        p.poll_result_id,
        p.part.key AS question_id,
        unnest(json_keys(p.part.value.options)) AS option_id,
        p.respondent_user_id,
        p.is_deleted,
        p.is_anonymous
    FROM poll_answer_parts_recent() AS p
)
SELECT
    session_id,
    poll_answer_id,
    poll_id,
    poll_result_id,
    CAST(question_id AS VARCHAR) AS question_id,
    CAST(option_id AS VARCHAR) AS option_id,
    respondent_user_id,
    is_deleted,
    is_anonymous
FROM choices;

-- The rows of a view of every session, or with `only_recent` of the recent ones (its
-- twin above), for the macros that compute a store's rows (poll_results_in).
-- `only_recent` is a constant: the branch it rules out is removed when the query is
-- planned, so a filter on session_id reaches the scans as it does through the view.
-- BY NAME: within a report's session snapshot (session_read_once) the view's name is
-- a temporary table of fewer columns, read by the branch removed.
CREATE OR REPLACE MACRO scoped_polls(only_recent) AS TABLE
SELECT * FROM polls WHERE NOT only_recent
UNION ALL BY NAME
SELECT * FROM polls_recent() WHERE only_recent;

CREATE OR REPLACE MACRO scoped_poll_options(only_recent) AS TABLE
SELECT * FROM poll_options WHERE NOT only_recent
UNION ALL BY NAME
SELECT * FROM poll_options_recent() WHERE only_recent;

CREATE OR REPLACE MACRO scoped_poll_answer_options(only_recent) AS TABLE
SELECT * FROM poll_answer_options WHERE NOT only_recent
UNION ALL BY NAME
SELECT * FROM poll_answer_options_recent() WHERE only_recent;

CREATE OR REPLACE MACRO scoped_poll_answer_reviews(only_recent) AS TABLE
SELECT * FROM poll_answer_reviews WHERE NOT only_recent
UNION ALL BY NAME
SELECT * FROM poll_answer_reviews_recent() WHERE only_recent;
