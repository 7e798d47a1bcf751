"""Poll helpers: results, an overview per poll, each poll's history, answers and rejections.

A poll's results are reset by giving it a new `activePollResultId`; answers carry
the `pollResultId` they were given under, so answers of an earlier result stay
stored but no longer count (see the `poll_results` view).
"""

from __future__ import annotations

import polars as pl

from toolkit.analysis.query import Source, fetch


def poll_results(
    con: Source, poll_id: str | None = None, session_id: str | None = None
) -> pl.DataFrame:
    """Votes per option of each poll's current result, with poll and question titles.

    Counts follow the `poll_results` view: current answers, not deleted, not
    rejected by a review. `percent_of_respondents` is votes over the respondents
    to that poll or survey question.

    Args:
        con: an open connection.
        poll_id: one poll, or None for every poll.
        session_id: only the polls of this session, or None.

    Example:
        >>> poll_results(con, "POLL").select("option_title", "votes")  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        SELECT r.session_id, r.poll_id, p.title AS poll_title, p.poll_type,
            r.question_id, q.title AS question_title, r.option_id, r.option_title,
            r.is_correct, r.votes, r.respondents,
            round(100.0 * r.votes / nullif(r.respondents, 0), 1) AS percent_of_respondents
        FROM poll_results AS r
        LEFT JOIN polls AS p ON p.session_id = r.session_id AND p.poll_id = r.poll_id
        LEFT JOIN poll_questions AS q
            ON q.session_id = r.session_id AND q.poll_id = r.poll_id
            AND q.question_id = r.question_id
        LEFT JOIN poll_options AS o
            ON o.session_id = r.session_id AND o.poll_id = r.poll_id
            AND o.question_id IS NOT DISTINCT FROM r.question_id AND o.option_id = r.option_id
        WHERE ($poll_id IS NULL OR r.poll_id = $poll_id)
            AND ($session_id IS NULL OR r.session_id = $session_id)
        ORDER BY r.session_id, p.sort_order NULLS LAST, p.created_at, r.poll_id,
            q.sort_order NULLS FIRST, r.question_id NULLS FIRST, o.sort_order NULLS LAST,
            r.option_id
        """,
        {"poll_id": poll_id, "session_id": session_id},
    )


def polls_overview(con: Source, session_id: str) -> pl.DataFrame:
    """One row per poll of a session: what it is, who made it, answers, resets, edits.

    `answer_count` and `respondent_count` cover the current result (not deleted,
    not rejected); `rejected_answer_count` and `deleted_answer_count` cover every
    result; `reset_count` counts new result ids; `edits_after_answers` counts
    versions that changed wording or options after the first answer arrived.

    Example:
        >>> polls_overview(con, "SID")["reset_count"].sum()  # doctest: +SKIP
    """
    return fetch(con, _OVERVIEW_SQL, {"session_id": session_id})


_OVERVIEW_SQL = """
WITH answers AS (
    SELECT a.poll_id, a.poll_answer_id, a.poll_result_id, a.first_event_at,
        coalesce(a.is_deleted, false) AS is_deleted,
        coalesce(a.respondent_user_id, a.actor_user_id, a.poll_answer_id) AS respondent,
        j.poll_answer_id IS NOT NULL AS is_rejected
    FROM poll_answers AS a
    LEFT JOIN poll_answer_rejections AS j
        ON j.session_id = a.session_id AND j.poll_answer_id = a.poll_answer_id
    WHERE a.session_id = $session_id
),
counts AS (
    SELECT a.poll_id,
        count(*) FILTER (WHERE a.poll_result_id = p.active_poll_result_id
            AND NOT a.is_deleted AND NOT a.is_rejected) AS answer_count,
        count(DISTINCT a.respondent) FILTER (WHERE a.poll_result_id = p.active_poll_result_id
            AND NOT a.is_deleted AND NOT a.is_rejected) AS respondent_count,
        count(*) FILTER (WHERE a.is_rejected) AS rejected_answer_count,
        count(*) FILTER (WHERE a.is_deleted) AS deleted_answer_count,
        count(*) AS stored_answer_count,
        min(a.first_event_at) AS first_answer_at
    FROM answers AS a
    JOIN polls AS p ON p.session_id = $session_id AND p.poll_id = a.poll_id
    GROUP BY a.poll_id
),
changes AS (
    SELECT c.poll_id,
        count(*) FILTER (WHERE c.is_reset) AS reset_count,
        count(*) FILTER (WHERE c.is_content_edit AND c.event_at > k.first_answer_at)
            AS edits_after_answers
    FROM poll_changes AS c
    LEFT JOIN counts AS k ON k.poll_id = c.poll_id
    WHERE c.session_id = $session_id
    GROUP BY c.poll_id
),
shape AS (
    SELECT o.poll_id, count(*) AS option_count
    FROM poll_options AS o WHERE o.session_id = $session_id GROUP BY o.poll_id
),
survey AS (
    SELECT q.poll_id, count(*) AS question_count
    FROM poll_questions AS q WHERE q.session_id = $session_id GROUP BY q.poll_id
),
activations AS (
    SELECT h.active_poll_id AS poll_id, count(*) AS activation_count
    FROM active_poll_events AS h
    WHERE h.session_id = $session_id AND h.is_deleted IS NOT TRUE
    GROUP BY h.active_poll_id
)
SELECT p.poll_id, p.title, p.poll_type, p.question_type, p.created_at,
    l.poster_user_id AS created_by, coalesce(p.is_deleted, false) AS is_deleted,
    coalesce(p.is_locked, false) AS is_locked, p.active_poll_result_id,
    coalesce(s.question_count, 0) AS question_count,
    coalesce(o.option_count, 0) AS option_count,
    coalesce(k.answer_count, 0) AS answer_count,
    coalesce(k.respondent_count, 0) AS respondent_count,
    coalesce(k.rejected_answer_count, 0) AS rejected_answer_count,
    coalesce(k.deleted_answer_count, 0) AS deleted_answer_count,
    coalesce(k.stored_answer_count, 0) AS stored_answer_count,
    coalesce(c.reset_count, 0) AS reset_count,
    coalesce(c.edits_after_answers, 0) AS edits_after_answers,
    coalesce(v.activation_count, 0) AS activation_count,
    p.version_count
FROM polls AS p
LEFT JOIN resource_lifecycle AS l
    ON l.session_id = p.session_id AND l.event_type = 'poll' AND l.resource_id = p.poll_id
LEFT JOIN counts AS k ON k.poll_id = p.poll_id
LEFT JOIN changes AS c ON c.poll_id = p.poll_id
LEFT JOIN shape AS o ON o.poll_id = p.poll_id
LEFT JOIN survey AS s ON s.poll_id = p.poll_id
LEFT JOIN activations AS v ON v.poll_id = p.poll_id
WHERE p.session_id = $session_id
ORDER BY p.sort_order NULLS LAST, p.created_at NULLS LAST, p.poll_id
"""


def poll_history(con: Source, session_id: str, poll_id: str | None = None) -> pl.DataFrame:
    """Every stored version of a session's polls: who changed what, and whether answers
    had already arrived (`answers_before`, `is_edit_after_answers`).

    `changes` lists what differs from the version before: created, deleted,
    results reset, wording edited, options edited, locked, unlocked, settings changed.

    Example:
        >>> poll_history(con, "SID").filter(pl.col("is_edit_after_answers"))  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        WITH answers AS (
            SELECT poll_id, first_event_at
            FROM resource_lifecycle
            WHERE session_id = $session_id AND kind = 'poll_answer'
        ),
        versions AS (
            SELECT c.*, (SELECT count(*) FROM answers AS a
                WHERE a.poll_id = c.poll_id AND a.first_event_at < c.event_at) AS answers_before
            FROM poll_changes AS c
            WHERE c.session_id = $session_id AND ($poll_id IS NULL OR c.poll_id = $poll_id)
        )
        SELECT v.poll_id, v.version_number, v.event_at AS changed_at,
            v.actor_user_id AS changed_by, v.changes, v.title, v.active_poll_result_id,
            v.is_reset, v.answers_before,
            v.is_content_edit AND v.answers_before > 0 AS is_edit_after_answers,
            v.event_id
        FROM versions AS v
        ORDER BY v.poll_id, v.version_number
        """,
        {"session_id": session_id, "poll_id": poll_id},
    )


def poll_responses(
    con: Source,
    session_id: str,
    poll_id: str | None = None,
    reveal_anonymous: bool = False,
) -> pl.DataFrame:
    """Every poll answer of a session (latest version): who answered what, and its fate.

    The respondent of an anonymous answer shows as `anonymous` unless
    `reveal_anonymous`. `is_current_result` is false for answers given before a
    reset; `is_rejected` when the latest review rejects it in whole or part.

    Example:
        >>> poll_responses(con, "SID", "POLL").select("respondent", "answer_text")  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        SELECT a.poll_id, p.title AS poll_title, a.poll_answer_id, a.poll_result_id,
            a.poll_result_id IS NOT DISTINCT FROM p.active_poll_result_id AS is_current_result,
            a.created_at AS answered_at,
            CASE WHEN (coalesce(a.is_anonymous, false) OR coalesce(l.is_anonymous, false))
                AND NOT $reveal THEN 'anonymous'
                ELSE coalesce(a.respondent_user_id, l.poster_user_id) END AS respondent,
            coalesce(a.is_anonymous, false) AS is_anonymous,
            c.chosen_options, c.answer_text, coalesce(a.is_deleted, false) AS is_deleted,
            j.poll_answer_id IS NOT NULL AS is_rejected, a.version_count
        FROM poll_answers AS a
        LEFT JOIN polls AS p ON p.session_id = a.session_id AND p.poll_id = a.poll_id
        LEFT JOIN poll_answer_contents AS c
            ON c.session_id = $session_id AND c.poll_answer_id = a.poll_answer_id
        LEFT JOIN poll_answer_rejections AS j
            ON j.session_id = $session_id AND j.poll_answer_id = a.poll_answer_id
        LEFT JOIN resource_lifecycle AS l
            ON l.session_id = a.session_id AND l.event_type = 'pollAnswer'
            AND l.resource_id = a.poll_answer_id
        WHERE a.session_id = $session_id AND ($poll_id IS NULL OR a.poll_id = $poll_id)
        ORDER BY a.poll_id, a.created_at NULLS LAST, a.poll_answer_id
        """,
        {"session_id": session_id, "poll_id": poll_id, "reveal": bool(reveal_anonymous)},
    )


def rejected_answers(con: Source, session_id: str, reveal_anonymous: bool = False) -> pl.DataFrame:
    """Poll answers whose latest review rejects them, whole or per survey question.

    Example:
        >>> rejected_answers(con, "SID")["reviewed_by_user_id"]  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        SELECT j.poll_id, p.title AS poll_title, j.poll_answer_id, j.poll_result_id,
            j.reviewed_at, j.reviewed_by_user_id, j.is_whole_answer, j.rejected_question_ids,
            CASE WHEN coalesce(a.is_anonymous, false) AND NOT $reveal THEN 'anonymous'
                ELSE a.respondent_user_id END AS respondent,
            c.chosen_options, c.answer_text
        FROM poll_answer_rejections AS j
        LEFT JOIN polls AS p ON p.session_id = j.session_id AND p.poll_id = j.poll_id
        LEFT JOIN poll_answers AS a
            ON a.session_id = $session_id AND a.poll_answer_id = j.poll_answer_id
        LEFT JOIN poll_answer_contents AS c
            ON c.session_id = $session_id AND c.poll_answer_id = j.poll_answer_id
        WHERE j.session_id = $session_id
        ORDER BY j.reviewed_at, j.poll_answer_id
        """,
        {"session_id": session_id, "reveal": bool(reveal_anonymous)},
    )
