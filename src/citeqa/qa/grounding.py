"""Deciding whether the documents answer a question at all.

Embedding similarity alone cannot decide it (multilingual-e5 scores are compressed: right 0.87,
wrong 0.82, unanswerable 0.81 on this corpus), so several signals are combined into one score:
the best sentence's cosine, the share of the question's key terms found (idf-weighted), whether
the expected kind of answer (a count, a day, a place) is found where the question's key terms are,
and whether the numbers the question names are quoted. The weights and the
threshold are calibrated on the dev split (``citeqa eval --calibrate``; README).
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class AbstainSettings:
    """Weights and threshold of the grounding score.

    score = cosine + w_coverage·coverage (or the cross-lingual bonus) − type_penalty·(slot_gap >
    slot_slack, or a number of the question missing from the quote) ≥ threshold → grounded.
    """

    threshold: float = 0.8182
    w_coverage: float = 0.0
    type_penalty: float = 0.2
    # A sentence naming the answer's subject less fully than the best one may still hold the answer
    # (the subject was named a clause earlier); only a larger gap counts as the type missing.
    slot_slack: float = 0.1
    # Questions without Chinese have no coverage signal and score lower cosines across languages.
    cross_lingual_bonus: float = 0.04


def grounding_score(ev: Evidence, s: AbstainSettings) -> float:
    """The one score ``decide`` compares with ``s.threshold`` (the formula is on ``AbstainSettings``)."""
    lexical = s.cross_lingual_bonus if ev.coverage is None else s.w_coverage * ev.coverage
    untyped = ev.slot_gap is not None and ev.slot_gap > s.slot_slack
    missing = untyped or ev.numbers_quoted is False  # the answer lacks what the question asks for or names
    return ev.sentence_cosine + lexical - (s.type_penalty if missing else 0.0)


def decide(ev: Evidence, s: AbstainSettings) -> bool:
    """True when the evidence is strong enough to answer."""
    return grounding_score(ev, s) >= s.threshold
