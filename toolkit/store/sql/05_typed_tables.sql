-- Typed storage: each event's `data` parsed once, when it is stored. Tables only,
-- filled in the transaction that stores the events (toolkit/store/fill/*.sql, run
-- by toolkit.store.typed) and rebuilt from `events` alone by `slido-compliance
-- rebuild` (toolkit.store.rebuild). `events.data` stays the record as received;
-- nothing here is anything but a function of it.

-- Milliseconds since the epoch to TIMESTAMPTZ, NULL outside years 1 to 9999.
CREATE OR REPLACE MACRO ms_to_timestamptz(ms) AS
    CASE
        WHEN ms BETWEEN -62135596800000 AND 253402300799999
            THEN make_timestamptz(CAST(ms AS BIGINT) * 1000)
    END;

-- one row per session with stored events, numbered in the order its first event was
-- stored; key session_no, and session_id. The typed tables hold a session's number
-- beside its id: their rows are in the order stored, so each row group holds a short
-- run of numbers, and the views join this table on both, so that a filter on the id
-- finds the session's number here and DuckDB skips every row group of the typed table
-- whose numbers exclude it (a filter on the ids themselves, random strings, skips none).
CREATE TABLE IF NOT EXISTS session_keys (
    session_no INTEGER NOT NULL,
    session_id VARCHAR NOT NULL
);

-- One table per documented event type, with the columns of its history view
-- (10_history_views.sql), typed as the view shows them, then the `f_` columns that
-- event_fields (60_analysis_views.sql) reads as text where no typed column holds the
-- same text: modifiedAtMs as a number, isDeleted and isAnonymous read leniently
-- (NULL or not a boolean: false), and properties the type does not document (almost
-- always NULL, which costs nothing stored). A typed column that holds the property's
-- text already leaves its `f_` column NULL.

-- one row per session event; key event_id, as stored
CREATE TABLE IF NOT EXISTS typed_session_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    data_session_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE,
    modified_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN,
    anonymity_enabled BOOLEAN,
    f_modified_ms DOUBLE,
    f_is_deleted BOOLEAN,
    f_is_anonymous BOOLEAN,
    f_question_id VARCHAR,
    f_poll_id VARCHAR,
    f_active_poll_id VARCHAR,
    f_status VARCHAR,
    f_action VARCHAR,
    f_text VARCHAR,
    f_title VARCHAR
);

-- one row per qaa (Q&A settings) event; key event_id, as stored
CREATE TABLE IF NOT EXISTS typed_qaa_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    data_session_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE,
    modified_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN,
    enabled BOOLEAN,
    moderation BOOLEAN,
    f_modified_ms DOUBLE,
    f_is_deleted BOOLEAN,
    f_is_anonymous BOOLEAN,
    f_question_id VARCHAR,
    f_poll_id VARCHAR,
    f_active_poll_id VARCHAR,
    f_status VARCHAR,
    f_action VARCHAR,
    f_text VARCHAR,
    f_title VARCHAR
);

-- one row per qaaQuestion event (a question version); key event_id, as stored
CREATE TABLE IF NOT EXISTS typed_qaa_question_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    data_session_id VARCHAR,
    question_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE,
    modified_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN,
    text VARCHAR,
    is_anonymous BOOLEAN,
    archived_status VARCHAR,
    profanities JSON,
    upvotes BIGINT,
    reply_count BIGINT,
    author_user_id VARCHAR,
    author_name VARCHAR,
    author_unverified_name VARCHAR,
    status VARCHAR,
    f_modified_ms DOUBLE,
    f_is_deleted BOOLEAN,
    f_is_anonymous BOOLEAN,
    f_question_id VARCHAR,
    f_poll_id VARCHAR,
    f_active_poll_id VARCHAR,
    f_status VARCHAR,
    f_action VARCHAR,
    f_text VARCHAR,
    f_title VARCHAR
);

-- one row per qaaQuestionReply event (a reply version); key event_id, as stored
CREATE TABLE IF NOT EXISTS typed_qaa_question_reply_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    data_session_id VARCHAR,
    question_id VARCHAR,
    reply_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE,
    modified_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN,
    author_user_id VARCHAR,
    author_name VARCHAR,
    author_unverified_name VARCHAR,
    is_anonymous BOOLEAN,
    text VARCHAR,
    f_modified_ms DOUBLE,
    f_is_deleted BOOLEAN,
    f_is_anonymous BOOLEAN,
    f_question_id VARCHAR,
    f_poll_id VARCHAR,
    f_active_poll_id VARCHAR,
    f_status VARCHAR,
    f_action VARCHAR,
    f_text VARCHAR,
    f_title VARCHAR
);

-- one row per qaaQuestionAction event (one action on a question); key event_id, as stored
CREATE TABLE IF NOT EXISTS typed_qaa_question_action_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    data_session_id VARCHAR,
    question_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE,
    modified_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN,
    action VARCHAR,
    f_modified_ms DOUBLE,
    f_is_deleted BOOLEAN,
    f_is_anonymous BOOLEAN,
    f_question_id VARCHAR,
    f_poll_id VARCHAR,
    f_active_poll_id VARCHAR,
    f_status VARCHAR,
    f_action VARCHAR,
    f_text VARCHAR,
    f_title VARCHAR
);

-- one row per poll event (a poll version); key event_id, as stored
CREATE TABLE IF NOT EXISTS typed_poll_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    data_session_id VARCHAR,
    poll_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE,
    modified_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN,
    poll_type VARCHAR,
    question_type VARCHAR,
    title VARCHAR,
    description VARCHAR,
    hide_names BOOLEAN,
    max_answers BIGINT,
    options JSON,
    max_options BIGINT,
    enable_correct_options BOOLEAN,
    reveal_correct_options BOOLEAN,
    is_locked BOOLEAN,
    reveal_results BOOLEAN,
    questions JSON,
    active_poll_result_id VARCHAR,
    sort_order DOUBLE,
    f_modified_ms DOUBLE,
    f_is_deleted BOOLEAN,
    f_is_anonymous BOOLEAN,
    f_question_id VARCHAR,
    f_poll_id VARCHAR,
    f_active_poll_id VARCHAR,
    f_status VARCHAR,
    f_action VARCHAR,
    f_text VARCHAR,
    f_title VARCHAR
);

-- one row per pollAnswer event (an answer version); key event_id, as stored
CREATE TABLE IF NOT EXISTS typed_poll_answer_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    data_session_id VARCHAR,
    poll_answer_id VARCHAR,
    poll_id VARCHAR,
    poll_result_id VARCHAR,
    respondent_user_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE,
    modified_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN,
    is_anonymous BOOLEAN,
    text VARCHAR,
    options JSON,
    question_answers JSON,
    f_modified_ms DOUBLE,
    f_is_deleted BOOLEAN,
    f_is_anonymous BOOLEAN,
    f_question_id VARCHAR,
    f_poll_id VARCHAR,
    f_active_poll_id VARCHAR,
    f_status VARCHAR,
    f_action VARCHAR,
    f_text VARCHAR,
    f_title VARCHAR
);

-- one row per pollAnswerReview event (a review version); key event_id, as stored
CREATE TABLE IF NOT EXISTS typed_poll_answer_review_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    data_session_id VARCHAR,
    poll_answer_id VARCHAR,
    poll_id VARCHAR,
    poll_result_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE,
    modified_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN,
    approval VARCHAR,
    questions JSON,
    f_modified_ms DOUBLE,
    f_is_deleted BOOLEAN,
    f_is_anonymous BOOLEAN,
    f_question_id VARCHAR,
    f_poll_id VARCHAR,
    f_active_poll_id VARCHAR,
    f_status VARCHAR,
    f_action VARCHAR,
    f_text VARCHAR,
    f_title VARCHAR
);

-- one row per activePoll event (a version of the active-poll pointer); key event_id, as stored
CREATE TABLE IF NOT EXISTS typed_active_poll_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    data_session_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE,
    modified_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN,
    active_poll_id VARCHAR,
    f_modified_ms DOUBLE,
    f_is_deleted BOOLEAN,
    f_is_anonymous BOOLEAN,
    f_question_id VARCHAR,
    f_poll_id VARCHAR,
    f_active_poll_id VARCHAR,
    f_status VARCHAR,
    f_action VARCHAR,
    f_text VARCHAR,
    f_title VARCHAR
);

-- one row per kind of derived storage; key kind. `digest` names the fill SQL the
-- stored rows were computed with; NULL while a rebuild is under way (a writable
-- open then starts it again).
CREATE TABLE IF NOT EXISTS typed_state (
    kind VARCHAR NOT NULL,
    digest VARCHAR,
    rebuilt_at TIMESTAMPTZ
);

-- one row per event of a type the toolkit does not document; key event_id. The event as
-- stored, its session by number; event_fields parses its `data` when read.
CREATE TABLE IF NOT EXISTS typed_other_events (
    event_id VARCHAR NOT NULL,
    event_at TIMESTAMP WITH TIME ZONE NOT NULL,
    session_org_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    session_no INTEGER NOT NULL,
    actor_user_id VARCHAR NOT NULL,
    event_type VARCHAR NOT NULL,
    data JSON NOT NULL USING COMPRESSION zstd
);
