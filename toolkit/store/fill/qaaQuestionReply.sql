-- typed_qaa_question_reply_events: the new qaaQuestionReply events, typed as `qaa_question_reply_events` shows them
INSERT INTO typed_qaa_question_reply_events BY NAME
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
    FROM _new_events AS e
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
