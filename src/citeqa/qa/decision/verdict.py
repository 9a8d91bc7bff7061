"""``Explanation``: what the answerer found for a question, and the one verdict both answerers take."""

from __future__ import annotations

from dataclasses import dataclass, replace

from citeqa.qa.decision.score import AbstainSettings, Evidence, confidence, outcome
from citeqa.qa.turns import Replies, language
from citeqa.qa.types import Answer, Hit, Outcome
from citeqa.text import has_cjk


@dataclass(frozen=True)
class Explanation:
    """The hits, the evidence for the decision, and the quote that would be given.

    ``answer`` is the grounded answer to give when the evidence is strong enough; ``content_free``
    says the message held nothing to search for ("?", "😀", a word the documents never use).
    """

    question: str
    hits: tuple[Hit, ...]
    evidence: Evidence | None = None  # None when nothing was retrieved
    answer: Answer | None = None
    content_free: bool = False

    def outcome(self, settings: AbstainSettings) -> Outcome:
        """Answered, uncertain, not found or a conversation turn (``score.outcome``; nothing to search: a turn)."""
        if self.content_free:  # nothing to search for: whatever the passages score, nothing answers it
            return Outcome.CONVERSATION
        if self.evidence is None or self.answer is None:
            return Outcome.NOT_FOUND
        return outcome(self.evidence, settings)

    def grounded(self, settings: AbstainSettings) -> bool:
        """Whether the documents answer the question."""
        return self.outcome(settings) is Outcome.ANSWERED

    def verdict(self, settings: AbstainSettings, replies: Replies | None = None) -> Answer:
        """The answer the user gets: the quote, "the documents do not say" with the closest passages, or a reply."""
        sure = confidence(self.evidence, settings)
        decided = self.outcome(settings)
        if decided is Outcome.ANSWERED and self.answer is not None:
            return replace(self.answer, confidence=sure)
        if decided is Outcome.UNCERTAIN and self.answer is not None:
            return uncertain(self.answer, sure)
        if decided is Outcome.CONVERSATION and replies is not None:
            turn = self.evidence is not None and outcome(self.evidence, settings) is Outcome.CONVERSATION
            text = replies.conversation(self.question) if turn else replies.no_content(self.question)
            return Answer(self.question, text, False, (), Outcome.CONVERSATION, sure)
        return abstained(self.question, list(self.hits), sure)


# Said before the quote of an uncertain answer, in the question's script or language (``turns.language``).
UNCERTAIN_NOTE = {
    "zh-Hant": "文件中可能沒有直接回答這個問題。最相關的內容如下，請自行確認：",
    "zh-Hans": "文件中可能没有直接回答这个问题。最相关的内容如下，请自行确认：",
    "en": "The documents may not answer this directly. The closest they say, to check yourself: ",
}


def uncertain(quoted: Answer, sure: float) -> Answer:
    """The quote, cited as usual, after a sentence saying it may not answer the question."""
    note = UNCERTAIN_NOTE[language(quoted.question)]
    return replace(quoted, answer=note + quoted.answer, grounded=False, outcome=Outcome.UNCERTAIN, confidence=sure)


def abstained(question: str, hits: list[Hit], sure: float | None = None) -> Answer:
    """The "documents do not say" answer, listing the closest passages without markers."""
    text = (
        "文件中沒有找到這個問題的答案。以下是最接近的段落，供您參考。"
        if has_cjk(question)
        else "The documents do not answer this question. The closest passages are listed for reference."
    )
    return Answer(question, text, False, tuple(hits), Outcome.NOT_FOUND, sure)
