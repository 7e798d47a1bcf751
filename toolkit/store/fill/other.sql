-- typed_other_events: the new events of types the toolkit does not document, kept as
-- stored (their `data` parsed when read, by event_fields), so that a question about one
-- session finds them without reading `events`. Almost always none.
INSERT INTO typed_other_events BY NAME
SELECT
    e.event_id,
    e.event_at,
    e.session_org_id,
    e.session_id,
    e.session_no,
    e.actor_user_id,
    e.event_type,
    CAST(e.data AS JSON) AS data
FROM _new_events AS e
WHERE NOT is_documented_type(e.event_type);
