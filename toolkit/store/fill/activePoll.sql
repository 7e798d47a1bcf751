-- typed_active_poll_events: the new activePoll events, typed as `active_poll_events` shows them
INSERT INTO typed_active_poll_events BY NAME
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
    FROM _new_events AS e
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
