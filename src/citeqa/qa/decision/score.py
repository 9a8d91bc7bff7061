"""Deciding what a question gets: an answer, an uncertain quote, "the documents do not say", or a conversation reply.

Embedding similarity alone cannot decide it (multilingual-e5 scores are compressed: right 0.87,
wrong 0.82, unanswerable 0.81 on the bundled corpus), so a few signals about the best quote are
combined by a logistic model fitted on the dev split (``citeqa eval --calibrate``): the best
sentence's cosine; whether the kind of answer asked for (a count, a day, a state, a list) stands
where the question's subject is (``qa.slots``); whether the numbers the question names are quoted;
how far generic text beats the documents (``background``); and whether the question is in another
language than the documents (cross-lingual cosines run lower). Its output is ``confidence``, the
probability that the quote is right, and two thresholds on it decide: at or above
``answer_threshold`` the quote is given as the answer; between ``threshold`` and it the documents
have related text that may not answer this (``uncertain``); below it, not found. A question closer
to the bank's chit-chat than to any document sentence is a conversation turn.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from citeqa.qa.types import Outcome

# A sentence naming the answer's subject less fully than the best one may still hold the answer (the
# subject was named a clause earlier); only a larger gap (idf-weighted share of the question's key
# terms) counts as the answer's kind missing.
SLOT_SLACK = 0.1
# The model's inputs, in the order of ``AbstainSettings.weights``.
SIGNALS = ("sentence_cosine", "slot_missing", "numbers_missing", "background_excess", "cross_lingual")


@dataclass(frozen=True)
class Evidence:
    """Signals about the best candidate answer."""

    sentence_cosine: float
    cross_lingual: bool  # the question has no Chinese (the documents' language): cosines run lower
    # How much less of the question's key terms (idf-weighted share) the best sentence holding the
    # expected answer type carries than the best-anchored sentence: 0 when the sentence about the
    # question's subject holds it, 1 when no sentence does. None when no checkable type is asked.
    slot_gap: float | None
    numbers_quoted: bool | None = None  # the question's numbers are in the quote; None when it names none
    # The background bank (None without one): its best chit-chat and other generic texts as
    # questions like this one, and its best text as a passage, like the document sentences.
    chat_cosine: float | None = None
    generic_cosine: float | None = None
    background_cosine: float | None = None


def signals(ev: Evidence) -> tuple[float, ...]:
    """The model's inputs (``SIGNALS``) for one piece of evidence: calibration reads the same ones."""
    background = ev.background_cosine
    return (
        ev.sentence_cosine,
        1.0 if ev.slot_gap is not None and ev.slot_gap > SLOT_SLACK else 0.0,
        1.0 if ev.numbers_quoted is False else 0.0,
        0.0 if background is None else max(0.0, background - ev.sentence_cosine),
        1.0 if ev.cross_lingual else 0.0,
    )


@dataclass(frozen=True)
class AbstainSettings:
    """The fitted model and the two thresholds on its confidence.

    log-odds(quote right) = intercept + Σ weights · signals (``SIGNALS``); confidence = its logistic;
    confidence ≥ answer_threshold → answered, ≥ threshold → uncertain, else not found. Closer to the
    bank's chit-chat than to its other texts and, by ``conversation_margin``, than to the documents →
    a conversation turn.
    """

    # `citeqa eval --calibrate --split dev` (README, "Answerability"): L2-regularised logistic
    # regression over dev, the penalty chosen by 5-fold cross-validation. ``threshold``: wrongly
    # declining at most 3 % of dev's answerable questions; ``answer_threshold``: answering at most
    # 10 % of its unanswerable ones. An answer threshold under ``threshold`` is raised to it.
    threshold: float = 0.236365
    answer_threshold: float = 0.661473
    intercept: float = -19.18189
    weights: tuple[float, ...] = (24.005257, -4.524887, -2.058803, -57.35692, 0.689005)
    conversation_margin: float = 0.03  # math.inf: never a conversation turn
    # The bank holds far more generic texts than chit-chat, and the best of many texts scores higher by
    # chance alone: chit-chat gets this head start when the two are compared.
    chat_prior: float = 0.01

    def __post_init__(self) -> None:
        if len(self.weights) != len(SIGNALS):
            raise ValueError(f"{len(self.weights)} weights for {len(SIGNALS)} signals ({', '.join(SIGNALS)})")
        if self.answer_threshold < self.threshold:
            object.__setattr__(self, "answer_threshold", self.threshold)

    @classmethod
    def configured(cls, **values: float | None) -> AbstainSettings:
        """The calibrated settings with the given values (None: keep the calibrated one) put in."""
        return cls(**{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]


def log_odds(ev: Evidence, s: AbstainSettings) -> float:
    """The model's log-odds that the quote is right (the formula is on ``AbstainSettings``)."""
    return s.intercept + math.fsum(w * x for w, x in zip(s.weights, signals(ev), strict=True))


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
    return outcome_of_score(sigmoid(log_odds(ev, s)), s)


def nothing_to_search(terms: Sequence[str], known: Collection[str]) -> bool:
    """Nothing to search for: no content term, or one word the documents (``known``) never use.

    「asdf」 or 「😀」 is a conversation turn whatever the passages score.
    """
    return not terms or (len(set(terms)) == 1 and not known)


def outcome_of_score(p: float, s: AbstainSettings) -> Outcome:
    """Answered, uncertain or not found by the two thresholds on the confidence ``p``."""
    if p >= s.answer_threshold:
        return Outcome.ANSWERED
    return Outcome.UNCERTAIN if p >= s.threshold else Outcome.NOT_FOUND


def confidence(ev: Evidence | None, s: AbstainSettings) -> float:
    """How likely the quoted answer is right (0–1): the model's logistic; 0 without evidence."""
    if ev is None:
        return 0.0
    return round(sigmoid(log_odds(ev, s)), 4)


def sigmoid(z: float) -> float:
    """The logistic, safe for any ``z``."""
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
