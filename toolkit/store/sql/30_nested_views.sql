-- Nested data of the current state, one row per entry: the objects keyed by id
-- (poll questions and options, chosen options, survey answers) and the
-- profanity spans of a question. Objects are split with
-- json_transform(..., '"MAP(VARCHAR, JSON)"') or json_keys(); a value that is not
-- an object (an array, a string) yields no entries, never an error. Deleted
-- resources keep their nested rows; filter on polls.is_deleted or on the
-- is_deleted column where one is given.

-- one row per survey question of a current poll; key session_id, poll_id, question_id
CREATE OR REPLACE VIEW poll_questions AS
WITH entries AS (
    SELECT
        p.session_id,
        p.poll_id,
        unnest(map_entries(json_transform(p.questions, '"MAP(VARCHAR, JSON)"'))) AS entry
    FROM polls AS p
),
parsed AS (
    SELECT
        x.session_id,
        x.poll_id,
        x.entry.key AS question_id,
        json_transform(x.entry.value, '{
            "order": "DOUBLE",
            "isRequired": "BOOLEAN",
            "questionType": "VARCHAR",
            "title": "VARCHAR",
            "description": "VARCHAR",
            "hideNames": "BOOLEAN",
            "maxAnswers": "BIGINT",
            "maxOptions": "BIGINT",
            "enableCorrectOptions": "BOOLEAN",
            "revealCorrectOptions": "BOOLEAN",
            "isLocked": "BOOLEAN",
            "revealResults": "BOOLEAN"
        }') AS q
    FROM entries AS x
)
SELECT
    session_id,
    poll_id,
    CAST(question_id AS VARCHAR) AS question_id,
    CAST(q."order" AS DOUBLE) AS sort_order,
    CAST(q.isRequired AS BOOLEAN) AS is_required,
    CAST(q.questionType AS VARCHAR) AS question_type,
    CAST(q.title AS VARCHAR) AS title,
    CAST(q.description AS VARCHAR) AS description,
    CAST(q.hideNames AS BOOLEAN) AS hide_names,
    CAST(q.maxAnswers AS BIGINT) AS max_answers,
    CAST(q.maxOptions AS BIGINT) AS max_options,
    CAST(q.enableCorrectOptions AS BOOLEAN) AS enable_correct_options,
    CAST(q.revealCorrectOptions AS BOOLEAN) AS reveal_correct_options,
    CAST(q.isLocked AS BOOLEAN) AS is_locked,
    CAST(q.revealResults AS BOOLEAN) AS reveal_results
FROM parsed;

-- Options of a simple poll (question_id NULL) and of each survey question.

-- one row per option of a current poll; key session_id, poll_id, question_id, option_id
CREATE OR REPLACE VIEW poll_options AS
WITH parts AS (
    -- one row per part of a poll: its root (question_id NULL), then each survey question
    SELECT
        p.session_id,
        p.poll_id,
        unnest(list_prepend(
            {'key': CAST(NULL AS VARCHAR), 'value': {'options': p.options}},
            map_entries(json_transform(p.questions, '"MAP(VARCHAR, STRUCT(options JSON))"'))
        )) AS part
    FROM polls AS p
),
entries AS (
    SELECT
        x.session_id,
        x.poll_id,
        x.part.key AS question_id,
        unnest(map_entries(json_transform(x.part.value.options, '"MAP(VARCHAR, JSON)"'))) AS entry
    FROM parts AS x
),
parsed AS (
    SELECT
        x.session_id,
        x.poll_id,
        x.question_id,
        x.entry.key AS option_id,
        json_transform(x.entry.value, '{
            "title": "VARCHAR",
            "isCorrect": "BOOLEAN",
            "order": "DOUBLE"
        }') AS o
    FROM entries AS x
)
SELECT
    session_id,
    poll_id,
    CAST(question_id AS VARCHAR) AS question_id,
    CAST(option_id AS VARCHAR) AS option_id,
    CAST(o.title AS VARCHAR) AS title,
    CAST(o.isCorrect AS BOOLEAN) AS is_correct,
    CAST(o."order" AS DOUBLE) AS sort_order
FROM parsed;

-- Each current answer split into parts: its root (a simple poll: question_id NULL)
-- and, for a survey, one part per question; the two views below read it. The roots
-- and the survey parts are two branches: most answers have no questionAnswers, and
-- unnesting a list for each of them cost more than the rest (10M events:
-- poll_answer_parts 0.84 -> 0.66 s).

-- one row per part of a current answer; key session_id, poll_answer_id, part.key
CREATE OR REPLACE VIEW poll_answer_parts AS
SELECT
    a.session_id,
    a.poll_answer_id,
    a.poll_id,
    a.poll_result_id,
    a.respondent_user_id,
    a.is_deleted,
    a.is_anonymous,
    {'key': CAST(NULL AS VARCHAR), 'value': {'options': a.options, 'text': a.text}} AS part
FROM poll_answers AS a
UNION ALL
SELECT
    a.session_id,
    a.poll_answer_id,
    a.poll_id,
    a.poll_result_id,
    a.respondent_user_id,
    a.is_deleted,
    a.is_anonymous,
    unnest(map_entries(json_transform(
        a.question_answers, '"MAP(VARCHAR, STRUCT(options JSON, text VARCHAR))"'
    ))) AS part
FROM poll_answers AS a
WHERE a.question_answers IS NOT NULL;

-- Options chosen at the root of an answer (a simple poll: question_id NULL) or per
-- survey question.

-- one row per option chosen in a current answer; key session_id, poll_answer_id, question_id, option_id
CREATE OR REPLACE VIEW poll_answer_options AS
WITH choices AS (
    SELECT
        p.session_id,
        p.poll_answer_id,
        p.poll_id,
        p.poll_result_id,
        p.part.key AS question_id,
        unnest(json_keys(p.part.value.options)) AS option_id,
        p.respondent_user_id,
        p.is_deleted,
        p.is_anonymous
    FROM poll_answer_parts AS p
)
SELECT
    session_id,
    poll_answer_id,
    poll_id,
    poll_result_id,
    CAST(question_id AS VARCHAR) AS question_id,
    CAST(option_id AS VARCHAR) AS option_id,
    respondent_user_id,
    is_deleted,
    is_anonymous
FROM choices;

-- Texts given at the root of an answer (a simple poll: question_id NULL) or per
-- survey question.

-- one row per text of a current answer; key session_id, poll_answer_id, question_id
CREATE OR REPLACE VIEW poll_answer_texts AS
SELECT
    p.session_id,
    p.poll_answer_id,
    p.poll_id,
    p.poll_result_id,
    CAST(p.part.key AS VARCHAR) AS question_id,
    CAST(p.part.value.text AS VARCHAR) AS text,
    p.respondent_user_id,
    p.is_deleted,
    p.is_anonymous
FROM poll_answer_parts AS p
WHERE p.part.value.text IS NOT NULL;

-- one row per profanity span of a current question; key session_id, question_id, first, last
CREATE OR REPLACE VIEW qaa_question_profanities AS
WITH spans AS (
    SELECT
        q.session_id,
        q.question_id,
        unnest(json_transform(
            q.profanities, '[{"first": "BIGINT", "last": "BIGINT", "isEmoji": "BOOLEAN"}]'
        )) AS span
    FROM qaa_questions AS q
)
SELECT
    session_id,
    question_id,
    CAST(span."first" AS BIGINT) AS first,
    CAST(span."last" AS BIGINT) AS last,
    CAST(span.isEmoji AS BOOLEAN) AS is_emoji
FROM spans
WHERE span IS NOT NULL;
