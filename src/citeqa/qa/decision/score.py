"""Deciding what a question gets: an answer, an uncertain quote, "the documents do not say", or a conversation reply.

Embedding similarity alone cannot decide it (multilingual-e5 scores are compressed: right 0.87,
wrong 0.82, unanswerable 0.81 on the bundled corpus), so several signals are combined into one
grounding score: the best sentence's cosine; the share of the question's key terms found
(idf-weighted); whether the expected kind of answer (a count, a day, a place) is found where the
question's key terms are; whether the numbers the question names are quoted; how far generic text
beats the documents (``qa.relevance``: the background bank); and the share of the question's
content terms the documents use at all. A question closer to the bank's chit-chat than to any
document sentence is a conversation turn. One score and two thresholds decide the rest: at or above
``answer_threshold`` the quote is given as the answer; between ``threshold`` and it the documents
have related text that may not answer this (``uncertain``: the quote is shown as such); below it,
not found. Weights, thresholds and margin are calibrated on the dev split (``citeqa eval
--calibrate``; README).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from citeqa.qa.types import Outcome


@dataclass(frozen=True)
class Evidence:
    """Signals about the best candidate answer."""

    sentence_cosine: float
    coverage: float | None  # None for questions without Chinese (no lexical signal)
    # How much less of the question's key terms (idf-weighted share) the best sentence holding the
    # expected answer type carries than the best-anchored sentence: 0 when the sentence about the
    # question's subject holds it, 1 when no sentence does. None when no checkable type is asked.
    slot_gap: float | None
    numbers_quoted: bool | None = None  # the question's numbers are in the quote; None when it names none
    # The background bank (qa.relevance; None without one): its best chit-chat and other generic
    # texts as questions like this one, and its best text as a passage, like the document sentences.
    chat_cosine: float | None = None
    generic_cosine: float | None = None
    background_cosine: float | None = None
    term_support: float | None = None  # share of the question's content terms the documents use; None: no terms


@dataclass(frozen=True)
class AbstainSettings:
    """Weights, threshold and margin of the decision.

    score = cosine + w_coverage·coverage (or the cross-lingual bonus) − type_penalty·(slot_gap >
    slot_slack, or a number of the question missing from the quote) − w_background·max(0,
    background − cosine) − w_support·(1 − term support); score ≥ answer_threshold → answered,
    ≥ threshold → uncertain, else not found. Closer to the bank's chit-chat than to its other texts
    and, by ``conversation_margin``, than to the documents → a conversation turn. ``confidence`` maps
    the score through a logistic fitted on dev.
    """

    # `citeqa eval --calibrate --split dev` (README, "Answerability"). ``threshold``: wrongly declining
    # at most 3 % of dev's answerable questions; ``answer_threshold``: answering at most 10 % of
    # its unanswerable ones. An answer threshold under ``threshold`` is raised to it (no uncertain band).
    threshold: float = 0.771997
    answer_threshold: float = 0.840068
    w_coverage: float = 0.0
    type_penalty: float = 0.2
    # A sentence naming the answer's subject less fully than the best one may still hold the answer
    # (the subject was named a clause earlier); only a larger gap counts as the type missing.
    slot_slack: float = 0.1
    # Questions without Chinese have no coverage signal and score lower cosines across languages.
    cross_lingual_bonus: float = 0.04
    w_background: float = 2.0
    w_support: float = 0.0
    conversation_margin: float = 0.03  # math.inf: never a conversation turn
    # The bank holds far more generic texts than chit-chat, and the best of many texts scores higher by
    # chance alone: chit-chat gets this head start when the two are compared.
    chat_prior: float = 0.01
    confidence_slope: float = 20.0
    confidence_offset: float = -0.5

    def __post_init__(self) -> None:
        if self.answer_threshold < self.threshold:
            object.__setattr__(self, "answer_threshold", self.threshold)

    @classmethod
    def configured(cls, **values: float | None) -> AbstainSettings:
        """The calibrated settings with the given values (None: keep the calibrated one) put in."""
        return cls(**{k: v for k, v in values.items() if v is not None})


def grounding_score(ev: Evidence, s: AbstainSettings) -> float:
    """The one score compared with ``s.threshold`` (the formula is on ``AbstainSettings``)."""
    lexical = s.cross_lingual_bonus if ev.coverage is None else s.w_coverage * ev.coverage
    untyped = ev.slot_gap is not None and ev.slot_gap > s.slot_slack
    missing = untyped or ev.numbers_quoted is False  # the answer lacks what the question asks for or names
    score = ev.sentence_cosine + lexical - (s.type_penalty if missing else 0.0)
    background = ev.background_cosine
    if background is not None:
        score -= s.w_background * max(0.0, background - ev.sentence_cosine)
    if ev.term_support is not None:
        score -= s.w_support * (1.0 - ev.term_support)
    return score


def conversational(ev: Evidence, s: AbstainSettings) -> bool:
    """A greeting, thanks or "who are you": nearer the bank's chit-chat than its other texts and the documents."""
    if ev.chat_cosine is None or ev.generic_cosine is None:
        return False
    nearer_chat = ev.chat_cosine + s.chat_prior > ev.generic_cosine
    return nearer_chat and ev.chat_cosine - ev.sentence_cosine >= s.conversation_margin


def outcome(ev: Evidence, s: AbstainSettings) -> Outcome:
    """The decision, written once: a conversation turn, answered, uncertain, or not found."""
    if conversational(ev, s):
        return Outcome.CONVERSATION
    return outcome_of_score(grounding_score(ev, s), s)


def nothing_to_search(terms: Sequence[str], known: Collection[str]) -> bool:
    """Nothing to search for: no content term, or one word the documents (``known``) never use.

    「asdf」 or 「😀」 is a conversation turn whatever the passages score.
    """
    return not terms or (len(set(terms)) == 1 and not known)


def outcome_of_score(score: float, s: AbstainSettings) -> Outcome:
    """Answered, uncertain or not found by the two thresholds (calibration applies it to arrays of scores)."""
    if score >= s.answer_threshold:
        return Outcome.ANSWERED
    return Outcome.UNCERTAIN if score >= s.threshold else Outcome.NOT_FOUND


def confidence(ev: Evidence | None, s: AbstainSettings) -> float:
    """How likely the quoted answer is right (0–1), monotone in the grounding score; 0 without evidence."""
    if ev is None:
        return 0.0
    z = s.confidence_slope * (grounding_score(ev, s) - s.threshold) + s.confidence_offset
    return round(1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z)))), 4)
