"""The poll part of a simulated session: drafts, edits, activation, answers, reviews.

Hosts work through an agenda: create a batch of one to three polls (maybe editing or
deleting a draft), activate them one after another, lock each once enough
participants answered, sometimes reset its results (a new `activePollResultId`) and
reopen it, and reveal a quiz's correct options. Only the drafts and the active poll
are remembered, so state stays bounded however long the session runs.
"""

from __future__ import annotations

from toolkit.sample.context import Context, Event, Person
from toolkit.sample.text import (
    CHOICE_POLLS,
    POLL_DESCRIPTIONS,
    QUIZ_POLLS,
    SURVEYS,
    TEXT_ANSWERS,
    TEXT_POLLS,
)

KINDS = ("choice", "quiz", "text", "survey")
KIND_WEIGHTS = (("choice", 0.35), ("text", 0.6), ("quiz", 0.8), ("survey", 1.0))
RESET_SHARE = 0.25
TEXT_ANSWER_LIMIT = 3  # what a participant posts at most when maxAnswers is 0


class Answer:
    """One participant answer of the active poll, as remembered to change or review it."""

    __slots__ = (
        "aid",
        "anonymous",
        "content",
        "created",
        "person",
        "result_id",
        "review",
        "review_created",
    )

    def __init__(
        self,
        aid: str,
        created: int,
        person: Person,
        result_id: str,
        content: Event,
        anonymous: bool,
    ):
        self.aid = aid
        self.created = created
        self.person = person
        self.result_id = result_id
        self.content = content
        self.anonymous = anonymous
        self.review: str | None = None
        self.review_created = 0


class Poll:
    """A poll's settings and, while active, its current result's answers."""

    def __init__(self, pid: str, created: int, kind: str, order: int, result_id: str):
        self.pid, self.created, self.kind, self.order = pid, created, kind, order
        self.result_id = result_id
        self.title = ""
        self.description = ""
        self.options: Event = {}
        self.questions: Event = {}
        self.items: list[tuple[str, str, tuple[str, ...], bool]] = []  # survey questions
        self.max_options = 1
        self.max_answers = 1
        self.locked = self.reveal_correct = self.deleted = self.edited = False
        self.reset_considered = self.wrapped = False
        self.target = 0
        self.respondents: dict[Person, list[Answer]] = {}
        self.answers: list[Answer] = []


class PollSim:
    """Polls and answers of one session."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.kinds = list(KINDS)
        ctx.rng.shuffle(self.kinds)
        self.drafts: list[Poll] = []
        self.active: Poll | None = None
        self.active_created = 0
        self.to_create = 0
        self.order = 0

    # -- snapshots -------------------------------------------------------------------------

    def snapshot(self, p: Poll) -> Event:
        """The poll's full current state."""
        data: Event = {
            "type": "poll",
            "sessionId": self.ctx.session_id,
            "pollId": p.pid,
            "createdAtMs": p.created,
            "modifiedAtMs": self.ctx.now,
            "isDeleted": p.deleted,
            "pollType": "survey" if p.kind == "survey" else "simple",
            "questionType": {"survey": "none", "text": "text"}.get(p.kind, "choice"),
            "title": p.title,
            "description": p.description,
            "hideNames": False,
        }
        if p.kind == "text":
            data["maxAnswers"] = p.max_answers
        elif p.kind != "survey":
            data["options"] = p.options
            data["maxOptions"] = p.max_options
            data["enableCorrectOptions"] = p.kind == "quiz"
            data["revealCorrectOptions"] = p.reveal_correct
        data["isLocked"] = p.locked
        data["revealResults"] = True
        if p.kind == "survey":
            data["questions"] = p.questions
        data["activePollResultId"] = p.result_id
        data["order"] = p.order
        return data

    def _answer_snapshot(self, p: Poll, a: Answer, deleted: bool = False) -> Event:
        return {
            "type": "pollAnswer",
            "sessionId": self.ctx.session_id,
            "userId": a.person.user_id,
            "pollId": p.pid,
            "pollResultId": a.result_id,
            "pollAnswerId": a.aid,
            "createdAtMs": a.created,
            "modifiedAtMs": self.ctx.now,
            "isDeleted": deleted,
            "isAnonymous": a.anonymous,
            **a.content,
        }

    def _emit_poll(self, p: Poll) -> bool:
        self.ctx.emit(self.ctx.host().user_id, self.snapshot(p))
        return True

    # -- building polls --------------------------------------------------------------------

    def _next_kind(self) -> str:
        if self.kinds:
            return self.kinds.pop()
        r = self.ctx.random()
        return next(kind for kind, edge in KIND_WEIGHTS if r < edge)

    def _new_poll(self) -> Poll:
        ctx = self.ctx
        self.order += 1
        p = Poll(ctx.new_id(), ctx.now, self._next_kind(), self.order, ctx.new_id())
        if p.kind == "choice":
            p.title, titles = ctx.pick(CHOICE_POLLS)
            p.options = self._options(titles, -1)
            p.max_options = 1 if ctx.chance(0.7) else 0
        elif p.kind == "quiz":
            p.title, titles, correct = ctx.pick(QUIZ_POLLS)
            p.options = self._options(titles, correct)
        elif p.kind == "text":
            p.title = ctx.pick(TEXT_POLLS)
            p.max_answers = ctx.pick((1, 1, 3, 0))
        else:
            self._fill_survey(p)
        return p

    def _options(self, titles: tuple[str, ...], correct: int) -> Event:
        return {
            self.ctx.new_id(): {"title": title, "isCorrect": i == correct, "order": i}
            for i, title in enumerate(titles)
        }

    def _fill_survey(self, p: Poll) -> None:
        p.title, questions = self.ctx.pick(SURVEYS)
        for order, (qtype, title, titles, required) in enumerate(questions):
            qid = self.ctx.new_id()
            body: Event = {
                "order": order,
                "isRequired": required,
                "questionType": qtype,
                "title": title,
                "description": "",
                "hideNames": False,
            }
            if qtype == "text":
                body["maxAnswers"] = 1
            else:
                body["options"] = self._options(titles, -1)
                body.update(maxOptions=1, enableCorrectOptions=False, revealCorrectOptions=False)
            p.questions[qid] = body
            p.items.append((qid, qtype, tuple(body.get("options", ())), required))

    # -- host agenda -----------------------------------------------------------------------

    def agenda(self) -> bool:
        """The host's next step: lock, reset, reveal, create, edit or activate. One event.

        Returns False while the active poll is open and still gathering answers.
        """
        p = self.active
        if p is not None and not p.wrapped:
            if not p.locked:
                if len(p.respondents) < p.target:
                    return False
                p.locked = True
                return self._emit_poll(p)
            if self._wrap_up(p):
                return True
        if self.to_create <= 0 and not self.drafts:
            self.to_create = self.ctx.between(1, 3)
        if self.to_create > 0:
            self.to_create -= 1
            draft = self._new_poll()
            self.drafts.append(draft)
            return self._emit_poll(draft)
        return self._next_draft()

    def _wrap_up(self, p: Poll) -> bool:
        ctx = self.ctx
        if not p.reset_considered:
            p.reset_considered = True
            if ctx.chance(RESET_SHARE):
                p.result_id = ctx.new_id()
                p.locked = False
                p.respondents, p.answers = {}, []
                p.target = self._target()
                return self._emit_poll(p)
        if p.kind == "quiz" and not p.reveal_correct:
            p.reveal_correct = True
            return self._emit_poll(p)
        p.wrapped = True
        return False

    def _next_draft(self) -> bool:
        ctx = self.ctx
        d = self.drafts[0]
        if not d.edited and ctx.chance(0.3):
            return self._edit(d)
        self.drafts.pop(0)
        if ctx.chance(0.05):
            d.deleted = True
            return self._emit_poll(d)
        return self._activate(d)

    def _activate(self, d: Poll) -> bool:
        ctx = self.ctx
        self.active = d
        d.target = self._target()
        self.active_created = self.active_created or ctx.now
        ctx.emit(
            ctx.host().user_id,
            {
                "type": "activePoll",
                "sessionId": ctx.session_id,
                "createdAtMs": self.active_created,
                "modifiedAtMs": ctx.now,
                "isDeleted": False,
                "activePollId": d.pid,
            },
        )
        return True

    def _edit(self, d: Poll) -> bool:
        d.edited = True
        if d.kind in ("choice", "quiz") and len(d.options) < 6:
            extra = "Other" if d.kind == "choice" else "I don't know"
            d.options = {
                **d.options,
                self.ctx.new_id(): {"title": extra, "isCorrect": False, "order": len(d.options)},
            }
        else:
            d.description = self.ctx.pick(POLL_DESCRIPTIONS[1:])
        return self._emit_poll(d)

    def _target(self) -> int:
        return max(1, int(len(self.ctx.people) * (0.35 + 0.6 * self.ctx.random())))

    # -- participants ----------------------------------------------------------------------

    def participate(self) -> bool:
        """A participant answers, changes or deletes an answer of the active poll.

        Falls back to the host's agenda when no poll is open. One event.
        """
        p = self.active
        if p is None or p.locked:
            return self.agenda()
        r = self.ctx.random()
        if r < 0.06 and p.answers:
            return self._change(p)
        if r < 0.09 and p.answers:
            return self._delete(p)
        return self._answer(p) or self.agenda()

    def _answer(self, p: Poll) -> bool:
        ctx = self.ctx
        limit = (p.max_answers or TEXT_ANSWER_LIMIT) if p.kind == "text" else 1
        for _ in range(3):
            person = ctx.participant()
            given = p.respondents.get(person)
            if given is None or len(given) < limit:
                break
        else:
            return False
        anonymous = ctx.anonymity and ctx.chance(0.3)
        a = Answer(ctx.new_id(), ctx.now, person, p.result_id, self._content(p), anonymous)
        p.respondents.setdefault(person, []).append(a)
        p.answers.append(a)
        ctx.emit(person.user_id, self._answer_snapshot(p, a))
        return True

    def _change(self, p: Poll) -> bool:
        a = self.ctx.pick(p.answers)
        a.content = self._content(p)
        self.ctx.emit(a.person.user_id, self._answer_snapshot(p, a))
        return True

    def _delete(self, p: Poll) -> bool:
        a = p.answers.pop(int(self.ctx.random() * len(p.answers)))
        given = p.respondents[a.person]
        given.remove(a)
        if not given:
            del p.respondents[a.person]
        self.ctx.emit(a.person.user_id, self._answer_snapshot(p, a, deleted=True))
        return True

    def _content(self, p: Poll) -> Event:
        ctx = self.ctx
        if p.kind == "text":
            return {"text": ctx.pick(TEXT_ANSWERS)}
        if p.kind == "survey":
            return {
                "questionAnswers": {
                    qid: {"text": ctx.pick(TEXT_ANSWERS)}
                    if qtype == "text"
                    else {"options": self._choose(option_ids, 1)}
                    for qid, qtype, option_ids, required in p.items
                    if required or ctx.chance(0.7)
                }
            }
        option_ids = tuple(p.options)
        if p.kind == "quiz" and ctx.chance(0.6):
            correct = next(oid for oid, o in p.options.items() if o["isCorrect"])
            return {"options": {correct: {}}}
        return {"options": self._choose(option_ids, p.max_options)}

    def _choose(self, option_ids: tuple[str, ...], max_options: int) -> Event:
        ctx = self.ctx
        count = 1 if max_options == 1 else ctx.between(1, min(3, len(option_ids)))
        chosen: Event = {ctx.pick(option_ids): {} for _ in range(count)}
        return dict(sorted(chosen.items(), key=lambda kv: option_ids.index(kv[0])))

    # -- moderators ------------------------------------------------------------------------

    def review(self) -> bool:
        """A moderator rejects an answer of the active poll, or lifts a rejection. One event."""
        ctx = self.ctx
        p = self.active
        if p is None or not p.answers or (p.kind not in ("text", "survey") and ctx.chance(0.9)):
            return False
        a = ctx.pick(p.answers)
        a.review = "none" if a.review == "rejected" else "rejected"
        a.review_created = a.review_created or ctx.now
        ctx.emit(ctx.moderator().user_id, self._review_snapshot(p, a))
        return True

    def _review_snapshot(self, p: Poll, a: Answer) -> Event:
        ctx = self.ctx
        data: Event = {
            "type": "pollAnswerReview",
            "sessionId": ctx.session_id,
            "pollId": p.pid,
            "pollResultId": a.result_id,
            "pollAnswerId": a.aid,
            "createdAtMs": a.review_created,
            "modifiedAtMs": ctx.now,
            "isDeleted": False,
            "approval": a.review,
        }
        if p.kind == "survey":  # a survey answer is reviewed question by question
            data["approval"] = "none"
            data["questions"] = self._question_reviews(a)
        return data

    def _question_reviews(self, a: Answer) -> Event:
        answered = a.content["questionAnswers"]
        texts = [qid for qid, body in answered.items() if "text" in body]
        return {qid: {"approval": a.review} for qid in (texts or list(answered)[:1])}
