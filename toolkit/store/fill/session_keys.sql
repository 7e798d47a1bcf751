-- session_keys: a number for each session of `_new_events` not numbered yet, in the
-- order of its first row there (the order the events are stored), after the last one
-- given; then each row of `_new_events` is given its session's number, which the fills
-- store (one pass here, rather than a join in each fill). Run before the fills, after
-- the events themselves are stored from `_new_events`.
INSERT INTO session_keys
SELECT
    (SELECT coalesce(max(k.session_no), 0) FROM session_keys AS k)
        + row_number() OVER (ORDER BY n.first_row) AS session_no,
    n.session_id
FROM (
    SELECT e.session_id, min(e.rowid) AS first_row
    FROM _new_events AS e
    GROUP BY e.session_id
) AS n
WHERE n.session_id NOT IN (SELECT k.session_id FROM session_keys AS k);

ALTER TABLE _new_events ADD COLUMN session_no INTEGER;

UPDATE _new_events SET session_no = k.session_no
FROM session_keys AS k
WHERE k.session_id = _new_events.session_id;
