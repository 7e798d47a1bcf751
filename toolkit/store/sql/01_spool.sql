-- The spool's joins (toolkit/store/spool.py); no view reads this table.

-- one row per spooled segment joined to the record; key segment ("<spool folder>/<file>").
-- Written in the transaction that joins the segment, so a segment joined before a kill
-- is not counted twice; run_key names the sync's run when its sync_id was only
-- allocated at the join.
CREATE TABLE IF NOT EXISTS spool_joins (
    segment VARCHAR PRIMARY KEY,
    run_key VARCHAR NOT NULL,
    sync_id BIGINT NOT NULL,
    joined_at TIMESTAMPTZ NOT NULL
);
