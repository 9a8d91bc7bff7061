"""Calibrate the answered / uncertain / not found / conversation decision on a dev split.

For every question the answerer reports its evidence once (``qa.decision.score.signals``). A
logistic regression over those signals is fitted to whether the quote is right (L2-regularised, the
penalty chosen by cross-validated log-loss), so ``confidence`` is a probability and every weight can
be read. Then the conversation margin and the not-found threshold are searched together for the
setting that declines the most questions the documents do not answer — each slice counted alike:
on-topic near misses and off-topic questions declined, conversation turns recognised as such —
while wrongly declining at most ``max_false_abstain`` of the answerable ones. Last, the answer
threshold is the lowest one that gives a confident answer to at most ``max_confidently_wrong`` of
the questions the documents do not answer (near misses and off-topic together): between the two,
the quote is shown as possibly not the answer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from citeqa.errors import InputError
from citeqa.eval.dataset import CONVERSATION, OFFTOPIC, UNANSWERABLE, EvalQuestion
from citeqa.qa.decision.score import SIGNALS, AbstainSettings, Evidence, signals
from citeqa.qa.engine import Engine
from citeqa.qa.followup import resolve_follow_up

_MARGINS = (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, math.inf)
_CHAT_PRIORS = (0.0, 0.005, 0.01, 0.02)
_PENALTIES = (0.01, 0.1, 1.0, 10.0, 100.0)  # L2 strengths tried, on standardised signals


@dataclass(frozen=True)
class Sample:
    """One eval question: its kind, the answerer's evidence (None: nothing retrieved), and the quote's correctness."""

    kind: str
    answerable: bool
    evidence: Evidence | None
    content_free: bool = False
    quote_correct: bool = False  # the quote it would give contains an expected answer


@dataclass(frozen=True)
class Calibration:
    """The chosen settings with the rates they reach on the calibration split."""

    settings: AbstainSettings
    abstain_recall: float  # on-topic near misses not answered (uncertain or not found)
    offtopic_declined: float | None
    conversation_recognised: float | None
    false_abstain_rate: float  # answerable questions found "not found" (or taken for a conversation turn)
    confidently_wrong: float  # near misses and off-topic questions answered (at the answer threshold)
    answered_right: float  # answerable questions answered, with a right quote
    answerable: int
    unanswerable: int
    penalty: float = 0.0  # the L2 strength cross-validation chose

    def weights(self) -> dict[str, float]:
        """The fitted model, signal by signal (log-odds per unit), for people to read."""
        return {"intercept": self.settings.intercept, **dict(zip(SIGNALS, self.settings.weights, strict=True))}


def collect(engine: Engine, questions: Sequence[EvalQuestion]) -> list[Sample]:
    """Run the answerer once per question and keep its evidence, so the grid search needs no model."""
    out = []
    for q in questions:
        follow = resolve_follow_up(q.question, q.previous) if q.previous else None
        if follow is None:
            ex = engine.answerer.explain(q.question)
        else:  # as the engine asks it: the standalone question, retrieved with the follow-up's query
            ex = engine.answerer.explain(follow.resolved, retrieval_query=follow.query)
        right = ex.answer is not None and q.answered_by(ex.answer.answer)
        out.append(Sample(q.kind, q.answerable, ex.evidence, ex.content_free, right))
    return out


class _Columns:
    """The samples' signals as arrays, so a setting is scored over all of them at once."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        ev = [s.evidence for s in samples]
        self.has = np.array([e is not None for e in ev])
        rows = [signals(e) if e is not None else (0.0,) * len(SIGNALS) for e in ev]
        self.x = np.array(rows, dtype=float).reshape(-1, len(SIGNALS))

        def col(name: str) -> np.ndarray:
            return np.array([np.nan if e is None or getattr(e, name) is None else float(getattr(e, name)) for e in ev])

        self.cos = col("sentence_cosine")
        self.chat = col("chat_cosine")
        self.generic = col("generic_cosine")
        self.content_free = np.array([s.content_free for s in samples])

    def confidence(self, s: AbstainSettings) -> np.ndarray:
        """``score.confidence`` (unrounded) of every sample; -inf without evidence."""
        z = np.clip(s.intercept + self.x @ np.array(s.weights), -60.0, 60.0)
        return np.where(self.has, 1.0 / (1.0 + np.exp(-z)), -np.inf)

    def answered(self, s: AbstainSettings) -> np.ndarray:
        """Which questions a setting answers: not a turn, nothing-to-search, and at or over the answer threshold."""
        turn = self.conversation(s) | self.content_free
        return ~turn & (self.confidence(s) >= s.answer_threshold)

    def conversation(self, s: AbstainSettings) -> np.ndarray:
        chat = np.nan_to_num(self.chat, nan=-9.0)
        nearer_chat = chat + s.chat_prior > np.nan_to_num(self.generic, nan=9.0)
        return self.has & nearer_chat & (chat - np.nan_to_num(self.cos, nan=9.0) >= s.conversation_margin)


def fit_logistic(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[float, np.ndarray]:
    """(intercept, weights) of an L2-regularised logistic regression, in the signals' own units.

    Newton's method on standardised columns (the penalty treats every signal alike; the intercept is
    not penalised), then mapped back so that ``intercept + x @ weights`` is the log-odds.
    """
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd = np.where(sd > 1e-9, sd, 1.0)  # a constant signal keeps weight 0
    z = np.c_[np.ones(len(x)), (x - mu) / sd]
    ridge = penalty * np.diag(np.r_[0.0, np.ones(x.shape[1])])
    w = np.zeros(z.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -60, 60)))
        step = np.linalg.solve((z.T * (p * (1 - p))) @ z + ridge + 1e-9 * np.eye(len(w)), z.T @ (p - y) + ridge @ w)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    weights = w[1:] / sd
    return float(w[0] - weights @ mu), weights


def _log_loss(x: np.ndarray, y: np.ndarray, intercept: float, weights: np.ndarray) -> float:
    p = np.clip(1.0 / (1.0 + np.exp(-np.clip(intercept + x @ weights, -60, 60))), 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _choose_penalty(x: np.ndarray, y: np.ndarray, folds: int = 5) -> float:
    """The L2 strength with the lowest cross-validated log-loss (folds dealt round-robin)."""
    fold = np.arange(len(x)) % folds
    if len(x) < 2 * folds:
        return 1.0

    def loss(penalty: float) -> float:
        parts = [_log_loss(x[fold == f], y[fold == f], *fit_logistic(x[fold != f], y[fold != f], penalty))
                 for f in range(folds)]
        return float(np.mean(parts))

    return min(_PENALTIES, key=loss)


def calibrate(
    samples: Sequence[Sample], max_false_abstain: float = 0.03, max_confidently_wrong: float = 0.10,
) -> Calibration:
    """The model, then the not-found threshold under the first cap, the answer threshold under the second."""
    answerable = np.array([s.answerable for s in samples])
    kinds = np.array([s.kind for s in samples])
    slices = [k for k in (UNANSWERABLE, OFFTOPIC, CONVERSATION) if (kinds == k).any()]
    if not answerable.any() or not slices:
        raise InputError("calibration needs answerable and unanswerable questions in the eval set")
    cols = _Columns(samples)
    right = np.array([s.quote_correct for s in samples])
    y = (answerable & right).astype(float)  # a quote is right only for a question the documents answer
    train = cols.has & ~cols.content_free
    if len(set(y[train])) < 2:
        raise InputError("calibration needs questions answered right and others among those with a quote")
    penalty = _choose_penalty(cols.x[train], y[train])
    intercept, weights = fit_logistic(cols.x[train], y[train], penalty)
    model = AbstainSettings(intercept=round(intercept, 6), weights=tuple(round(float(w), 6) for w in weights))
    allowed = int(max_false_abstain * answerable.sum())  # answerable questions we may lose
    found = _best_threshold(model, cols, answerable, kinds, slices, allowed)
    if found is None:
        raise InputError("no setting keeps wrong abstentions under the cap; raise --max-false-abstain")
    _, chosen, rates = found
    chosen = _with_answer_threshold(chosen, cols, kinds, max_confidently_wrong)
    answered = cols.answered(chosen)
    declinable = np.isin(kinds, (UNANSWERABLE, OFFTOPIC))
    return Calibration(
        chosen, round(rates.get(UNANSWERABLE, 0.0), 4), _round(rates.get(OFFTOPIC)), _round(rates.get(CONVERSATION)),
        round(rates["false"], 4), round(float(answered[declinable].mean()) if declinable.any() else 0.0, 4),
        round(float((answered & right)[answerable].mean()), 4), int(answerable.sum()), int((~answerable).sum()),
        penalty,
    )


def held_out_figures(chosen: AbstainSettings, samples: Sequence[Sample]) -> dict[str, float]:
    """What a setting does to questions it was not calibrated on: the outcome figures of ``eval.run``."""
    cols = _Columns(samples)
    kinds = np.array([s.kind for s in samples])
    answerable = np.array([s.answerable for s in samples])
    right = np.array([s.quote_correct for s in samples])
    turn = cols.conversation(chosen) | cols.content_free
    shown = ~turn & (cols.confidence(chosen) >= chosen.threshold)
    answered = cols.answered(chosen)
    declinable = np.isin(kinds, (UNANSWERABLE, OFFTOPIC))
    return {
        "confidently_wrong": float(answered[declinable].mean()) if declinable.any() else 0.0,
        "answered_right": float((answered & right)[answerable].mean()),
        "wrongly_declined": float((~shown)[answerable].mean()),
    }


def cross_validate(samples: Sequence[Sample], folds: int = 5, **calibration: Any) -> dict[str, float]:
    """``calibrate`` on all folds but one, scored on that one, for each fold: how a calibration generalises.

    Folds are dealt round-robin within each kind, so each holds every kind in proportion.
    """
    order = sorted(range(len(samples)), key=lambda i: samples[i].kind)
    fold_of = {i: n % folds for n, i in enumerate(order)}
    totals: dict[str, list[float]] = {}
    for f in range(folds):
        train = [s for i, s in enumerate(samples) if fold_of[i] != f]
        test = [s for i, s in enumerate(samples) if fold_of[i] == f]
        for k, v in held_out_figures(calibrate(train, **calibration).settings, test).items():
            totals.setdefault(k, []).append(v)
    return {k: round(float(np.mean(v)), 4) for k, v in totals.items()}


def _with_answer_threshold(s: AbstainSettings, cols: _Columns, kinds: np.ndarray, cap: float) -> AbstainSettings:
    """The lowest answer threshold (≥ ``s.threshold``) answering at most ``cap`` of the declinable questions."""
    declinable = np.isin(kinds, (UNANSWERABLE, OFFTOPIC))
    if not declinable.any():
        return s
    taken = cols.conversation(s) | cols.content_free
    scores = np.sort(cols.confidence(s)[declinable & ~taken])[::-1]  # highest first
    allowed = int(cap * declinable.sum())
    if allowed >= len(scores):
        return dataclasses.replace(s, answer_threshold=s.threshold)
    return dataclasses.replace(s, answer_threshold=round(max(s.threshold, float(scores[allowed]) + 1e-6), 6))


Found = tuple[tuple[float, float], AbstainSettings, dict[str, float]]


def _best_threshold(
    probe: AbstainSettings, cols: _Columns, answerable: np.ndarray, kinds: np.ndarray, slices: list[str], allowed: int
) -> Found | None:
    """For one set of weights: every conversation margin and every threshold under the cap; the best one.

    Thresholds tried are just under one of the ``allowed`` lowest answerable scores: a lower one may
    decline as much while losing fewer answerable questions.
    """
    score = cols.confidence(probe)
    best: Found | None = None
    for margin, prior in product(_MARGINS, _CHAT_PRIORS):
        turns = dataclasses.replace(probe, conversation_margin=margin, chat_prior=prior)
        conv = cols.conversation(turns)
        left = allowed - int(((conv | cols.content_free) & answerable).sum())  # taken for a turn: lost too
        pos = np.sort(score[answerable & ~conv & ~cols.content_free])
        if left < 0 or not len(pos):
            continue
        for threshold in {float(pos[min(j, len(pos) - 1)]) - 1e-6 for j in range(left + 1)}:
            answered = (score >= threshold) & ~conv & ~cols.content_free  # nothing to search: never answered
            rates = _rates(answered, conv | cols.content_free, kinds, slices)
            rates["false"] = float((answerable & ~answered).sum() / answerable.sum())
            key = (float(np.mean([rates[k] for k in slices])), -rates["false"])
            if best is None or key > best[0]:
                chosen = dataclasses.replace(turns, threshold=round(threshold, 6))
                best = (key, chosen, rates)
    return best


def _rates(answered: np.ndarray, conversation: np.ndarray, kinds: np.ndarray, slices: list[str]) -> dict[str, float]:
    """Per slice: near misses and off-topic not answered; conversation turns recognised as such."""
    out = {}
    for k in slices:
        mask = kinds == k
        hit = conversation[mask] if k == CONVERSATION else ~answered[mask]
        out[k] = float(hit.mean())
    return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)
