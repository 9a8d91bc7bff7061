"""The question log and answer feedback (``CITEQA_QUESTION_LOG=on``): what was asked, what it got, how it was rated.

Kept in the same database as the chat's conversations, behind the same kind of small interface, so
a deployment with several replicas replaces both together. Nothing here is written unless the log is
on: the channels (chat, REST API, ``citeqa ask``) call ``record`` only then, and with the log off
there is no answer to rate. No client address is ever kept.

An answer's ``id`` is a random 128-bit token handed only to the client that asked; it is that
client's key to rate the answer, so "a rating changes at most once per answer and client" is a
rating set once and changed at most once per answer.

Rating rules (``check_rating`` and both implementations of ``rate``):

- an unknown id, or one whose answer is past retention: 404; a rating not in ``RATINGS``: 422;
- a comment is trimmed of surrounding whitespace and refused past ``MAX_COMMENT_CHARS`` characters
  (422), never cut: a cut comment would keep words the writer did not end on;
- the first rating sets it (``changed`` 0); the other rating then changes it once (``changed`` 1,
  and the comment becomes the one sent with it, even empty); a further change: 409;
- the same rating again is idempotent: it keeps the rating and ``changed``, and replaces the comment
  only when a non-empty one is sent (👎 first, then a comment typed afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from citeqa.qa.types import Answer

CHANNELS = ("chat", "api", "cli")  # the widget asks through the REST API
RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 1000
DEFAULT_LOG_DAYS = 90  # CITEQA_QUESTION_LOG_DAYS


@dataclass(frozen=True)
class LoggedAnswer:
    """One question and what it got, as the log keeps it."""

    id: str  # the answer's id (``Answer.id``)
    at: float  # Unix time
    channel: str  # one of CHANNELS
    question: str
    resolved: str | None  # the standalone question a follow-up was read as; None for one that stood alone
    outcome: str  # answered, uncertain, not_found or conversation
    confidence: float | None
    cited: tuple[str, ...]  # the cited passage ids, in marker order

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}")

    @classmethod
    def of(cls, answer: Answer, channel: str, at: float) -> LoggedAnswer:
        """What the log keeps of an answer the engine gave (it has an ``id``): no answer text, no address."""
        if answer.id is None:
            raise ValueError("only an answer with an id (one the engine gave) can be logged")
        return cls(
            id=answer.id, at=at, channel=channel, question=answer.question, resolved=answer.resolved,
            outcome=str(answer.outcome), confidence=answer.confidence,
            cited=tuple(h.id for h in answer.citations),
        )


@dataclass(frozen=True)
class Feedback:
    """A rating of one answer; ``changed`` counts how often it was changed after it was first set (0 or 1)."""

    answer_id: str
    rating: str  # one of RATINGS
    comment: str
    at: float
    changed: int = 0


class FeedbackError(ValueError):
    """A rating the log refuses; ``status`` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def check_rating(rating: object, comment: object) -> str:
    """The comment to keep (trimmed), or ``FeedbackError`` 422 for a bad rating or comment.

    >>> check_rating("down", "  答非所問 ")
    '答非所問'
    """
    if not isinstance(rating, str) or rating not in RATINGS:
        raise FeedbackError(f"rating {rating!r} is not one of {', '.join(RATINGS)}", 422)
    if not isinstance(comment, str):
        raise FeedbackError(f"a comment is text, got {type(comment).__name__}", 422)
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise FeedbackError(f"the comment has {len(comment):,} characters; the limit is {MAX_COMMENT_CHARS:,}", 422)
    return comment


def unknown_answer(answer_id: str) -> FeedbackError:
    """The 404 for an id the log does not hold (never given, or past retention)."""
    return FeedbackError(f"no logged answer has the id {answer_id!r} (unknown, or older than the log keeps)", 404)


def second_change(answer_id: str) -> FeedbackError:
    """The 409 for a rating changed once already."""
    return FeedbackError(f"the rating of answer {answer_id!r} was changed once already and cannot change again", 409)


class QuestionLog(Protocol):
    """Logged answers and their ratings. Thread-safe; every write is one transaction."""

    def record(self, entry: LoggedAnswer) -> None:
        """Keep one answered question (the channels call it only with the log on)."""
        ...

    def rate(self, answer_id: str, rating: str, comment: str = "") -> Feedback:
        """Rate a logged answer (the rules: module docstring); the rating as it now stands.

        Unknown id: ``FeedbackError`` 404; bad rating or comment: 422; a second change: 409.
        """
        ...

    def answers(self, since: float = 0.0) -> list[LoggedAnswer]:
        """Logged answers at or after ``since`` (and within retention), oldest first."""
        ...

    def feedback(self, since: float = 0.0) -> list[Feedback]:
        """Ratings of answers logged at or after ``since`` (and within retention), oldest answer first."""
        ...

    def prune_log(self, days: int) -> int:
        """Delete logged answers (and their ratings) older than ``days``; how many went."""
        ...
