-- typed_poll_events: the new poll events, typed as `poll_events` shows them
INSERT INTO typed_poll_events BY NAME
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
    FROM _new_events AS e
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
