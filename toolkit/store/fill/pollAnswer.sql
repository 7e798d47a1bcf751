-- typed_poll_answer_events: the new pollAnswer events, typed as `poll_answer_events` shows them
INSERT INTO typed_poll_answer_events BY NAME
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
    WHERE e.event_type = 'pollAnswer'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    session_no,
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
    CAST(d.questionAnswers AS JSON) AS question_answers,
    TRY_CAST(f[1] AS DOUBLE) AS f_modified_ms,
    coalesce(TRY_CAST(f[2] AS BOOLEAN), false) AS f_is_deleted,
    coalesce(TRY_CAST(f[3] AS BOOLEAN), false) AS f_is_anonymous,
    f[4] AS f_question_id,
    CAST(NULL AS VARCHAR) AS f_poll_id,  -- the typed poll_id
    f[6] AS f_active_poll_id,
    f[7] AS f_status,
    f[8] AS f_action,
    CAST(NULL AS VARCHAR) AS f_text,  -- the typed text
    f[10] AS f_title
FROM parsed;
