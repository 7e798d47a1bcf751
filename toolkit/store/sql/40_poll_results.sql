-- Poll results: the votes of each option in the poll's current result.
-- An answer counts when its latest version is not deleted, belongs to the poll's
-- current result (poll_result_id = polls.active_poll_result_id) and is not
-- rejected by the latest version of its review: approval = 'rejected' rejects the
-- whole answer; in a survey, questions.<id>.approval = 'rejected' rejects only
-- that question's part. A deleted review rejects nothing.
-- Options of the poll's latest version appear even with no votes; votes for an
-- option the poll no longer has appear with option_title and is_correct NULL.
-- Text questions have no options and no rows here (see poll_answer_texts).
-- A poll without active_poll_result_id counts no answer. A deleted poll keeps its
-- rows (join polls for is_deleted). respondents counts the distinct respondents
-- (respondent_user_id, else the answer id) with a counted choice in that poll or
-- survey question; it repeats on each option row of the question.
-- No CTE is read twice (DuckDB would materialize it, stopping a filter there) and
-- session_id is never computed, so a filter on session_id reaches the events scan.

-- The rows of poll_results (one per option of a poll's current result; key session_id,
-- poll_id, question_id, option_id) of every session, or with `only_recent` of the
-- recent sessions (recent_sessions()): the `poll_results` view (70_stored_views.sql)
-- reads the others from poll_results_store, which sync keeps with these. Each
-- relation it reads is the view, or its twin over the recent sessions
-- (35_recent_state.sql): `only_recent` is a constant, so the branch it rules out is
-- removed when the query is planned.
CREATE OR REPLACE MACRO poll_results_in(only_recent) AS TABLE
WITH reviews AS (
    SELECT
        r.session_id,
        r.poll_answer_id,
        r.approval,
        json_transform(r.questions, '"MAP(VARCHAR, STRUCT(approval VARCHAR))"') AS question_reviews
    FROM scoped_poll_answer_reviews(only_recent) AS r
    WHERE r.is_deleted IS NOT TRUE
),
counted AS (
    -- one row per option chosen in an answer that counts
    SELECT
        c.session_id,
        c.poll_id,
        c.question_id,
        c.option_id,
        c.poll_answer_id,
        coalesce(c.respondent_user_id, c.poll_answer_id) AS respondent
    FROM scoped_poll_answer_options(only_recent) AS c
    INNER JOIN scoped_polls(only_recent) AS p
        ON p.session_id = c.session_id
        AND p.poll_id = c.poll_id
        AND p.active_poll_result_id = c.poll_result_id
    LEFT JOIN reviews AS r
        ON r.session_id = c.session_id
        AND r.poll_answer_id = c.poll_answer_id
    WHERE c.is_deleted IS NOT TRUE
        AND r.approval IS DISTINCT FROM 'rejected'
        AND map_extract(r.question_reviews, c.question_id)[1].approval IS DISTINCT FROM 'rejected'
),
option_rows AS (
    -- the poll's options, then the votes, as rows of one shape
    SELECT
        o.session_id,
        o.poll_id,
        o.question_id,
        o.option_id,
        o.title,
        o.is_correct,
        CAST(NULL AS VARCHAR) AS poll_answer_id,
        CAST(NULL AS VARCHAR) AS respondent
    FROM scoped_poll_options(only_recent) AS o
    UNION ALL
    SELECT
        c.session_id,
        c.poll_id,
        c.question_id,
        c.option_id,
        CAST(NULL AS VARCHAR) AS title,
        CAST(NULL AS BOOLEAN) AS is_correct,
        c.poll_answer_id,
        c.respondent
    FROM counted AS c
),
per_option AS (
    SELECT
        x.session_id,
        x.poll_id,
        x.question_id,
        x.option_id,
        max(x.title) AS title,
        max(x.is_correct) AS is_correct,
        count(DISTINCT x.poll_answer_id) AS votes
    FROM option_rows AS x
    GROUP BY x.session_id, x.poll_id, x.question_id, x.option_id
),
per_question AS (
    SELECT x.session_id, x.poll_id, x.question_id, count(DISTINCT x.respondent) AS respondents
    FROM option_rows AS x
    GROUP BY x.session_id, x.poll_id, x.question_id
)
SELECT
    o.session_id,
    o.poll_id,
    CAST(o.question_id AS VARCHAR) AS question_id,
    CAST(o.option_id AS VARCHAR) AS option_id,
    CAST(o.title AS VARCHAR) AS option_title,
    CAST(o.is_correct AS BOOLEAN) AS is_correct,
    CAST(o.votes AS BIGINT) AS votes,
    CAST(q.respondents AS BIGINT) AS respondents
FROM per_option AS o
INNER JOIN per_question AS q
    ON q.session_id = o.session_id
    AND q.poll_id = o.poll_id
    AND q.question_id IS NOT DISTINCT FROM o.question_id;
