"""Deciding whether the documents answer a question at all.

Embedding similarity alone cannot decide it (multilingual-e5 scores are compressed: right 0.87,
wrong 0.82, unanswerable 0.81 on this corpus), so several signals are combined into one score:
the best sentence's cosine, the share of the question's key terms found (idf-weighted), and
whether the expected kind of answer (a count, a date) is present at all. The weights and the
threshold are calibrated on the dev split (``citeqa eval --calibrate``; README).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Evidence:
    """Signals about the best candidate answer."""

    sentence_cosine: float
    passage_score: float
    coverage: float | None  # None for questions without Chinese (no lexical signal)
    typed: bool | None  # None when the question asks for no checkable type
    numbers: bool | None = None  # the question's numbers are in the sentence; None when it names none


@dataclass(frozen=True)
class AbstainSettings:
    """Weights and threshold of the grounding score.

    score = cosine + w_coverage·coverage (or the cross-lingual bonus) − type_penalty·(answer
    type or a number of the question missing from the sentence) ≥ threshold → grounded.
    """

    threshold: float = 0.8158
    w_coverage: float = 0.0
    type_penalty: float = 0.1
    # Questions without Chinese have no coverage signal and score lower cosines across languages.
    cross_lingual_bonus: float = 0.03


def grounding_score(ev: Evidence, s: AbstainSettings) -> float:
    """The one score ``decide`` compares with ``s.threshold`` (the formula is on ``AbstainSettings``)."""
    lexical = s.cross_lingual_bonus if ev.coverage is None else s.w_coverage * ev.coverage
    missing = ev.typed is False or ev.numbers is False  # the sentence lacks what the question asks or names
    return ev.sentence_cosine + lexical - (s.type_penalty if missing else 0.0)


def decide(ev: Evidence, s: AbstainSettings) -> bool:
    """True when the evidence is strong enough to answer."""
    return grounding_score(ev, s) >= s.threshold
