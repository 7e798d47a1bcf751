"""The vocabulary the store shares with the stages above it: event types, the contract's
relations, stored pages."""

from __future__ import annotations

from dataclasses import dataclass

EVENT_TYPES = (
    "session",
    "qaa",
    "qaaQuestion",
    "qaaQuestionReply",
    "qaaQuestionAction",
    "poll",
    "pollAnswer",
    "pollAnswerReview",
    "activePoll",
)

# The contract's views (CONTRACT.md): one row per event of each type, in EVENT_TYPES order
HISTORY_VIEWS = (
    "session_events",
    "qaa_events",
    "qaa_question_events",
    "qaa_question_reply_events",
    "qaa_question_action_events",
    "poll_events",
    "poll_answer_events",
    "poll_answer_review_events",
    "active_poll_events",
)
# ... and the current state, nested and results relations, each with a session_id column
STATE_RELATIONS = (
    "sessions",
    "qaa_settings",
    "qaa_questions",
    "qaa_question_replies",
    "polls",
    "poll_answers",
    "poll_answer_reviews",
    "active_polls",
    "poll_questions",
    "poll_options",
    "poll_answer_options",
    "poll_answer_texts",
    "qaa_question_profanities",
    "poll_results",
)


@dataclass(frozen=True)
class KnownPage:
    """A page body whose items are all stored: its next token and how many items it holds."""

    next: str | None
    items: int
