-- What the typed views do not cover, so that a new upstream event type is noticed.

-- Whether an event type is one of the nine the API documents (each has a typed table
-- and a history view); event_fields (60_analysis_views.sql) parses the others.
CREATE OR REPLACE MACRO is_documented_type(t) AS t IN (
    'session',
    'qaa',
    'qaaQuestion',
    'qaaQuestionReply',
    'qaaQuestionAction',
    'poll',
    'pollAnswer',
    'pollAnswerReview',
    'activePoll'
);

-- one row per event_type that is none of the nine documented types; key event_type
CREATE OR REPLACE VIEW unknown_event_types AS
SELECT
    CAST(e.event_type AS VARCHAR) AS event_type,
    CAST(count(*) AS BIGINT) AS event_count,
    CAST(count(DISTINCT e.session_id) AS BIGINT) AS session_count,
    min(e.event_at) AS first_event_at,
    max(e.event_at) AS last_event_at
FROM events AS e
WHERE NOT is_documented_type(e.event_type)
GROUP BY e.event_type;
