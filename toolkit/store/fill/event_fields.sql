-- typed_event_fields: every new event, with the properties the analysis views read.
-- `data` is parsed once per event: one json_extract_string over a list of paths.
INSERT INTO typed_event_fields BY NAME
WITH parsed AS (
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        e.event_type,
        json_extract_string(e.data, [
            '$.questionId',
            '$.replyId',
            '$.pollId',
            '$.pollAnswerId',
            '$.activePollId',
            '$.modifiedAtMs',
            '$.isDeleted',
            '$.isAnonymous',
            '$.status',
            '$.action',
            '$.text',
            '$.title',
            '$.user.userId',
            '$.user.name',
            '$.user.unverifiedName'
        ]) AS f
    FROM _new_events AS e
),
named AS (
    SELECT
        p.*,
        p.event_type IN ('qaaQuestion', 'qaaQuestionReply')
            AND NOT coalesce(TRY_CAST(p.f[8] AS BOOLEAN), false) AS named
    FROM parsed AS p
)
SELECT
    p.event_id,
    p.event_at,
    p.session_org_id,
    p.session_id,
    p.actor_user_id,
    p.event_type,
    CAST(
        CASE p.event_type
            WHEN 'qaaQuestion' THEN p.f[1]
            WHEN 'qaaQuestionReply' THEN p.f[2]
            WHEN 'qaaQuestionAction' THEN p.f[1]
            WHEN 'poll' THEN p.f[3]
            WHEN 'pollAnswer' THEN p.f[4]
            WHEN 'pollAnswerReview' THEN p.f[4]
            WHEN 'activePoll' THEN p.session_id
            WHEN 'session' THEN p.session_id
            WHEN 'qaa' THEN p.session_id
        END AS VARCHAR
    ) AS resource_id,
    CAST(p.f[1] AS VARCHAR) AS question_id,
    CAST(coalesce(p.f[3], p.f[5]) AS VARCHAR) AS poll_id,
    TRY_CAST(p.f[6] AS DOUBLE) AS modified_ms,
    CAST(coalesce(TRY_CAST(p.f[7] AS BOOLEAN), false) AS BOOLEAN) AS is_deleted,
    CAST(coalesce(TRY_CAST(p.f[8] AS BOOLEAN), false) AS BOOLEAN) AS is_anonymous,
    CAST(p.f[9] AS VARCHAR) AS status,
    CAST(p.f[10] AS VARCHAR) AS action,
    CAST(nullif(coalesce(p.f[11], p.f[12]), '') AS VARCHAR) AS content_text,
    -- user_names: the author of a question or reply not posted anonymously
    CAST(CASE WHEN p.named THEN p.f[13] END AS VARCHAR) AS named_user_id,
    CAST(CASE WHEN p.named THEN coalesce(
        nullif(p.f[14], ''),
        nullif(p.f[15], '') || ' (unverified)'
    ) END AS VARCHAR) AS display_name
FROM named AS p;
