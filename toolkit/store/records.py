"""The vocabulary the store shares with the stages above it: event types and stored pages."""

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


@dataclass(frozen=True)
class KnownPage:
    """A page body whose items are all stored: its next token and how many items it holds."""

    next: str | None
    items: int
