-- History views: one row per stored event of one `data.type`, every property of
-- `data` as a typed snake-case column, read from its typed table (05_typed_tables.sql),
-- which holds `data` parsed when the event was stored (toolkit/store/fill/): with
-- json_transform, whose structure gives each property its type, so a value that
-- does not fit (a string where a number belongs, an array where an object
-- belongs) is NULL. Nested objects stay JSON here; 30_nested_views.sql flattens
-- them. session_id is the envelope's; data's own sessionId is kept as data_session_id.

-- one row per session event; key event_id
CREATE OR REPLACE VIEW session_events AS
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    data_session_id,
    created_at,
    modified_at,
    is_deleted,
    anonymity_enabled
FROM typed_session_events JOIN session_keys USING (session_no, session_id);

-- one row per qaa (Q&A settings) event; key event_id
CREATE OR REPLACE VIEW qaa_events AS
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    data_session_id,
    created_at,
    modified_at,
    is_deleted,
    enabled,
    moderation
FROM typed_qaa_events JOIN session_keys USING (session_no, session_id);

-- one row per qaaQuestion event (a question version); key event_id
CREATE OR REPLACE VIEW qaa_question_events AS
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    data_session_id,
    question_id,
    created_at,
    modified_at,
    is_deleted,
    text,
    is_anonymous,
    archived_status,
    profanities,
    upvotes,
    reply_count,
    author_user_id,
    author_name,
    author_unverified_name,
    status
FROM typed_qaa_question_events JOIN session_keys USING (session_no, session_id);

-- one row per qaaQuestionReply event (a reply version); key event_id
CREATE OR REPLACE VIEW qaa_question_reply_events AS
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    data_session_id,
    question_id,
    reply_id,
    created_at,
    modified_at,
    is_deleted,
    author_user_id,
    author_name,
    author_unverified_name,
    is_anonymous,
    text
FROM typed_qaa_question_reply_events JOIN session_keys USING (session_no, session_id);

-- one row per qaaQuestionAction event (one action on a question); key event_id
CREATE OR REPLACE VIEW qaa_question_action_events AS
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    data_session_id,
    question_id,
    created_at,
    modified_at,
    is_deleted,
    action
FROM typed_qaa_question_action_events JOIN session_keys USING (session_no, session_id);

-- one row per poll event (a poll version); key event_id
CREATE OR REPLACE VIEW poll_events AS
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    data_session_id,
    poll_id,
    created_at,
    modified_at,
    is_deleted,
    poll_type,
    question_type,
    title,
    description,
    hide_names,
    max_answers,
    options,
    max_options,
    enable_correct_options,
    reveal_correct_options,
    is_locked,
    reveal_results,
    questions,
    active_poll_result_id,
    sort_order
FROM typed_poll_events JOIN session_keys USING (session_no, session_id);

-- one row per pollAnswer event (an answer version); key event_id
CREATE OR REPLACE VIEW poll_answer_events AS
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    data_session_id,
    poll_answer_id,
    poll_id,
    poll_result_id,
    respondent_user_id,
    created_at,
    modified_at,
    is_deleted,
    is_anonymous,
    text,
    options,
    question_answers
FROM typed_poll_answer_events JOIN session_keys USING (session_no, session_id);

-- one row per pollAnswerReview event (a review version); key event_id
CREATE OR REPLACE VIEW poll_answer_review_events AS
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    data_session_id,
    poll_answer_id,
    poll_id,
    poll_result_id,
    created_at,
    modified_at,
    is_deleted,
    approval,
    questions
FROM typed_poll_answer_review_events JOIN session_keys USING (session_no, session_id);

-- one row per activePoll event (a version of the active-poll pointer); key event_id
CREATE OR REPLACE VIEW active_poll_events AS
SELECT
    event_id,
    event_at,
    session_org_id,
    session_id,
    actor_user_id,
    data_session_id,
    created_at,
    modified_at,
    is_deleted,
    active_poll_id
FROM typed_active_poll_events JOIN session_keys USING (session_no, session_id);
