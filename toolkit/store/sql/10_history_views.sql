-- History views: one row per stored event of one `data.type`, every property of
-- `data` as a typed snake-case column. `data` is parsed once per row with
-- json_transform, whose structure gives each property its type: a value that
-- does not fit (a string where a number belongs, an array where an object
-- belongs) becomes NULL instead of failing the query. Nested objects stay JSON
-- here; 30_nested_views.sql flattens them.
-- session_id is the envelope's; data's own sessionId is kept as data_session_id.

-- Milliseconds since the epoch to TIMESTAMPTZ, NULL outside years 1 to 9999.
CREATE OR REPLACE MACRO ms_to_timestamptz(ms) AS
    CASE
        WHEN ms BETWEEN -62135596800000 AND 253402300799999
            THEN make_timestamptz(CAST(ms AS BIGINT) * 1000)
    END;

-- one row per session event; key event_id
CREATE OR REPLACE VIEW session_events AS
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        json_transform(e.data, '{
            "sessionId": "VARCHAR",
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "anonymityEnabled": "BOOLEAN"
        }') AS d
    FROM events AS e
    WHERE e.event_type = 'session'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.anonymityEnabled AS BOOLEAN) AS anonymity_enabled
FROM parsed;

-- one row per qaa (Q&A settings) event; key event_id
CREATE OR REPLACE VIEW qaa_events AS
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        json_transform(e.data, '{
            "sessionId": "VARCHAR",
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "enabled": "BOOLEAN",
            "moderation": "BOOLEAN"
        }') AS d
    FROM events AS e
    WHERE e.event_type = 'qaa'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.enabled AS BOOLEAN) AS enabled,
    CAST(d.moderation AS BOOLEAN) AS moderation
FROM parsed;

-- one row per qaaQuestion event (a question version); key event_id
CREATE OR REPLACE VIEW qaa_question_events AS
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        json_transform(e.data, '{
            "sessionId": "VARCHAR",
            "questionId": "VARCHAR",
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "text": "VARCHAR",
            "isAnonymous": "BOOLEAN",
            "archivedStatus": "VARCHAR",
            "profanities": "JSON",
            "upvotes": "BIGINT",
            "replyCount": "BIGINT",
            "user": {"userId": "VARCHAR", "name": "VARCHAR", "unverifiedName": "VARCHAR"},
            "status": "VARCHAR"
        }') AS d
    FROM events AS e
    WHERE e.event_type = 'qaaQuestion'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    CAST(d.questionId AS VARCHAR) AS question_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.text AS VARCHAR) AS text,
    CAST(d.isAnonymous AS BOOLEAN) AS is_anonymous,
    CAST(d.archivedStatus AS VARCHAR) AS archived_status,
    CAST(d.profanities AS JSON) AS profanities,
    CAST(d.upvotes AS BIGINT) AS upvotes,
    CAST(d.replyCount AS BIGINT) AS reply_count,
    CAST(d.user.userId AS VARCHAR) AS author_user_id,
    CAST(d.user.name AS VARCHAR) AS author_name,
    CAST(d.user.unverifiedName AS VARCHAR) AS author_unverified_name,
    CAST(d.status AS VARCHAR) AS status
FROM parsed;

-- one row per qaaQuestionReply event (a reply version); key event_id
CREATE OR REPLACE VIEW qaa_question_reply_events AS
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        json_transform(e.data, '{
            "sessionId": "VARCHAR",
            "questionId": "VARCHAR",
            "replyId": "VARCHAR",
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "user": {"userId": "VARCHAR", "name": "VARCHAR", "unverifiedName": "VARCHAR"},
            "isAnonymous": "BOOLEAN",
            "text": "VARCHAR"
        }') AS d
    FROM events AS e
    WHERE e.event_type = 'qaaQuestionReply'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    CAST(d.questionId AS VARCHAR) AS question_id,
    CAST(d.replyId AS VARCHAR) AS reply_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.user.userId AS VARCHAR) AS author_user_id,
    CAST(d.user.name AS VARCHAR) AS author_name,
    CAST(d.user.unverifiedName AS VARCHAR) AS author_unverified_name,
    CAST(d.isAnonymous AS BOOLEAN) AS is_anonymous,
    CAST(d.text AS VARCHAR) AS text
FROM parsed;

-- one row per qaaQuestionAction event (one action on a question); key event_id
CREATE OR REPLACE VIEW qaa_question_action_events AS
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        json_transform(e.data, '{
            "sessionId": "VARCHAR",
            "questionId": "VARCHAR",
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "action": "VARCHAR"
        }') AS d
    FROM events AS e
    WHERE e.event_type = 'qaaQuestionAction'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    CAST(d.questionId AS VARCHAR) AS question_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.action AS VARCHAR) AS action
FROM parsed;

-- one row per poll event (a poll version); key event_id
CREATE OR REPLACE VIEW poll_events AS
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        json_transform(e.data, '{
            "sessionId": "VARCHAR",
            "pollId": "VARCHAR",
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "pollType": "VARCHAR",
            "questionType": "VARCHAR",
            "title": "VARCHAR",
            "description": "VARCHAR",
            "hideNames": "BOOLEAN",
            "maxAnswers": "BIGINT",
            "options": "JSON",
            "maxOptions": "BIGINT",
            "enableCorrectOptions": "BOOLEAN",
            "revealCorrectOptions": "BOOLEAN",
            "isLocked": "BOOLEAN",
            "revealResults": "BOOLEAN",
            "questions": "JSON",
            "activePollResultId": "VARCHAR",
            "order": "DOUBLE"
        }') AS d
    FROM events AS e
    WHERE e.event_type = 'poll'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    CAST(d.pollId AS VARCHAR) AS poll_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.pollType AS VARCHAR) AS poll_type,
    CAST(d.questionType AS VARCHAR) AS question_type,
    CAST(d.title AS VARCHAR) AS title,
    CAST(d.description AS VARCHAR) AS description,
    CAST(d.hideNames AS BOOLEAN) AS hide_names,
    CAST(d.maxAnswers AS BIGINT) AS max_answers,
    CAST(d.options AS JSON) AS options,
    CAST(d.maxOptions AS BIGINT) AS max_options,
    CAST(d.enableCorrectOptions AS BOOLEAN) AS enable_correct_options,
    CAST(d.revealCorrectOptions AS BOOLEAN) AS reveal_correct_options,
    CAST(d.isLocked AS BOOLEAN) AS is_locked,
    CAST(d.revealResults AS BOOLEAN) AS reveal_results,
    CAST(d.questions AS JSON) AS questions,
    CAST(d.activePollResultId AS VARCHAR) AS active_poll_result_id,
    CAST(d."order" AS DOUBLE) AS sort_order
FROM parsed;

-- one row per pollAnswer event (an answer version); key event_id
CREATE OR REPLACE VIEW poll_answer_events AS
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        json_transform(e.data, '{
            "sessionId": "VARCHAR",
            "userId": "VARCHAR",
            "pollId": "VARCHAR",
            "pollResultId": "VARCHAR",
            "pollAnswerId": "VARCHAR",
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "isAnonymous": "BOOLEAN",
            "text": "VARCHAR",
            "options": "JSON",
            "questionAnswers": "JSON"
        }') AS d
    FROM events AS e
    WHERE e.event_type = 'pollAnswer'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    CAST(d.pollAnswerId AS VARCHAR) AS poll_answer_id,
    CAST(d.pollId AS VARCHAR) AS poll_id,
    CAST(d.pollResultId AS VARCHAR) AS poll_result_id,
    CAST(d.userId AS VARCHAR) AS respondent_user_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.isAnonymous AS BOOLEAN) AS is_anonymous,
    CAST(d.text AS VARCHAR) AS text,
    CAST(d.options AS JSON) AS options,
    CAST(d.questionAnswers AS JSON) AS question_answers
FROM parsed;

-- one row per pollAnswerReview event (a review version); key event_id
CREATE OR REPLACE VIEW poll_answer_review_events AS
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        json_transform(e.data, '{
            "sessionId": "VARCHAR",
            "pollId": "VARCHAR",
            "pollResultId": "VARCHAR",
            "pollAnswerId": "VARCHAR",
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "approval": "VARCHAR",
            "questions": "JSON"
        }') AS d
    FROM events AS e
    WHERE e.event_type = 'pollAnswerReview'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    CAST(d.pollAnswerId AS VARCHAR) AS poll_answer_id,
    CAST(d.pollId AS VARCHAR) AS poll_id,
    CAST(d.pollResultId AS VARCHAR) AS poll_result_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.approval AS VARCHAR) AS approval,
    CAST(d.questions AS JSON) AS questions
FROM parsed;

-- one row per activePoll event (a version of the active-poll pointer); key event_id
CREATE OR REPLACE VIEW active_poll_events AS
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        json_transform(e.data, '{
            "sessionId": "VARCHAR",
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "activePollId": "VARCHAR"
        }') AS d
    FROM events AS e
    WHERE e.event_type = 'activePoll'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.activePollId AS VARCHAR) AS active_poll_id
FROM parsed;
