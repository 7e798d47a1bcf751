-- Analysis views behind toolkit.queries and the report: who did what, to which resource.
-- Built on the typed tables (05_typed_tables.sql: the properties read from `data`
-- when each event was stored), so they hold whatever the typed views make of a
-- snapshot. Versions of a resource are ordered as the current-state views order
-- them: modifiedAtMs, then event_at, then event_id. session_id is never computed, so
-- a filter on session_id reaches session_keys, and through its join the typed table's
-- scan (05_typed_tables.sql). Window functions run only where an
-- order of versions is needed; per-resource and per-session figures are plain GROUP BYs.

-- one row per event, with the data properties the analysis reads; key event_id
-- Read from the typed tables (each documented type's typed and `f_` columns), and
-- for any other type parsed from `data` here (typed_other_events); each branch reads
-- one table, so a filter on session_id reaches every scan. session_no last: the
-- session's number (session_keys), a cheap key to group a session's rows by.
CREATE OR REPLACE VIEW event_fields AS
SELECT
    event_id, event_at, session_org_id, session_id, actor_user_id,
    'session' AS event_type,
    session_id AS resource_id,
    f_question_id AS question_id,
    coalesce(f_poll_id, f_active_poll_id) AS poll_id,
    f_modified_ms AS modified_ms,
    f_is_deleted AS is_deleted,
    f_is_anonymous AS is_anonymous,
    f_status AS status,
    f_action AS action,
    nullif(coalesce(f_text, f_title), '') AS content_text,
    session_no
FROM typed_session_events JOIN session_keys USING (session_no, session_id)
UNION ALL
SELECT
    event_id, event_at, session_org_id, session_id, actor_user_id,
    'qaa' AS event_type,
    session_id AS resource_id,
    f_question_id AS question_id,
    coalesce(f_poll_id, f_active_poll_id) AS poll_id,
    f_modified_ms AS modified_ms,
    f_is_deleted AS is_deleted,
    f_is_anonymous AS is_anonymous,
    f_status AS status,
    f_action AS action,
    nullif(coalesce(f_text, f_title), '') AS content_text,
    session_no
FROM typed_qaa_events JOIN session_keys USING (session_no, session_id)
UNION ALL
SELECT
    event_id, event_at, session_org_id, session_id, actor_user_id,
    'qaaQuestion' AS event_type,
    question_id AS resource_id,
    question_id AS question_id,
    coalesce(f_poll_id, f_active_poll_id) AS poll_id,
    f_modified_ms AS modified_ms,
    f_is_deleted AS is_deleted,
    f_is_anonymous AS is_anonymous,
    status AS status,
    f_action AS action,
    nullif(coalesce(text, f_title), '') AS content_text,
    session_no
FROM typed_qaa_question_events JOIN session_keys USING (session_no, session_id)
UNION ALL
SELECT
    event_id, event_at, session_org_id, session_id, actor_user_id,
    'qaaQuestionReply' AS event_type,
    reply_id AS resource_id,
    question_id AS question_id,
    coalesce(f_poll_id, f_active_poll_id) AS poll_id,
    f_modified_ms AS modified_ms,
    f_is_deleted AS is_deleted,
    f_is_anonymous AS is_anonymous,
    f_status AS status,
    f_action AS action,
    nullif(coalesce(text, f_title), '') AS content_text,
    session_no
FROM typed_qaa_question_reply_events JOIN session_keys USING (session_no, session_id)
UNION ALL
SELECT
    event_id, event_at, session_org_id, session_id, actor_user_id,
    'qaaQuestionAction' AS event_type,
    question_id AS resource_id,
    question_id AS question_id,
    coalesce(f_poll_id, f_active_poll_id) AS poll_id,
    f_modified_ms AS modified_ms,
    f_is_deleted AS is_deleted,
    f_is_anonymous AS is_anonymous,
    f_status AS status,
    action AS action,
    nullif(coalesce(f_text, f_title), '') AS content_text,
    session_no
FROM typed_qaa_question_action_events JOIN session_keys USING (session_no, session_id)
UNION ALL
SELECT
    event_id, event_at, session_org_id, session_id, actor_user_id,
    'poll' AS event_type,
    poll_id AS resource_id,
    f_question_id AS question_id,
    coalesce(poll_id, f_active_poll_id) AS poll_id,
    f_modified_ms AS modified_ms,
    f_is_deleted AS is_deleted,
    f_is_anonymous AS is_anonymous,
    f_status AS status,
    f_action AS action,
    nullif(coalesce(f_text, title), '') AS content_text,
    session_no
FROM typed_poll_events JOIN session_keys USING (session_no, session_id)
UNION ALL
SELECT
    event_id, event_at, session_org_id, session_id, actor_user_id,
    'pollAnswer' AS event_type,
    poll_answer_id AS resource_id,
    f_question_id AS question_id,
    coalesce(poll_id, f_active_poll_id) AS poll_id,
    f_modified_ms AS modified_ms,
    f_is_deleted AS is_deleted,
    f_is_anonymous AS is_anonymous,
    f_status AS status,
    f_action AS action,
    nullif(coalesce(text, f_title), '') AS content_text,
    session_no
FROM typed_poll_answer_events JOIN session_keys USING (session_no, session_id)
UNION ALL
SELECT
    event_id, event_at, session_org_id, session_id, actor_user_id,
    'pollAnswerReview' AS event_type,
    poll_answer_id AS resource_id,
    f_question_id AS question_id,
    coalesce(poll_id, f_active_poll_id) AS poll_id,
    f_modified_ms AS modified_ms,
    f_is_deleted AS is_deleted,
    f_is_anonymous AS is_anonymous,
    f_status AS status,
    f_action AS action,
    nullif(coalesce(f_text, f_title), '') AS content_text,
    session_no
FROM typed_poll_answer_review_events JOIN session_keys USING (session_no, session_id)
UNION ALL
SELECT
    event_id, event_at, session_org_id, session_id, actor_user_id,
    'activePoll' AS event_type,
    session_id AS resource_id,
    f_question_id AS question_id,
    coalesce(f_poll_id, active_poll_id) AS poll_id,
    f_modified_ms AS modified_ms,
    f_is_deleted AS is_deleted,
    f_is_anonymous AS is_anonymous,
    f_status AS status,
    f_action AS action,
    nullif(coalesce(f_text, f_title), '') AS content_text,
    session_no
FROM typed_active_poll_events JOIN session_keys USING (session_no, session_id)
UNION ALL
SELECT
    p.event_id,
    p.event_at,
    p.session_org_id,
    p.session_id,
    p.actor_user_id,
    p.event_type,
    CAST(NULL AS VARCHAR) AS resource_id,
    CAST(p.f[1] AS VARCHAR) AS question_id,
    CAST(coalesce(p.f[2], p.f[3]) AS VARCHAR) AS poll_id,
    TRY_CAST(p.f[4] AS DOUBLE) AS modified_ms,
    CAST(coalesce(TRY_CAST(p.f[5] AS BOOLEAN), false) AS BOOLEAN) AS is_deleted,
    CAST(coalesce(TRY_CAST(p.f[6] AS BOOLEAN), false) AS BOOLEAN) AS is_anonymous,
    CAST(p.f[7] AS VARCHAR) AS status,
    CAST(p.f[8] AS VARCHAR) AS action,
    CAST(nullif(coalesce(p.f[9], p.f[10]), '') AS VARCHAR) AS content_text,
    p.session_no
FROM (
    -- types the toolkit does not know yet: parsed here, the rare rows they are
    SELECT
        e.event_id,
        e.event_at,
        e.session_org_id,
        e.session_id,
        e.actor_user_id,
        e.event_type,
        e.session_no,
        json_extract_string(e.data, [
            '$.questionId',
            '$.pollId',
            '$.activePollId',
            '$.modifiedAtMs',
            '$.isDeleted',
            '$.isAnonymous',
            '$.status',
            '$.action',
            '$.text',
            '$.title'
        ]) AS f
    FROM typed_other_events AS e JOIN session_keys USING (session_no, session_id)
) AS p;

-- one row per event, classified by what its actor did; key event_id
CREATE OR REPLACE VIEW event_activity AS
WITH keyed AS (
    SELECT
        f.event_id,
        f.event_at,
        f.session_org_id,
        f.session_id,
        f.actor_user_id,
        f.event_type,
        f.resource_id,
        f.question_id,
        f.poll_id,
        f.modified_ms,
        f.is_deleted,
        f.is_anonymous,
        f.status,
        f.action,
        f.content_text
    FROM event_fields AS f
),
versioned AS (
    SELECT
        k.event_id,
        k.event_at,
        k.session_org_id,
        k.session_id,
        k.actor_user_id,
        k.event_type,
        k.resource_id,
        k.question_id,
        k.poll_id,
        k.is_deleted,
        k.is_anonymous,
        k.status,
        k.action,
        k.content_text,
        row_number() OVER w AS version_number,
        count(*) OVER p AS version_count,
        coalesce(lag(k.is_deleted) OVER w, false) AS was_deleted,
        lag(k.status) OVER w AS previous_status,
        first_value(k.actor_user_id) OVER w AS poster_user_id,
        bool_or(k.is_anonymous) OVER p AS resource_is_anonymous
    FROM keyed AS k
    WINDOW
        p AS (PARTITION BY k.session_id, k.event_type, k.resource_id),
        w AS (
            PARTITION BY k.session_id, k.event_type, k.resource_id
            ORDER BY k.modified_ms ASC NULLS FIRST, k.event_at, k.event_id
        )
)
SELECT
    v.event_id,
    v.event_at,
    v.session_org_id,
    v.session_id,
    v.actor_user_id,
    v.event_type,
    v.resource_id,
    v.question_id,
    v.poll_id,
    CAST(
        CASE
            WHEN v.event_type = 'qaaQuestionAction' AND v.action = 'upvote' THEN 'upvote'
            WHEN v.event_type = 'qaaQuestionAction' AND v.action = 'removeUpvote'
                THEN 'upvote_removed'
            WHEN v.event_type = 'qaaQuestionAction' THEN 'question_moderation'
            WHEN v.event_type = 'pollAnswerReview' THEN 'answer_review'
            WHEN v.event_type = 'activePoll' AND v.is_deleted THEN 'poll_deactivation'
            WHEN v.event_type = 'activePoll' THEN 'poll_activation'
            WHEN v.event_type IN ('session', 'qaa') THEN 'settings_change'
            WHEN v.resource_id IS NULL THEN 'unknown'
            WHEN v.is_deleted AND NOT v.was_deleted THEN 'deletion'
            WHEN v.version_number = 1 AND v.event_type = 'qaaQuestion' THEN 'question'
            WHEN v.version_number = 1 AND v.event_type = 'qaaQuestionReply' THEN 'reply'
            WHEN v.version_number = 1 AND v.event_type = 'poll' THEN 'poll_created'
            WHEN v.version_number = 1 AND v.event_type = 'pollAnswer' THEN 'poll_answer'
            WHEN v.event_type = 'qaaQuestion' AND v.status IS DISTINCT FROM v.previous_status
                THEN 'status_change'
            WHEN v.event_type = 'qaaQuestion' THEN 'question_update'
            WHEN v.event_type = 'qaaQuestionReply' THEN 'reply_update'
            WHEN v.event_type = 'poll' THEN 'poll_update'
            ELSE 'answer_update'
        END AS VARCHAR
    ) AS activity,
    CAST(v.action AS VARCHAR) AS action,
    CAST(v.status AS VARCHAR) AS status,
    CAST(v.previous_status AS VARCHAR) AS previous_status,
    CAST(v.is_deleted AS BOOLEAN) AS is_deleted,
    CAST(v.content_text AS VARCHAR) AS content_text,
    CAST(v.version_number AS BIGINT) AS version_number,
    CAST(v.version_count AS BIGINT) AS version_count,
    CAST(v.poster_user_id AS VARCHAR) AS poster_user_id,
    CAST(
        v.event_type IN ('qaaQuestionAction', 'pollAnswerReview')
            AND v.action IS DISTINCT FROM 'upvote'
            AND v.action IS DISTINCT FROM 'removeUpvote'
        OR v.event_type = 'qaaQuestion' AND v.version_number > 1
            AND v.status IS DISTINCT FROM v.previous_status
            AND NOT (v.is_deleted AND NOT v.was_deleted)
        OR v.event_type IN ('qaaQuestion', 'qaaQuestionReply', 'pollAnswer')
            AND v.is_deleted AND NOT v.was_deleted
            AND v.actor_user_id IS DISTINCT FROM v.poster_user_id
        AS BOOLEAN
    ) AS is_moderation,
    CAST(
        v.event_type IN ('qaaQuestion', 'qaaQuestionReply', 'pollAnswer')
        AND v.resource_is_anonymous
        AND v.actor_user_id = v.poster_user_id
        AS BOOLEAN
    ) AS is_anonymous_author
FROM versioned AS v;

-- one row per question, reply, poll or poll answer, over all its versions;
-- key (session_id, event_type, resource_id)
-- The first and latest versions are picked with arg_min/arg_max over version_key,
-- which orders versions as event_activity's version_number does (modified_ms NULLS
-- FIRST, event_at, event_id), so no window is needed. The poster is the first
-- version's actor; an anonymous question, reply or answer is one with any version
-- marked isAnonymous (event_activity.is_anonymous_author holds for its poster).
-- Grouped by the session's number, joined to its id after: the GROUP BY of every
-- resource is the view's cost, and a number is cheaper to hash than the id.
CREATE OR REPLACE VIEW resource_lifecycle AS
WITH versions AS (
    SELECT
        f.session_org_id,
        f.session_no,
        f.event_type,
        f.resource_id,
        f.question_id,
        f.poll_id,
        f.event_at,
        f.actor_user_id,
        f.is_deleted,
        f.is_anonymous,
        f.content_text,
        (f.modified_ms IS NOT NULL, coalesce(f.modified_ms, 0), f.event_at, f.event_id)
            AS version_key
    FROM event_fields AS f
    WHERE f.event_type IN ('qaaQuestion', 'qaaQuestionReply', 'poll', 'pollAnswer')
),
grouped AS (
    SELECT
        v.session_org_id,
        v.session_no,
        v.event_type,
        v.resource_id,
        arg_min(v.question_id, v.version_key) AS question_id,
        arg_min(v.poll_id, v.version_key) AS poll_id,
        min(v.event_at) AS first_event_at,
        max(v.event_at) AS last_event_at,
        arg_min(v.actor_user_id, v.version_key) AS poster_user_id,
        bool_or(v.is_anonymous) AS resource_is_anonymous,
        arg_max(v.content_text, v.version_key) FILTER (
            WHERE v.content_text IS NOT NULL
        ) AS last_text,
        count(*) AS version_count,
        arg_max(v.is_deleted, v.version_key) AS is_deleted,
        bool_or(v.is_deleted) AS was_ever_deleted,
        arg_min(v.event_at, v.version_key) FILTER (WHERE v.is_deleted) AS deleted_at,
        arg_min(v.actor_user_id, v.version_key) FILTER (WHERE v.is_deleted) AS deleted_by_user_id
    FROM versions AS v
    GROUP BY v.session_org_id, v.session_no, v.event_type, v.resource_id
)
SELECT
    g.session_org_id,
    k.session_id,
    g.event_type,
    CAST(
        CASE g.event_type
            WHEN 'qaaQuestion' THEN 'question'
            WHEN 'qaaQuestionReply' THEN 'reply'
            WHEN 'poll' THEN 'poll'
            ELSE 'poll_answer'
        END AS VARCHAR
    ) AS kind,
    g.resource_id,
    CAST(g.question_id AS VARCHAR) AS question_id,
    CAST(g.poll_id AS VARCHAR) AS poll_id,
    g.first_event_at,
    g.last_event_at,
    CAST(g.poster_user_id AS VARCHAR) AS poster_user_id,
    CAST(g.event_type <> 'poll' AND g.resource_is_anonymous AS BOOLEAN) AS is_anonymous,
    CAST(g.last_text AS VARCHAR) AS last_text,
    CAST(g.version_count AS BIGINT) AS version_count,
    CAST(g.is_deleted AS BOOLEAN) AS is_deleted,
    CAST(g.was_ever_deleted AS BOOLEAN) AS was_ever_deleted,
    g.deleted_at,
    CAST(g.deleted_by_user_id AS VARCHAR) AS deleted_by_user_id,
    CAST(
        CASE
            WHEN g.was_ever_deleted THEN g.event_type <> 'poll'
                AND g.resource_is_anonymous
                AND g.deleted_by_user_id = g.poster_user_id
        END AS BOOLEAN
    ) AS is_deleted_by_anonymous_author
FROM grouped AS g
JOIN session_keys AS k USING (session_no);

-- user_names (one row per user who posted a question or reply under a name) is in
-- 07_derived_tables.sql, beside the table it reads.

-- The rows a computing macro reads from event_fields: every row when `only_recent`
-- is false, else the rows of recent_sessions() (a semi join above each table's scan;
-- with no recent session, each scan stops at once), so that a view over a store
-- computes only the sessions the store lacks. `only_recent` is a constant: the branch
-- it rules out is removed when the query is planned (one filter `NOT only_recent OR
-- ...` kept the subquery's joins in every plan).
CREATE OR REPLACE MACRO event_fields_in(only_recent) AS TABLE
SELECT * FROM event_fields WHERE NOT only_recent
UNION ALL
SELECT * FROM event_fields
WHERE only_recent AND session_id IN (SELECT r.session_id FROM recent_sessions() AS r);

-- The rows of session_activity (one per session with events; key session_id) of every
-- session, or with `only_recent` of recent_sessions(): the `session_activity` view
-- (70_stored_views.sql) reads the others from session_activity_store, which sync
-- keeps with these. Counts per event in one GROUP BY, counts of resources from one
-- row per resource (cheaper than a DISTINCT per count); the moderation steps that
-- depend on the order of versions (event_activity.is_moderation of the three types
-- that have them: a question's status changed, or a question, reply or answer deleted
-- by someone other than its poster) from a window over those types' rows alone.
CREATE OR REPLACE MACRO session_activity_in(only_recent) AS TABLE
WITH fields AS (
    SELECT f.session_org_id, f.session_id, f.actor_user_id, f.event_type,
        f.resource_id, f.action, f.is_deleted
    FROM event_fields_in(only_recent) AS f
),
per_event AS (
    SELECT
        f.session_org_id,
        f.session_id,
        count(*) AS event_count,
        count(DISTINCT f.actor_user_id) AS actor_count,
        count(*) FILTER (
            WHERE f.event_type = 'qaaQuestionAction' AND f.action = 'upvote'
        ) AS upvote_count,
        count(*) FILTER (
            WHERE f.event_type IN ('qaaQuestionAction', 'pollAnswerReview')
                AND f.action IS DISTINCT FROM 'upvote'
                AND f.action IS DISTINCT FROM 'removeUpvote'
        ) AS action_count,
        count(*) FILTER (
            WHERE f.resource_id IS NULL
                AND f.event_type NOT IN (
                    'qaaQuestionAction', 'pollAnswerReview', 'activePoll', 'session', 'qaa'
                )
        ) AS unknown_event_count
    FROM fields AS f
    GROUP BY f.session_org_id, f.session_id
),
per_resource AS (
    SELECT f.session_org_id, f.session_id, f.event_type, f.resource_id,
        bool_or(f.is_deleted) AS ever_deleted
    FROM fields AS f
    WHERE f.resource_id IS NOT NULL
        AND f.event_type IN ('qaaQuestion', 'qaaQuestionReply', 'poll', 'pollAnswer')
    GROUP BY f.session_org_id, f.session_id, f.event_type, f.resource_id
),
resources AS (
    SELECT r.session_org_id, r.session_id,
        count(*) FILTER (WHERE r.event_type = 'qaaQuestion') AS question_count,
        count(*) FILTER (WHERE r.event_type = 'qaaQuestionReply') AS reply_count,
        count(*) FILTER (WHERE r.event_type = 'poll') AS poll_count,
        count(*) FILTER (WHERE r.event_type = 'pollAnswer') AS poll_answer_count,
        count(*) FILTER (WHERE r.ever_deleted) AS deleted_item_count
    FROM per_resource AS r
    GROUP BY r.session_org_id, r.session_id
),
ordered AS (
    -- event_activity's window, over the three types' versions only
    SELECT
        f.session_org_id,
        f.session_id,
        f.event_type,
        f.actor_user_id,
        f.is_deleted,
        f.status,
        row_number() OVER w AS version_number,
        coalesce(lag(f.is_deleted) OVER w, false) AS was_deleted,
        lag(f.status) OVER w AS previous_status,
        first_value(f.actor_user_id) OVER w AS poster_user_id
    FROM event_fields_in(only_recent) AS f
    WHERE f.event_type IN ('qaaQuestion', 'qaaQuestionReply', 'pollAnswer')
    WINDOW w AS (
        PARTITION BY f.session_id, f.event_type, f.resource_id
        ORDER BY f.modified_ms ASC NULLS FIRST, f.event_at, f.event_id
    )
),
ordered_steps AS (
    SELECT o.session_org_id, o.session_id, count(*) AS step_count
    FROM ordered AS o
    WHERE o.event_type = 'qaaQuestion' AND o.version_number > 1
            AND o.status IS DISTINCT FROM o.previous_status
            AND NOT (o.is_deleted AND NOT o.was_deleted)
        OR o.is_deleted AND NOT o.was_deleted
            AND o.actor_user_id IS DISTINCT FROM o.poster_user_id
    GROUP BY o.session_org_id, o.session_id
)
SELECT
    e.session_org_id,
    e.session_id,
    CAST(e.event_count AS BIGINT) AS event_count,
    CAST(e.actor_count AS BIGINT) AS actor_count,
    CAST(coalesce(r.question_count, 0) AS BIGINT) AS question_count,
    CAST(coalesce(r.reply_count, 0) AS BIGINT) AS reply_count,
    CAST(e.upvote_count AS BIGINT) AS upvote_count,
    CAST(coalesce(r.poll_count, 0) AS BIGINT) AS poll_count,
    CAST(coalesce(r.poll_answer_count, 0) AS BIGINT) AS poll_answer_count,
    CAST(e.action_count + coalesce(o.step_count, 0) AS BIGINT) AS moderation_count,
    CAST(coalesce(r.deleted_item_count, 0) AS BIGINT) AS deleted_item_count,
    CAST(e.unknown_event_count AS BIGINT) AS unknown_event_count
FROM per_event AS e
LEFT JOIN resources AS r
    ON r.session_org_id = e.session_org_id AND r.session_id = e.session_id
LEFT JOIN ordered_steps AS o
    ON o.session_org_id = e.session_org_id AND o.session_id = e.session_id;

-- session_activity (one row per session with events) is in 70_stored_views.sql,
-- over the store sync keeps.

-- one row per poll version, with what changed since the version before; key event_id
CREATE OR REPLACE VIEW poll_changes AS
WITH ordered AS (
    SELECT
        h.session_org_id,
        h.session_id,
        h.poll_id,
        h.event_id,
        h.event_at,
        h.actor_user_id,
        h.title,
        h.is_deleted,
        h.is_locked,
        h.active_poll_result_id,
        row_number() OVER w AS version_number,
        lag(h.active_poll_result_id) OVER w AS previous_result_id,
        coalesce(h.is_deleted, false) AND NOT coalesce(lag(h.is_deleted) OVER w, false)
            AS is_deletion,
        coalesce(h.is_locked, false) IS DISTINCT FROM coalesce(lag(h.is_locked) OVER w, false)
            AS is_lock_change,
        (h.title, h.description, h.poll_type, h.question_type)
            IS DISTINCT FROM lag((h.title, h.description, h.poll_type, h.question_type)) OVER w
            AS is_wording_change,
        (CAST(h.options AS VARCHAR), CAST(h.questions AS VARCHAR))
            IS DISTINCT FROM lag((CAST(h.options AS VARCHAR), CAST(h.questions AS VARCHAR))) OVER w
            AS is_options_change,
        (h.hide_names, h.max_answers, h.max_options, h.enable_correct_options,
            h.reveal_correct_options, h.reveal_results)
            IS DISTINCT FROM lag((h.hide_names, h.max_answers, h.max_options,
                h.enable_correct_options, h.reveal_correct_options, h.reveal_results)) OVER w
            AS is_settings_change
    FROM poll_events AS h
    WHERE h.poll_id IS NOT NULL
    WINDOW w AS (
        PARTITION BY h.session_id, h.poll_id
        ORDER BY h.modified_at ASC NULLS FIRST, h.event_at, h.event_id
    )
)
SELECT
    o.session_org_id,
    o.session_id,
    o.poll_id,
    o.event_id,
    o.event_at,
    o.actor_user_id,
    CAST(o.version_number AS BIGINT) AS version_number,
    CAST(o.title AS VARCHAR) AS title,
    CAST(o.active_poll_result_id AS VARCHAR) AS active_poll_result_id,
    CAST(o.version_number > 1 AND o.previous_result_id IS NOT NULL
        AND o.active_poll_result_id IS DISTINCT FROM o.previous_result_id AS BOOLEAN)
        AS is_reset,
    CAST(o.version_number > 1 AND (o.is_wording_change OR o.is_options_change) AS BOOLEAN)
        AS is_content_edit,
    CAST(
        CASE
            WHEN o.version_number = 1 THEN 'created'
            ELSE coalesce(nullif(concat_ws(', ',
                CASE WHEN o.is_deletion THEN 'deleted' END,
                CASE WHEN o.previous_result_id IS NOT NULL
                    AND o.active_poll_result_id IS DISTINCT FROM o.previous_result_id
                    THEN 'results reset' END,
                CASE WHEN o.is_wording_change THEN 'wording edited' END,
                CASE WHEN o.is_options_change THEN 'options edited' END,
                CASE WHEN o.is_lock_change AND o.is_locked THEN 'locked' END,
                CASE WHEN o.is_lock_change AND NOT coalesce(o.is_locked, false)
                    THEN 'unlocked' END,
                CASE WHEN o.is_settings_change THEN 'settings changed' END
            ), ''), 'no visible change')
        END AS VARCHAR
    ) AS changes
FROM ordered AS o;

-- one row per poll answer whose latest review rejects it, whole or in part;
-- key session_id, poll_answer_id
CREATE OR REPLACE VIEW poll_answer_rejections AS
WITH reviewed AS (
    SELECT
        r.session_org_id,
        r.session_id,
        r.poll_answer_id,
        r.poll_id,
        r.poll_result_id,
        r.event_at,
        r.actor_user_id,
        coalesce(r.approval = 'rejected', false) AS is_whole_answer,
        [
            x.key FOR x IN map_entries(json_transform(r.questions, '"MAP(VARCHAR, JSON)"'))
            IF json_extract_string(x.value, '$.approval') = 'rejected'
        ] AS rejected_questions
    FROM poll_answer_reviews AS r
    WHERE r.is_deleted IS NOT TRUE
)
SELECT
    v.session_org_id,
    v.session_id,
    v.poll_answer_id,
    v.poll_id,
    v.poll_result_id,
    v.event_at AS reviewed_at,
    CAST(v.actor_user_id AS VARCHAR) AS reviewed_by_user_id,
    CAST(v.is_whole_answer AS BOOLEAN) AS is_whole_answer,
    CAST(array_to_string(list_sort(v.rejected_questions), ', ') AS VARCHAR)
        AS rejected_question_ids
FROM reviewed AS v
WHERE v.is_whole_answer OR len(coalesce(v.rejected_questions, [])) > 0;

-- one row per poll answer (latest version) with its choices and texts as text;
-- key session_id, poll_answer_id
CREATE OR REPLACE VIEW poll_answer_contents AS
WITH chosen AS (
    SELECT
        c.session_id,
        c.poll_answer_id,
        string_agg(
            coalesce(o.title, c.option_id), '; '
            ORDER BY q.sort_order NULLS FIRST, c.question_id NULLS FIRST,
                o.sort_order NULLS LAST, c.option_id
        ) AS chosen_options
    FROM poll_answer_options AS c
    LEFT JOIN poll_options AS o
        ON o.session_id = c.session_id
        AND o.poll_id = c.poll_id
        AND o.question_id IS NOT DISTINCT FROM c.question_id
        AND o.option_id = c.option_id
    LEFT JOIN poll_questions AS q
        ON q.session_id = c.session_id
        AND q.poll_id = c.poll_id
        AND q.question_id = c.question_id
    GROUP BY c.session_id, c.poll_answer_id
),
texts AS (
    SELECT
        t.session_id,
        t.poll_answer_id,
        string_agg(t.text, ' | ' ORDER BY t.question_id NULLS FIRST) AS answer_text
    FROM poll_answer_texts AS t
    GROUP BY t.session_id, t.poll_answer_id
)
SELECT
    a.session_id,
    a.poll_answer_id,
    a.poll_id,
    CAST(c.chosen_options AS VARCHAR) AS chosen_options,
    CAST(t.answer_text AS VARCHAR) AS answer_text
FROM poll_answers AS a
LEFT JOIN chosen AS c
    ON c.session_id = a.session_id AND c.poll_answer_id = a.poll_answer_id
LEFT JOIN texts AS t
    ON t.session_id = a.session_id AND t.poll_answer_id = a.poll_answer_id;
