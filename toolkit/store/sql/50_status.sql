-- Sync bookkeeping views, used by `status` and the report's completeness section.

-- one row per session seen in events or sync_runs; key session_id
CREATE OR REPLACE VIEW session_status AS
WITH stored AS (
    SELECT
        session_org_id,
        session_id,
        count(*) AS event_count,
        min(event_at) AS first_event_at,
        max(event_at) AS last_event_at
    FROM events
    GROUP BY session_org_id, session_id
),
runs AS (
    SELECT
        session_org_id,
        session_id,
        count(*) AS sync_count,
        max(started_at) AS last_sync_at,
        arg_max(status, started_at) AS last_status,
        arg_max(error, started_at) AS last_error,
        max(started_at) FILTER (WHERE status = 'ok') AS last_ok_sync_at
    FROM sync_runs
    GROUP BY session_org_id, session_id
)
SELECT
    CAST(coalesce(s.session_org_id, r.session_org_id) AS VARCHAR) AS session_org_id,
    CAST(coalesce(s.session_id, r.session_id) AS VARCHAR) AS session_id,
    CAST(coalesce(s.event_count, 0) AS BIGINT) AS event_count,
    s.first_event_at,
    s.last_event_at,
    CAST(coalesce(r.sync_count, 0) AS BIGINT) AS sync_count,
    r.last_sync_at,
    CAST(r.last_status AS VARCHAR) AS last_status,
    CAST(r.last_error AS VARCHAR) AS last_error,
    r.last_ok_sync_at,
    CAST(
        r.last_ok_sync_at IS NOT NULL
        AND (s.last_event_at IS NULL OR r.last_ok_sync_at >= s.last_event_at + INTERVAL 15 MINUTE)
        AS BOOLEAN
    ) AS is_settled,
    CAST(
        CASE
            WHEN s.last_event_at IS NULL THEN NULL
            WHEN r.last_ok_sync_at >= s.last_event_at + INTERVAL 15 MINUTE THEN NULL
            ELSE s.last_event_at + INTERVAL 15 MINUTE
        END AS TIMESTAMPTZ
    ) AS resync_after
FROM stored AS s
FULL OUTER JOIN runs AS r
    ON s.session_org_id = r.session_org_id AND s.session_id = r.session_id;
