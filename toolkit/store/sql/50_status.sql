-- Sync bookkeeping views, used by `status` and the report's completeness section.

-- A session's events (of any org) as stored in `events`: the rows its spans in
-- session_rows cover, and those past their mark, which DuckDB reads alone (a filter on
-- the session id by itself reads the ids of every row group). Spans never overlap the
-- rows past the mark, so each event comes once.
CREATE OR REPLACE MACRO session_events(sid) AS TABLE
SELECT e.*
FROM events AS e
JOIN session_rows AS r ON r.session_id = sid AND e.rowid BETWEEN r.row_start AND r.row_end
WHERE e.session_id = sid
UNION ALL
SELECT e.*
FROM events AS e
WHERE e.session_id = sid
    AND e.rowid >= coalesce(
        (SELECT max(m.row_end) FROM derived_marks AS m WHERE m.source = 'session_rows'), 0
    );

-- Whether a session's events are all fetched (its last ok sync came 15 minutes or more
-- after its newest event), and when to sync it again if not.
CREATE OR REPLACE MACRO is_settled(last_ok_sync_at, last_event_at) AS
    last_ok_sync_at IS NOT NULL
    AND (last_event_at IS NULL OR last_ok_sync_at >= last_event_at + INTERVAL 15 MINUTE);

CREATE OR REPLACE MACRO resync_after(last_ok_sync_at, last_event_at) AS
    CASE
        WHEN last_event_at IS NOT NULL AND NOT is_settled(last_ok_sync_at, last_event_at)
            THEN last_event_at + INTERVAL 15 MINUTE
    END;

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
    CAST(is_settled(r.last_ok_sync_at, s.last_event_at) AS BOOLEAN) AS is_settled,
    CAST(resync_after(r.last_ok_sync_at, s.last_event_at) AS TIMESTAMPTZ) AS resync_after
FROM stored AS s
FULL OUTER JOIN runs AS r
    ON s.session_org_id = r.session_org_id AND s.session_id = r.session_id;

-- The rows of session_status for one session id (one per org that has it), from that
-- session's own events (session_events) and runs: what `audit_summary` reads, at a
-- cost that does not grow with the record.
CREATE OR REPLACE MACRO session_status_of(sid) AS TABLE
SELECT
    CAST(coalesce(s.session_org_id, r.session_org_id) AS VARCHAR) AS session_org_id,
    CAST(sid AS VARCHAR) AS session_id,
    CAST(coalesce(s.event_count, 0) AS BIGINT) AS event_count,
    s.first_event_at,
    s.last_event_at,
    CAST(coalesce(r.sync_count, 0) AS BIGINT) AS sync_count,
    r.last_sync_at,
    CAST(r.last_status AS VARCHAR) AS last_status,
    CAST(r.last_error AS VARCHAR) AS last_error,
    r.last_ok_sync_at,
    CAST(is_settled(r.last_ok_sync_at, s.last_event_at) AS BOOLEAN) AS is_settled,
    CAST(resync_after(r.last_ok_sync_at, s.last_event_at) AS TIMESTAMPTZ) AS resync_after
FROM (
    SELECT
        session_org_id,
        count(*) AS event_count,
        min(event_at) AS first_event_at,
        max(event_at) AS last_event_at
    FROM session_events(sid)
    GROUP BY session_org_id
) AS s
FULL OUTER JOIN (
    SELECT
        session_org_id,
        count(*) AS sync_count,
        max(started_at) AS last_sync_at,
        arg_max(status, started_at) AS last_status,
        arg_max(error, started_at) AS last_error,
        max(started_at) FILTER (WHERE status = 'ok') AS last_ok_sync_at
    FROM sync_runs
    WHERE session_id = sid
    GROUP BY session_org_id
) AS r
    ON s.session_org_id = r.session_org_id;
