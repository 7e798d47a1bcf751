-- Refresh user_names_store with the question and reply versions stored since its
-- marks (the table macro user_name_versions_since, sql/07_derived_tables.sql); the marks are
-- moved after it (toolkit.store.derived). Run in one transaction, statement by statement.

-- the latest named version of each user among the new rows
CREATE OR REPLACE TEMP TABLE _new_user_names AS
SELECT
    v.user_id,
    arg_max(v.display_name, (v.event_at, v.event_id)) AS display_name,
    max((v.event_at, v.event_id)) AS name_key
FROM user_name_versions_since() AS v
GROUP BY v.user_id;

-- a stored name older than the new one gives way
DELETE FROM user_names_store AS s
USING _new_user_names AS n
WHERE s.user_id = n.user_id AND (s.name_at, s.name_event_id) < n.name_key;

-- the new names of users without a stored (newer) one
INSERT INTO user_names_store
SELECT n.user_id, n.display_name, n.name_key[1], n.name_key[2]
FROM _new_user_names AS n
ANTI JOIN user_names_store AS s ON s.user_id = n.user_id;

DROP TABLE _new_user_names;
