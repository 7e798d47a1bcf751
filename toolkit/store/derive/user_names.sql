-- Refresh user_names_store with the questions and replies stored since its marks:
-- $q_from and $r_from are the first rowids not yet read, $q_to and $r_to the ends
-- now (toolkit.store.derived). Run in one transaction, statement by statement.

-- the latest named version of each user among the new rows
CREATE OR REPLACE TEMP TABLE _new_user_names AS
WITH named AS (
    SELECT
        q.author_user_id AS user_id,
        q.event_at,
        q.event_id,
        coalesce(
            nullif(q.author_name, ''), nullif(q.author_unverified_name, '') || ' (unverified)'
        ) AS display_name
    FROM typed_qaa_question_events AS q
    WHERE NOT q.f_is_anonymous AND q.rowid >= $q_from AND q.rowid < $q_to
    UNION ALL
    SELECT
        r.author_user_id,
        r.event_at,
        r.event_id,
        coalesce(
            nullif(r.author_name, ''), nullif(r.author_unverified_name, '') || ' (unverified)'
        )
    FROM typed_qaa_question_reply_events AS r
    WHERE NOT r.f_is_anonymous AND r.rowid >= $r_from AND r.rowid < $r_to
)
SELECT
    n.user_id,
    arg_max(n.display_name, (n.event_at, n.event_id)) AS display_name,
    max((n.event_at, n.event_id)) AS name_key
FROM named AS n
WHERE n.user_id IS NOT NULL AND n.display_name IS NOT NULL
GROUP BY n.user_id;

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
