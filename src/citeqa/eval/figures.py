"""Every figure of an eval run, written once: a per-question value averaged over the questions it applies to.

A figure is ``(applies, value)``: two arrays over the run's questions. Its point estimate is the mean
of ``value`` where ``applies`` (None — "n/a" — where it applies to none: retrieval figures of a slice
of conversation turns). The same arrays give the 95 % interval (a percentile bootstrap over
questions) and, for two runs of the same questions, the paired bootstrap interval of the difference
(``paired``), so a figure, its interval and a comparison can never disagree on what was counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from citeqa.eval.dataset import CONVERSATION, OFFTOPIC, UNANSWERABLE
from citeqa.eval.metrics import mrr_at, recall_at
from citeqa.qa.types import Outcome

if TYPE_CHECKING:
    from citeqa.eval.run import QuestionResult

RESAMPLES = 1000  # bootstrap resamples: the interval's ends move by about 0.002 between seeds at n ≈ 600
SEED = 20261207  # fixed, so a run's intervals are reproducible
_KS = (1, 3, 5, 10)
_SHOWN = (str(Outcome.ANSWERED), str(Outcome.UNCERTAIN))  # a quote is shown, as the answer or possibly not
Pair = tuple[np.ndarray, np.ndarray]


def _arrays(results: Sequence[QuestionResult]) -> dict[str, Pair]:
    """(applies, value) of every figure, in report order."""
    def col(f: Callable[[QuestionResult], Any]) -> np.ndarray:
        return np.array([f(r) for r in results])

    answerable = col(lambda r: bool(r.ranks))
    judged = col(lambda r: r.correct is not None)
    kind = col(lambda r: r.kind)
    outcome = col(lambda r: r.outcome or "")
    declined = col(lambda r: r.grounded is False)
    quote_right = col(lambda r: bool(r.quote_right))
    out: dict[str, Pair] = {}
    for k in _KS:
        out[f"R@{k}"] = (answerable, np.array([recall_at(r.ranks, k) if r.ranks else 0.0 for r in results]))
    out["MRR@10"] = (answerable, col(lambda r: mrr_at(r.ranks, 10) if r.ranks else 0.0))
    out["nDCG@10"] = (answerable, col(lambda r: r.ndcg))
    if not judged.any():
        return out  # no answerer (the peer baseline): retrieval figures only
    ans = judged & answerable
    shown = np.isin(outcome, _SHOWN)
    answered = outcome == str(Outcome.ANSWERED)
    out["answer_accuracy"] = (ans, col(lambda r: bool(r.correct)))
    out["abstain_recall"] = (judged & (kind == UNANSWERABLE), declined)
    out["abstain_precision"] = (judged & declined, ~answerable)
    out["false_abstain_rate"] = (ans, declined)
    out["offtopic_declined"] = (judged & (kind == OFFTOPIC), declined)
    out["conversation_recognised"] = (judged & (kind == CONVERSATION), col(lambda r: bool(r.correct)))
    out["confidently_wrong"] = (judged & np.isin(kind, (UNANSWERABLE, OFFTOPIC)), answered)
    out["answered_right"] = (ans, answered & quote_right)
    out["shown_right"] = (ans, shown & quote_right)
    out["wrongly_declined"] = (ans, ~shown)
    for o in Outcome:
        out[f"{o.value}_rate"] = (judged, outcome == o.value)
    return out


def figures(results: Sequence[QuestionResult]) -> tuple[dict[str, float | None], dict[str, list[float]]]:
    """Point estimates (None: n/a) and their 95 % bootstrap intervals ``[low, high]``, by figure name."""
    arrays = _arrays(results)
    points = {name: _mean(a, v) for name, (a, v) in arrays.items()}
    idx = _resample_index(len(results))
    intervals = {}
    for name, (applies, value) in arrays.items():
        if points[name] is None:
            continue
        means = _resampled_means(applies, value, idx)
        intervals[name] = _interval(means)
    return points, intervals


def latency_interval(values: Sequence[float], q: float) -> list[float] | None:
    """The 95 % bootstrap interval of a latency percentile (nearest rank, as ``metrics.percentile``)."""
    if not values:
        return None
    v = np.asarray(values, dtype=float)
    stats = np.percentile(v[_resample_index(len(v))], q, axis=1, method="inverted_cdf")
    return _interval(stats)


@dataclass(frozen=True)
class Difference:
    """One figure of two runs over the questions both hold: B − A with its paired 95 % interval."""

    a: float | None
    b: float | None
    diff: float | None
    low: float | None
    high: float | None
    questions: int

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def paired(a: Sequence[QuestionResult], b: Sequence[QuestionResult]) -> dict[str, Difference]:
    """Every figure of runs A and B over the questions both answered (matched by id), resampled together."""
    by_id = {r.qid: r for r in b}
    common = [r.qid for r in a if r.qid in by_id]
    a_of = {r.qid: r for r in a}
    ra, rb = [a_of[q] for q in common], [by_id[q] for q in common]
    arr_a, arr_b = _arrays(ra), _arrays(rb)
    idx = _resample_index(len(common))
    out = {}
    for name in arr_a.keys() & arr_b.keys():
        (aa, va), (ab, vb) = arr_a[name], arr_b[name]
        pa, pb = _mean(aa, va), _mean(ab, vb)
        if pa is None or pb is None:
            out[name] = Difference(pa, pb, None, None, None, len(common))
            continue
        d = _resampled_means(ab, vb, idx) - _resampled_means(aa, va, idx)
        low, high = _interval(d)
        out[name] = Difference(pa, pb, round(pb - pa, 4), low, high, len(common))
    return {name: out[name] for name in arr_a if name in out}


def _mean(applies: np.ndarray, value: np.ndarray) -> float | None:
    if not applies.any():
        return None
    return round(float(value[applies].astype(float).mean()), 4)


def _resample_index(n: int) -> np.ndarray:
    return np.random.default_rng(SEED).integers(0, max(n, 1), size=(RESAMPLES, n))


def _resampled_means(applies: np.ndarray, value: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The figure in each resample (NaN where a resample holds none of the questions it applies to)."""
    w = applies.astype(np.float32)[idx]
    total = (w * value.astype(np.float32)[idx]).sum(axis=1)
    count = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _interval(stats: np.ndarray) -> list[float]:
    finite = stats[np.isfinite(stats)]
    if not len(finite):
        return [float("nan"), float("nan")]
    low, high = np.percentile(finite, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]
