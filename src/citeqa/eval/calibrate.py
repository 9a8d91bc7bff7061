"""Calibrate the abstention decision on a dev split.

For every question the answerer reports its evidence (best sentence cosine, key-term coverage,
where the expected answer type stands, quoted numbers). A grid over the weights and the slot
slack, and every useful threshold, is searched for the setting that abstains on the most unanswerable questions while
wrongly abstaining on at most ``max_false_abstain`` of the answerable ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

from citeqa.errors import InputError
from citeqa.eval.dataset import EvalQuestion
from citeqa.qa.engine import Engine
from citeqa.qa.grounding import AbstainSettings, Evidence, grounding_score

_W_COVERAGE = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
_TYPE_PENALTY = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5)
_CROSS_LINGUAL = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05)
_SLOT_SLACK = (0.0, 0.05, 0.1, 0.2, 0.3)


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
    return [Sample(q.answerable, engine.answerer.explain(q.question).evidence) for q in questions]


def calibrate(samples: Sequence[Sample], max_false_abstain: float = 0.03) -> Calibration:
    """The best setting under the false-abstention cap (ties: the lower threshold)."""
    pos = [s for s in samples if s.answerable]
    neg = [s for s in samples if not s.answerable]
    if not pos or not neg:
        raise InputError("calibration needs answerable and unanswerable questions in the eval set")
    best: Calibration | None = None
    allowed = int(max_false_abstain * len(pos))  # answerable questions we may lose
    for wc, tp, cl, ss in product(_W_COVERAGE, _TYPE_PENALTY, _CROSS_LINGUAL, _SLOT_SLACK):
        probe = AbstainSettings(threshold=0.0, w_coverage=wc, type_penalty=tp, cross_lingual_bonus=cl, slot_slack=ss)
        pos_scores = sorted(_score(s, probe) for s in pos)
        neg_scores = [_score(s, probe) for s in neg]
        # Every threshold just under one of the `allowed` lowest answerable scores: a lower one may
        # abstain as often on unanswerable questions while losing fewer answerable ones.
        for threshold in sorted({pos_scores[min(j, len(pos_scores) - 1)] - 1e-6 for j in range(allowed + 1)}):
            cand = dataclasses.replace(probe, threshold=round(threshold, 6))
            recall = sum(x < cand.threshold for x in neg_scores) / len(neg)
            false = sum(x < cand.threshold for x in pos_scores) / len(pos)
            c = Calibration(cand, round(recall, 4), round(false, 4), len(pos), len(neg))
            if best is None or _key(c) > _key(best):
                best = c
    assert best is not None
    return best


def _key(c: Calibration) -> tuple[float, float]:
    """More unanswerable questions abstained first, then fewer answerable ones lost."""
    return c.abstain_recall, -c.false_abstain_rate


def _score(s: Sample, settings: AbstainSettings) -> float:
    return grounding_score(s.evidence, settings) if s.evidence is not None else float("-inf")
