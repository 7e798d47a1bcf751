-- typed_qaa_question_events: the new qaaQuestion events, typed as `qaa_question_events` shows them
INSERT INTO typed_qaa_question_events BY NAME
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
    WHERE e.event_type = 'qaaQuestion'
)
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    session_no,
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
    CAST(d.status AS VARCHAR) AS status,
    TRY_CAST(f[1] AS DOUBLE) AS f_modified_ms,
    coalesce(TRY_CAST(f[2] AS BOOLEAN), false) AS f_is_deleted,
    coalesce(TRY_CAST(f[3] AS BOOLEAN), false) AS f_is_anonymous,
    CAST(NULL AS VARCHAR) AS f_question_id,  -- the typed question_id
    f[5] AS f_poll_id,
    f[6] AS f_active_poll_id,
    CAST(NULL AS VARCHAR) AS f_status,  -- the typed status
    f[8] AS f_action,
    CAST(NULL AS VARCHAR) AS f_text,  -- the typed text
    f[10] AS f_title
FROM parsed;
