-- Current-state views: the latest version of each resource, chosen by the greatest
-- modified_at (NULL last), then event_at, then event_id; deleted resources stay,
-- with is_deleted. first_event_at, last_event_at and version_count span all the
-- resource's stored versions. A version whose key is missing (malformed data)
-- is a resource of its own, with a NULL key: it is neither dropped nor merged
-- with other keyless versions. qaaQuestionAction is not a resource: it has only
-- its history view. Each view names the window over a resource's versions once
-- (WINDOW versions: latest first, frame spanning all), so one sort serves the
-- aggregates and row_number(). qaa_questions and poll_answers read the versions
-- stored per session (15_current_versions.sql).

-- one row per Slido session; key session_id. The meeting's title, host and scheduled
-- times come from `meetings` (NULL where `discover` has not found it).
CREATE OR REPLACE VIEW sessions AS
SELECT
    h.session_org_id,
    h.session_id,
    h.created_at,
    h.modified_at,
    h.is_deleted,
    h.anonymity_enabled,
    h.data_session_id,
    h.event_id,
    h.event_at,
    h.actor_user_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count,
    m.title,
    m.host_email,
    m.host_display_name,
    m."start" AS scheduled_start,
    m."end" AS scheduled_end
FROM session_events AS h
LEFT JOIN meetings AS m ON m.session_id = h.session_id
WINDOW versions AS (
    PARTITION BY h.session_id
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- one row per session's Q&A settings; key session_id
CREATE OR REPLACE VIEW qaa_settings AS
SELECT
    h.session_org_id,
    h.session_id,
    h.created_at,
    h.modified_at,
    h.is_deleted,
    h.enabled,
    h.moderation,
    h.data_session_id,
    h.event_id,
    h.event_at,
    h.actor_user_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count
FROM qaa_events AS h
WINDOW versions AS (
    PARTITION BY h.session_id
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- one row per Q&A question (its latest version); key session_id, question_id
CREATE OR REPLACE VIEW qaa_questions AS
SELECT
    h.session_org_id,
    s.session_id,
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
    s.first_event_at,
    s.last_event_at,
    s.version_count
FROM qaa_questions_store AS s
JOIN session_keys AS k USING (session_no, session_id)
JOIN typed_qaa_question_events AS h ON h.session_no = s.session_no AND h.rowid = s.row_id
WHERE s.session_id NOT IN (SELECT r.session_id FROM recent_sessions() AS r)
UNION ALL
SELECT * FROM qaa_questions_recent();

-- one row per reply to a question (its latest version); key session_id, reply_id
CREATE OR REPLACE VIEW qaa_question_replies AS
SELECT
    h.session_org_id,
    h.session_id,
    h.reply_id,
    h.created_at,
    h.modified_at,
    h.is_deleted,
    h.question_id,
    h.author_user_id,
    h.author_name,
    h.author_unverified_name,
    h.is_anonymous,
    h.text,
    h.data_session_id,
    h.event_id,
    h.event_at,
    h.actor_user_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count
FROM qaa_question_reply_events AS h
WINDOW versions AS (
    PARTITION BY h.session_id, h.reply_id, CASE WHEN h.reply_id IS NULL THEN h.event_id END
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- one row per poll (its latest version); key session_id, poll_id
CREATE OR REPLACE VIEW polls AS
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
WINDOW versions AS (
    PARTITION BY h.session_id, h.poll_id, CASE WHEN h.poll_id IS NULL THEN h.event_id END
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- one row per poll answer (its latest version); key session_id, poll_answer_id
CREATE OR REPLACE VIEW poll_answers AS
SELECT
    h.session_org_id,
    s.session_id,
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
    s.first_event_at,
    s.last_event_at,
    s.version_count
FROM poll_answers_store AS s
JOIN session_keys AS k USING (session_no, session_id)
JOIN typed_poll_answer_events AS h ON h.session_no = s.session_no AND h.rowid = s.row_id
WHERE s.session_id NOT IN (SELECT r.session_id FROM recent_sessions() AS r)
UNION ALL
SELECT * FROM poll_answers_recent();

-- one row per reviewed poll answer (its review's latest version); key session_id, poll_answer_id
CREATE OR REPLACE VIEW poll_answer_reviews AS
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
WINDOW versions AS (
    PARTITION BY h.session_id, h.poll_answer_id, CASE WHEN h.poll_answer_id IS NULL THEN h.event_id END
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;

-- one row per session's active-poll pointer (its latest version); key session_id
CREATE OR REPLACE VIEW active_polls AS
SELECT
    h.session_org_id,
    h.session_id,
    h.created_at,
    h.modified_at,
    h.is_deleted,
    h.active_poll_id,
    h.data_session_id,
    h.event_id,
    h.event_at,
    h.actor_user_id,
    min(h.event_at) OVER versions AS first_event_at,
    max(h.event_at) OVER versions AS last_event_at,
    CAST(count(*) OVER versions AS BIGINT) AS version_count
FROM active_poll_events AS h
WINDOW versions AS (
    PARTITION BY h.session_id
    ORDER BY h.modified_at DESC NULLS LAST, h.event_at DESC, h.event_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
QUALIFY row_number() OVER versions = 1;
