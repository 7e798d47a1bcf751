-- typed_active_poll_events: the new activePoll events, typed as `active_poll_events` shows them
INSERT INTO typed_active_poll_events BY NAME
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
            "createdAtMs": "BIGINT",
            "modifiedAtMs": "BIGINT",
            "isDeleted": "BOOLEAN",
            "activePollId": "VARCHAR"
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
    WHERE e.event_type = 'activePoll'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    session_no,
    actor_user_id,
    CAST(d.sessionId AS VARCHAR) AS data_session_id,
    ms_to_timestamptz(d.createdAtMs) AS created_at,
    ms_to_timestamptz(d.modifiedAtMs) AS modified_at,
    CAST(d.isDeleted AS BOOLEAN) AS is_deleted,
    CAST(d.activePollId AS VARCHAR) AS active_poll_id,
    TRY_CAST(f[1] AS DOUBLE) AS f_modified_ms,
    coalesce(TRY_CAST(f[2] AS BOOLEAN), false) AS f_is_deleted,
    coalesce(TRY_CAST(f[3] AS BOOLEAN), false) AS f_is_anonymous,
    f[4] AS f_question_id,
    f[5] AS f_poll_id,
    CAST(NULL AS VARCHAR) AS f_active_poll_id,  -- the typed active_poll_id
    f[7] AS f_status,
    f[8] AS f_action,
    f[9] AS f_text,
    f[10] AS f_title
FROM parsed;
