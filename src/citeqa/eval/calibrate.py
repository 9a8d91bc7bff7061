"""Calibrate the abstention decision on a dev split.

For every question the answerer reports its evidence (best sentence cosine, key-term coverage,
answer-type presence). A grid over the coverage weight and the type penalty, and every useful
threshold, is searched for the setting that abstains on the most unanswerable questions while
wrongly abstaining on at most ``max_false_abstain`` of the answerable ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from citeqa.eval.dataset import EvalQuestion
from citeqa.qa.abstain import AbstainSettings, Evidence, grounding_score
from citeqa.qa.engine import Engine

_W_COVERAGE = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
_TYPE_PENALTY = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5)
_CROSS_LINGUAL = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05)


@dataclass(frozen=True)
class Sample:
    """One eval question's label and the answerer's evidence for it (None when nothing was retrieved)."""

    answerable: bool
    evidence: Evidence | None


@dataclass(frozen=True)
class Calibration:
    """The chosen abstention settings with the rates they reach on the calibration split."""

    settings: AbstainSettings
    abstain_recall: float
    false_abstain_rate: float
    answerable: int
    unanswerable: int


def collect(engine: Engine, questions: Sequence[EvalQuestion]) -> list[Sample]:
    """Run the answerer once per question and keep its evidence, so the grid search needs no model."""
    return [Sample(q.answerable, engine.answerer.explain(q.question)[0]) for q in questions]


def calibrate(samples: Sequence[Sample], max_false_abstain: float = 0.03) -> Calibration:
    """The best setting under the false-abstention cap (ties: the lower threshold)."""
    pos = [s for s in samples if s.answerable]
    neg = [s for s in samples if not s.answerable]
    if not pos or not neg:
        raise ValueError("calibration needs answerable and unanswerable questions")
    best: Calibration | None = None
    grid = [(wc, tp, cl) for wc in _W_COVERAGE for tp in _TYPE_PENALTY for cl in _CROSS_LINGUAL]
    for wc, tp, cl in grid:
        probe = AbstainSettings(threshold=0.0, w_coverage=wc, type_penalty=tp, cross_lingual_bonus=cl)
        pos_scores = sorted(_score(s, probe) for s in pos)
        allowed = int(max_false_abstain * len(pos))  # answerable questions we may lose
        threshold = pos_scores[allowed] if allowed < len(pos_scores) else pos_scores[-1]
        cand = AbstainSettings(
            threshold=round(threshold - 1e-6, 6), w_coverage=wc, type_penalty=tp, cross_lingual_bonus=cl
        )
        recall = sum(_score(s, cand) < cand.threshold for s in neg) / len(neg)
        false = sum(_score(s, cand) < cand.threshold for s in pos) / len(pos)
        c = Calibration(cand, round(recall, 4), round(false, 4), len(pos), len(neg))
        if best is None or (c.abstain_recall, -c.false_abstain_rate) > (best.abstain_recall, -best.false_abstain_rate):
            best = c
    assert best is not None
    return best


def _score(s: Sample, settings: AbstainSettings) -> float:
    return grounding_score(s.evidence, settings) if s.evidence is not None else float("-inf")
