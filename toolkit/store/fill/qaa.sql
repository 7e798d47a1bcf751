-- typed_qaa_events: the new qaa events, typed as `qaa_events` shows them
INSERT INTO typed_qaa_events BY NAME
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
            "enabled": "BOOLEAN",
            "moderation": "BOOLEAN"
        }') AS d
    FROM _new_events AS e
    WHERE e.event_type = 'qaa'
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
    CAST(d.enabled AS BOOLEAN) AS enabled,
    CAST(d.moderation AS BOOLEAN) AS moderation
FROM parsed;
