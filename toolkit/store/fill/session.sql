-- typed_session_events: the new session events, typed as `session_events` shows them
INSERT INTO typed_session_events BY NAME
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
    FROM _new_events AS e
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
