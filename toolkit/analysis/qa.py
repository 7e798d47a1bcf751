"""Q&A helpers: questions, replies, the moderation log and deleted content.

Anonymous posts are masked unless `reveal_anonymous=True`: the author shows as
`anonymous`, and when the anonymous author deletes their own post the deleter
shows as `anonymous (the author)`. Moderators' actions are never masked.
"""

from __future__ import annotations

import polars as pl

from toolkit.analysis.query import Source, fetch


def qa_questions(con: Source, session_id: str, reveal_anonymous: bool = False) -> pl.DataFrame:
    """Every question of a session (deleted ones too) in its latest version, oldest first.

    Columns: question_id, asked_at, author, author_user_id, is_anonymous,
    posted_by_user_id (the actor of the first version: the real poster, NULL for an
    anonymous question unless revealed), text, status, archived_status, upvotes,
    reply_count, profanity_count, is_deleted, deleted_at, deleted_by (the actor of
    the first version marked deleted), moderation_count, moderated_by and
    moderation_actions (each approve/reject/answer/archive/restore/highlight/
    unhighlight action with its actor, in time order), version_count, last_event_at.

    Example:
        >>> qa_questions(con, "SID").select("text", "author", "status")  # doctest: +SKIP
    """
    return fetch(con, _QUESTIONS_SQL, {"session_id": session_id, "reveal": bool(reveal_anonymous)})


_QUESTIONS_SQL = """
WITH origin AS (
    SELECT resource_id AS question_id, poster_user_id, is_anonymous AS posted_anonymously,
        deleted_at, deleted_by_user_id, is_deleted_by_anonymous_author
    FROM resource_lifecycle
    WHERE session_id = $session_id AND event_type = 'qaaQuestion'
),
decisions AS (
    -- event_activity's 'question_moderation' rows, without its windows
    SELECT question_id, count(*) AS moderation_count,
        string_agg(DISTINCT actor_user_id, ', ' ORDER BY actor_user_id) AS moderated_by,
        string_agg(action || ' by ' || actor_user_id, '; ' ORDER BY event_at, event_id)
            AS moderation_actions
    FROM event_fields
    WHERE session_id = $session_id AND event_type = 'qaaQuestionAction'
        AND action IS DISTINCT FROM 'upvote' AND action IS DISTINCT FROM 'removeUpvote'
    GROUP BY question_id
),
flags AS (
    SELECT question_id, count(*) AS profanity_count
    FROM qaa_question_profanities
    WHERE session_id = $session_id
    GROUP BY question_id
),
base AS (
    SELECT q.*, o.poster_user_id, o.deleted_at, o.deleted_by_user_id,
        o.is_deleted_by_anonymous_author,
        (coalesce(q.is_anonymous, false) OR coalesce(o.posted_anonymously, false))
            AND NOT $reveal AS hidden
    FROM qaa_questions AS q
    LEFT JOIN origin AS o ON o.question_id = q.question_id
    WHERE q.session_id = $session_id
)
SELECT b.question_id, b.created_at AS asked_at,
    CASE WHEN b.hidden THEN 'anonymous' ELSE coalesce(b.author_name,
        b.author_unverified_name || ' (unverified)', n.display_name,
        b.author_user_id, b.poster_user_id) END AS author,
    CASE WHEN b.hidden THEN NULL ELSE b.author_user_id END AS author_user_id,
    coalesce(b.is_anonymous, false) AS is_anonymous,
    CASE WHEN b.hidden THEN NULL ELSE b.poster_user_id END AS posted_by_user_id,
    b.text, b.status, b.archived_status, b.upvotes, b.reply_count,
    coalesce(f.profanity_count, 0) AS profanity_count,
    coalesce(b.is_deleted, false) AS is_deleted, b.deleted_at,
    CASE WHEN b.is_deleted_by_anonymous_author AND NOT $reveal THEN 'anonymous (the author)'
        ELSE b.deleted_by_user_id END AS deleted_by,
    coalesce(d.moderation_count, 0) AS moderation_count, d.moderated_by, d.moderation_actions,
    b.version_count, b.last_event_at
FROM base AS b
LEFT JOIN decisions AS d ON d.question_id = b.question_id
LEFT JOIN flags AS f ON f.question_id = b.question_id
LEFT JOIN user_names AS n ON n.user_id = b.author_user_id
ORDER BY b.created_at NULLS LAST, b.first_event_at, b.question_id
"""


def question_replies(con: Source, session_id: str, reveal_anonymous: bool = False) -> pl.DataFrame:
    """Every reply of a session (deleted ones too) in its latest version, oldest first.

    Example:
        >>> question_replies(con, "SID").select("question_id", "author", "text")  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        WITH base AS (
            SELECT r.*, o.poster_user_id, o.deleted_at, o.deleted_by_user_id,
                o.is_deleted_by_anonymous_author,
                (coalesce(r.is_anonymous, false) OR coalesce(o.is_anonymous, false))
                    AND NOT $reveal AS hidden
            FROM qaa_question_replies AS r
            LEFT JOIN resource_lifecycle AS o
                ON o.session_id = r.session_id AND o.event_type = 'qaaQuestionReply'
                AND o.resource_id = r.reply_id
            WHERE r.session_id = $session_id
        )
        SELECT b.reply_id, b.question_id, b.created_at AS replied_at,
            CASE WHEN b.hidden THEN 'anonymous' ELSE coalesce(b.author_name,
                b.author_unverified_name || ' (unverified)', b.author_user_id,
                b.poster_user_id) END AS author,
            CASE WHEN b.hidden THEN NULL ELSE b.author_user_id END AS author_user_id,
            coalesce(b.is_anonymous, false) AS is_anonymous, b.text,
            coalesce(b.is_deleted, false) AS is_deleted, b.deleted_at,
            CASE WHEN b.is_deleted_by_anonymous_author AND NOT $reveal
                THEN 'anonymous (the author)' ELSE b.deleted_by_user_id END AS deleted_by,
            b.version_count
        FROM base AS b
        ORDER BY b.created_at NULLS LAST, b.first_event_at, b.reply_id
        """,
        {"session_id": session_id, "reveal": bool(reveal_anonymous)},
    )


def moderation_log(con: Source, session_id: str, reveal_anonymous: bool = False) -> pl.DataFrame:
    """Every moderation step on the Q&A of a session, in time order.

    A step is a question action other than upvote/removeUpvote (approve, reject,
    answer, archive, restore, highlight, unhighlight), a change of a question's
    status, or the deletion of a question or reply by someone other than its
    poster. `source` says which: `action`, `status_change` or `deletion`.

    Example:
        >>> moderation_log(con, "SID").select("actor_user_id", "action")  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        SELECT a.event_at AS moderated_at,
            CASE WHEN a.is_anonymous_author AND NOT $reveal THEN 'anonymous (the author)'
                ELSE a.actor_user_id END AS actor_user_id,
            CASE WHEN a.is_anonymous_author AND NOT $reveal THEN NULL
                ELSE n.display_name END AS actor_name,
            CASE a.activity
                WHEN 'question_moderation' THEN a.action
                WHEN 'status_change' THEN 'status ' || coalesce(a.previous_status, '(none)')
                    || ' -> ' || coalesce(a.status, '(none)')
                WHEN 'deletion' THEN CASE a.event_type WHEN 'qaaQuestion' THEN 'delete question'
                    ELSE 'delete reply' END
            END AS action,
            CASE a.activity WHEN 'question_moderation' THEN 'action' ELSE a.activity END AS source,
            a.question_id,
            CASE WHEN a.event_type = 'qaaQuestionReply' THEN a.resource_id END AS reply_id,
            q.text AS question_text, a.event_id
        FROM event_activity AS a
        LEFT JOIN qaa_questions AS q
            ON q.session_id = $session_id AND q.question_id = a.question_id
        LEFT JOIN user_names AS n ON n.user_id = a.actor_user_id
        WHERE a.session_id = $session_id AND a.is_moderation
            AND a.event_type IN ('qaaQuestion', 'qaaQuestionReply', 'qaaQuestionAction')
        ORDER BY a.event_at, a.event_id
        """,
        {"session_id": session_id, "reveal": bool(reveal_anonymous)},
    )


def deleted_content(con: Source, session_id: str, reveal_anonymous: bool = False) -> pl.DataFrame:
    """Every question, reply, poll and poll answer of a session that was ever deleted.

    `deleted_at` and `deleted_by` come from the first version marked deleted
    (its event time and acting user); `author` is the actor of the
    first version, `anonymous` for anonymous posts; `text` is the last non-empty text
    or title the item had (for a choice answer, the options chosen);
    `is_restored` is true when a later version is no longer deleted.

    Example:
        >>> deleted_content(con, "SID").select("kind", "deleted_by", "text")  # doctest: +SKIP
    """
    return fetch(
        con,
        """
        SELECT r.kind, r.resource_id AS item_id, r.question_id, r.poll_id,
            r.first_event_at AS created_at, r.deleted_at,
            CASE WHEN r.is_deleted_by_anonymous_author AND NOT $reveal
                THEN 'anonymous (the author)' ELSE r.deleted_by_user_id END AS deleted_by,
            CASE WHEN r.is_anonymous AND NOT $reveal THEN 'anonymous'
                ELSE r.poster_user_id END AS author,
            r.is_anonymous,
            coalesce(r.last_text, c.answer_text, c.chosen_options) AS text,
            NOT r.is_deleted AS is_restored
        FROM resource_lifecycle AS r
        LEFT JOIN poll_answer_contents AS c
            ON r.kind = 'poll_answer' AND c.session_id = $session_id
            AND c.poll_answer_id = r.resource_id
        WHERE r.session_id = $session_id AND r.was_ever_deleted
        ORDER BY r.deleted_at, r.kind, r.resource_id
        """,
        {"session_id": session_id, "reveal": bool(reveal_anonymous)},
    )
