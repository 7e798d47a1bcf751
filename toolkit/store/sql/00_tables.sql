-- The stored record. Tables only; every view is built on these in later files.

-- one row per distinct event; key event_id (sha256 of the event's canonical JSON)
CREATE TABLE IF NOT EXISTS events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMPTZ NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    event_type VARCHAR NOT NULL,
    data JSON NOT NULL USING COMPRESSION zstd,
    sync_id BIGINT NOT NULL
);
-- top-level fields of an item beyond the documented envelope (createdAtMs, sessionId,
-- sessionOrgId, userId, data), kept as one JSON object; NULL when there are none.
-- Added by schema 3: a column of its own keeps older files' rows as they are.
ALTER TABLE events ADD COLUMN IF NOT EXISTS envelope_extra JSON;

CREATE SEQUENCE IF NOT EXISTS sync_id_seq START 1;

-- one row per session per sync; key sync_id
CREATE TABLE IF NOT EXISTS sync_runs (
    sync_id BIGINT PRIMARY KEY,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    base_url VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    pages BIGINT NOT NULL DEFAULT 0,
    events_received BIGINT NOT NULL DEFAULT 0,
    events_new BIGINT NOT NULL DEFAULT 0,
    events_rejected BIGINT NOT NULL DEFAULT 0,
    status VARCHAR NOT NULL,
    error VARCHAR
);

-- one row per distinct malformed item; key raw_sha256
CREATE TABLE IF NOT EXISTS rejected_events (
    sync_id BIGINT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    reason VARCHAR NOT NULL,
    raw VARCHAR NOT NULL,
    session_org_id VARCHAR,
    session_id VARCHAR,
    raw_sha256 VARCHAR NOT NULL
);

-- one row per schema upgrade applied to this file
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL,
    sql_digest VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);

-- per-session counts of the `session_activity` view, kept by sync for `sessions()`;
-- key (session_org_id, session_id). A row is current while its event_count equals
-- the session's count in `events`, which only ever grows.
CREATE TABLE IF NOT EXISTS session_activity_store (
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    event_count BIGINT NOT NULL,
    actor_count BIGINT NOT NULL,
    question_count BIGINT NOT NULL,
    reply_count BIGINT NOT NULL,
    upvote_count BIGINT NOT NULL,
    poll_count BIGINT NOT NULL,
    poll_answer_count BIGINT NOT NULL,
    moderation_count BIGINT NOT NULL,
    deleted_item_count BIGINT NOT NULL,
    unknown_event_count BIGINT NOT NULL
);

-- one row per page body all of whose items are stored as events (schema 4); key
-- (session_org_id, session_id, body_sha256). A re-sync that receives the same bytes
-- again does not decode them: the same body holds the same items and next token.
-- Pages with a rejected item are never listed, so each re-sync checks them again.
CREATE TABLE IF NOT EXISTS stored_pages (
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    body_sha256 BLOB NOT NULL,
    next_token VARCHAR,
    items INTEGER NOT NULL,
    sync_id BIGINT NOT NULL
);

-- one row per meeting instance found by `discover` (List Meetings API, schema 5);
-- key session_id (the instance id is the compliance API's sessionId). `raw` is the
-- item as received; the other columns are read from it.
CREATE TABLE IF NOT EXISTS meetings (
    session_id VARCHAR NOT NULL,
    session_org_id VARCHAR,
    meeting_series_id VARCHAR,
    scheduled_meeting_id VARCHAR,
    title VARCHAR,
    host_email VARCHAR,
    host_display_name VARCHAR,
    host_user_id VARCHAR,
    site_url VARCHAR,
    scheduled_type VARCHAR,
    "start" TIMESTAMPTZ,
    "end" TIMESTAMPTZ,
    base_url VARCHAR,
    first_discovered_at TIMESTAMPTZ NOT NULL,
    last_discovered_at TIMESTAMPTZ NOT NULL,
    raw JSON NOT NULL
);
