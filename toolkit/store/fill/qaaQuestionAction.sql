-- typed_qaa_question_action_events: the new qaaQuestionAction events, typed as `qaa_question_action_events` shows them
INSERT INTO typed_qaa_question_action_events BY NAME
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
    FROM _new_events AS e
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
