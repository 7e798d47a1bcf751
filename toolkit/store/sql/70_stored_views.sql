-- Views over the per-session stores (toolkit.store.session_stores): the rows of a
-- whole-record view, kept per session when a sync ends, so that asking the whole
-- record reads those compact rows instead of computing every session's again. A
-- session with events stored since the stores' last refresh (recent_sessions(): a
-- sync under way, or one that was killed) is computed from the typed rows instead,
-- so these views never lag the record; each gives the rows of its computing macro.
-- A read-only open of a file from before a store sees it empty and the 'events' mark
-- missing (toolkit.store.database), so every session is computed, as before.

-- one row per session with events; key session_id (see session_activity_in)
CREATE OR REPLACE VIEW session_activity AS
SELECT
    s.session_org_id,
    s.session_id,
    s.event_count,
    s.actor_count,
    s.question_count,
    s.reply_count,
    s.upvote_count,
    s.poll_count,
    s.poll_answer_count,
    s.moderation_count,
    s.deleted_item_count,
    s.unknown_event_count
FROM session_activity_store AS s
WHERE s.session_id NOT IN (SELECT r.session_id FROM recent_sessions() AS r)
UNION ALL
SELECT * FROM session_activity_in(true);

-- one row per option of a poll's current result; key session_id, poll_id, question_id,
-- option_id (see poll_results_in)
CREATE OR REPLACE VIEW poll_results AS
SELECT
    s.session_id,
    s.poll_id,
    s.question_id,
    s.option_id,
    s.option_title,
    s.is_correct,
    s.votes,
    s.respondents
FROM poll_results_store AS s
WHERE s.session_id NOT IN (SELECT r.session_id FROM recent_sessions() AS r)
UNION ALL
SELECT * FROM poll_results_in(true);
