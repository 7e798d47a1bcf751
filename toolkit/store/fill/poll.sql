-- typed_poll_events: the new poll events, typed as `poll_events` shows them
INSERT INTO typed_poll_events BY NAME
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.session_no,
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
        }') AS d,
        -- the properties event_fields reads as text (see 60_analysis_views.sql)
        json_extract_string(e.data, [
            '$.modifiedAtMs',
            '$.isDeleted',
            '$.isAnonymous',
            '$.questionId',
            '$.pollId',
            '$.activePollId',
            '$.status',
            '$.action',
            '$.text',
            '$.title'
        ]) AS f
    FROM _new_events AS e
    WHERE e.event_type = 'poll'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    session_no,
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
    CAST(d."order" AS DOUBLE) AS sort_order,
    TRY_CAST(f[1] AS DOUBLE) AS f_modified_ms,
    coalesce(TRY_CAST(f[2] AS BOOLEAN), false) AS f_is_deleted,
    coalesce(TRY_CAST(f[3] AS BOOLEAN), false) AS f_is_anonymous,
    f[4] AS f_question_id,
    CAST(NULL AS VARCHAR) AS f_poll_id,  -- the typed poll_id
    f[6] AS f_active_poll_id,
    f[7] AS f_status,
    f[8] AS f_action,
    f[9] AS f_text,
    CAST(NULL AS VARCHAR) AS f_title  -- the typed title
FROM parsed;
