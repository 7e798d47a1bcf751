-- Derived storage: what a question about one session would otherwise compute over the
-- whole record, kept up to date by toolkit.store.derived (refreshed at the end of each
-- sync, for the rows the sync added; rebuilt with the typed tables by `slido-compliance
-- rebuild`). Like the typed tables, nothing here is anything but a function of `events`;
-- the views that read it add the typed rows stored since its last refresh, so they
-- never lag the record.

-- one row per user named by a question or reply, with the name of their latest named
-- version (greatest event_at, then event_id); key user_id. The `user_names` view is
-- these rows merged with the questions and replies stored since (derived_marks).
CREATE TABLE IF NOT EXISTS user_names_store (
    user_id VARCHAR NOT NULL,
    display_name VARCHAR NOT NULL,
    name_at TIMESTAMP WITH TIME ZONE NOT NULL,
    name_event_id VARCHAR NOT NULL
);

-- one row per typed table the derived tables read; key source. The rows of `source`
-- with rowid < row_end (rows_covered of them) are in the derived tables: typed rows are
-- only appended between rebuilds, so the rows at or past row_end are the ones since.
CREATE TABLE IF NOT EXISTS derived_marks (
    source VARCHAR NOT NULL,
    row_end BIGINT NOT NULL,
    rows_covered BIGINT NOT NULL
);
