"""The Q&A part of a simulated session: questions, upvotes, replies and moderation.

State is bounded: at most `MAX_LIVE_QUESTIONS` questions and `MAX_LIVE_REPLIES`
replies are remembered; older ones keep their last snapshot and are never touched
again. Each public method performs one action, appends its events to the context
and returns False when the action does not apply right now.
"""

from __future__ import annotations

from toolkit.sample.context import Context, Event, Person
from toolkit.sample.text import (
    PROFANE_EMOJIS,
    PROFANE_WORDS,
    QUESTION_TEMPLATES,
    REPLY_TEMPLATES,
    TEAMS,
    TOPICS,
)

MAX_LIVE_QUESTIONS = 40
MAX_LIVE_REPLIES = 30
ANONYMOUS_SHARE = 0.2
PROFANITY_SHARE = 0.06


class Question:
    """What the generator remembers of one question to emit its next snapshot."""

    __slots__ = (
        "anonymous",
        "archived",
        "author",
        "created",
        "deleted",
        "highlighted",
        "profanities",
        "qid",
        "replies",
        "status",
        "text",
        "upvoters",
        "user",
    )

    def __init__(self, qid: str, created: int, author: Person, anonymous: bool, status: str):
        self.qid = qid
        self.created = created
        self.author = author
        self.anonymous = anonymous
        self.user = author.anonymous_user if anonymous else author.user
        self.status = status
        self.archived: str | None = None
        self.text = ""
        self.profanities: list[dict[str, object]] = []
        self.upvoters: dict[Person, None] = {}
        self.replies = 0
        self.deleted = False
        self.highlighted = False


class Reply:
    """A reply the generator may still delete."""

    __slots__ = ("anonymous", "author", "created", "question", "reply_id", "text")

    def __init__(
        self,
        reply_id: str,
        question: Question,
        created: int,
        author: Person,
        anonymous: bool,
        text: str,
    ):
        self.reply_id = reply_id
        self.question = question
        self.created = created
        self.author = author
        self.anonymous = anonymous
        self.text = text


class QaaSim:
    """Questions and their life: asked, upvoted, replied to, moderated, deleted."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.moderation = ctx.chance(0.6)
        self.live: list[Question] = []
        self.replies: list[Reply] = []

    # -- snapshots -------------------------------------------------------------------------

    def snapshot(self, q: Question) -> Event:
        """The question's full current state."""
        data: Event = {
            "type": "qaaQuestion",
            "sessionId": self.ctx.session_id,
            "questionId": q.qid,
            "createdAtMs": q.created,
            "modifiedAtMs": self.ctx.now,
            "isDeleted": q.deleted,
            "text": q.text,
            "isAnonymous": q.anonymous,
        }
        if q.archived:
            data["archivedStatus"] = q.archived
        if q.profanities:
            data["profanities"] = q.profanities
        data["upvotes"] = len(q.upvoters)
        data["replyCount"] = q.replies
        data["user"] = q.user
        data["status"] = q.status
        return data

    def _action(self, actor: Person, q: Question, action: str) -> None:
        now = self.ctx.now
        self.ctx.emit(
            actor.user_id,
            {
                "type": "qaaQuestionAction",
                "sessionId": self.ctx.session_id,
                "questionId": q.qid,
                "createdAtMs": now,
                "modifiedAtMs": now,
                "isDeleted": False,
                "action": action,
            },
        )
        self.ctx.emit(actor.user_id, self.snapshot(q))

    def _reply_snapshot(self, r: Reply, deleted: bool) -> Event:
        return {
            "type": "qaaQuestionReply",
            "sessionId": self.ctx.session_id,
            "questionId": r.question.qid,
            "createdAtMs": r.created,
            "modifiedAtMs": self.ctx.now,
            "isDeleted": deleted,
            "replyId": r.reply_id,
            "user": r.author.anonymous_user if r.anonymous else r.author.user,
            "isAnonymous": r.anonymous,
            "text": r.text,
        }

    # -- participant actions ---------------------------------------------------------------

    def ask(self) -> bool:
        """A participant asks a question (in review when moderation is on). One event."""
        ctx = self.ctx
        author = ctx.participant()
        anonymous = self.ctx.anonymity and ctx.chance(ANONYMOUS_SHARE)
        status = "in-review" if self.moderation else "public"
        q = Question(ctx.new_id(), ctx.now, author, anonymous, status)
        q.text, q.profanities = self._question_text()
        self.live.append(q)
        if len(self.live) > MAX_LIVE_QUESTIONS:
            self.live.pop(0)
        ctx.emit(author.user_id, self.snapshot(q))
        return True

    def _question_text(self) -> tuple[str, list[dict[str, object]]]:
        ctx = self.ctx
        text = ctx.pick(QUESTION_TEMPLATES).format(topic=ctx.pick(TOPICS), team=ctx.pick(TEAMS))
        if not ctx.chance(PROFANITY_SHARE):
            return text, []
        emoji = ctx.chance(0.3)
        word = ctx.pick(PROFANE_EMOJIS if emoji else PROFANE_WORDS)
        if emoji:
            text = f"{text} {word}"
            first = len(text) - len(word)
        else:
            text = f"Why the {word} {text[0].lower()}{text[1:]}"
            first = len("Why the ")
        return text, [{"first": first, "last": first + len(word) - 1, "isEmoji": emoji}]

    def upvote(self) -> bool:
        """A participant upvotes a public question. Two events: action and snapshot."""
        q = self._pick_live("public")
        voter = self.ctx.participant()
        if q is None or voter in q.upvoters or voter is q.author:
            return False
        q.upvoters[voter] = None
        self._action(voter, q, "upvote")
        return True

    def remove_upvote(self) -> bool:
        """A participant takes back an upvote. Two events."""
        q = self._pick_live("public")
        if q is None or not q.upvoters:
            return False
        voter = self.ctx.pick(list(q.upvoters))
        del q.upvoters[voter]
        self._action(voter, q, "removeUpvote")
        return True

    def reply(self) -> bool:
        """A participant or moderator replies to a question. Two events: reply, question."""
        ctx = self.ctx
        q = self._pick_live("public") or self._pick_live("archived")
        if q is None:
            return False
        author = ctx.moderator() if ctx.chance(0.25) else ctx.participant()
        anonymous = ctx.anonymity and author in ctx.people and ctx.chance(ANONYMOUS_SHARE)
        text = ctx.pick(REPLY_TEMPLATES).format(topic=ctx.pick(TOPICS), team=ctx.pick(TEAMS))
        r = Reply(ctx.new_id(), q, ctx.now, author, anonymous, text)
        self.replies.append(r)
        if len(self.replies) > MAX_LIVE_REPLIES:
            self.replies.pop(0)
        q.replies += 1
        ctx.emit(author.user_id, self._reply_snapshot(r, deleted=False))
        ctx.emit(author.user_id, self.snapshot(q))
        return True

    def delete_reply(self) -> bool:
        """The author deletes a reply. Two events: deleted reply, question with one less."""
        if not self.replies:
            return False
        r = self.replies.pop(int(self.ctx.random() * len(self.replies)))
        if r.question.deleted:
            return False
        r.question.replies -= 1
        self.ctx.emit(r.author.user_id, self._reply_snapshot(r, deleted=True))
        self.ctx.emit(r.author.user_id, self.snapshot(r.question))
        return True

    # -- moderator actions -----------------------------------------------------------------

    def moderate(self) -> bool:
        """A moderator reviews, highlights, answers, archives or restores. Two events."""
        pending = self._pick_live("in-review")
        if pending is not None:
            if self.ctx.chance(0.8):
                return self._set(pending, "approve", "public", None)
            return self._set(pending, "reject", "archived", "Archived")
        q = self._pick_live(None)
        if q is None:
            return False
        if q.status == "archived":
            return self.ctx.chance(0.5) and self._set(q, "restore", "public", None)
        return self._moderate_public(q)

    def _moderate_public(self, q: Question) -> bool:
        if q.highlighted:
            return self._highlight(q, False) if self.ctx.chance(0.4) else self._answer(q)
        r = self.ctx.random()
        if r < 0.3 and not any(x.highlighted for x in self.live):
            return self._highlight(q, True)
        if r < 0.75:
            return self._answer(q)
        return self._set(q, "archive", "archived", "Archived")

    def _set(self, q: Question, action: str, status: str, archived: str | None) -> bool:
        q.status = status
        q.archived = archived
        self._action(self.ctx.moderator(), q, action)
        return True

    def _answer(self, q: Question) -> bool:
        q.highlighted = False
        return self._set(q, "answer", "archived", "Answered")

    def _highlight(self, q: Question, on: bool) -> bool:
        q.highlighted = on
        self._action(self.ctx.moderator(), q, "highlight" if on else "unhighlight")
        return True

    def delete_question(self) -> bool:
        """The author or a moderator deletes a question. One event."""
        q = self._pick_live(None)
        if q is None:
            return False
        self.live.remove(q)
        q.deleted = True
        actor = q.author if self.ctx.chance(0.4) else self.ctx.moderator()
        self.ctx.emit(actor.user_id, self.snapshot(q))
        return True

    def _pick_live(self, status: str | None) -> Question | None:
        """A random remembered question with `status` (any status when None), if any."""
        live = self.live
        if not live:
            return None
        start = int(self.ctx.random() * len(live))
        if status is None:
            return live[start]
        for i in range(len(live)):
            q = live[(start + i) % len(live)]
            if q.status == status:
                return q
        return None
