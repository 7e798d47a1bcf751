-- What the typed views do not cover, so that a new upstream event type is noticed.

-- one row per event_type that is none of the nine documented types; key event_type
CREATE OR REPLACE VIEW unknown_event_types AS
SELECT
    CAST(e.event_type AS VARCHAR) AS event_type,
    CAST(count(*) AS BIGINT) AS event_count,
    CAST(count(DISTINCT e.session_id) AS BIGINT) AS session_count,
    min(e.event_at) AS first_event_at,
    max(e.event_at) AS last_event_at
FROM events AS e
WHERE e.event_type NOT IN (
    'session',
    'qaa',
    'qaaQuestion',
    'qaaQuestionReply',
    'qaaQuestionAction',
    'poll',
    'pollAnswer',
    'pollAnswerReview',
    'activePoll'
)
GROUP BY e.event_type;
