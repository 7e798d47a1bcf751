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
