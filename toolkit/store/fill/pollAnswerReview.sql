-- typed_poll_answer_review_events: the new pollAnswerReview events, typed as `poll_answer_review_events` shows them
INSERT INTO typed_poll_answer_review_events BY NAME
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
    FROM _new_events AS e
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
