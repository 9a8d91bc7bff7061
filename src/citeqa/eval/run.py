"""Entry point of the eval stage: run an eval set through each retriever and the answerer."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from citeqa.errors import InputError
from citeqa.eval.dataset import CONVERSATION, EvalQuestion
from citeqa.eval.figures import figures, latency_interval
from citeqa.eval.metrics import evidence_ranks, ndcg_at, percentile, relevant_count
from citeqa.qa.engine import Engine
from citeqa.qa.extractive import ExtractiveAnswerer
from citeqa.qa.query import resolve_follow_up
from citeqa.qa.types import Answer, Outcome
from citeqa.settings import RETRIEVERS

RETRIEVER_NAMES = (*sorted(RETRIEVERS), "peer")  # bm25, dense, hybrid, then the peer baseline


@dataclass(frozen=True)
class QuestionResult:
    """One question through one retriever (and the answerer over it, where there is one)."""

    qid: str
    kind: str
    ranks: tuple[int | None, ...]
    ndcg: float
    latency_ms: float
    grounded: bool | None = None
    correct: bool | None = None
    ask_ms: float | None = None
    outcome: str | None = None  # answered, uncertain, not_found or conversation
    batch: str = ""
    confidence: float | None = None
    quote_right: bool | None = None  # the reply's text holds an expected answer, whatever its outcome

    def to_dict(self) -> dict[str, Any]:
        """What ``--json`` keeps per question, so two saved runs can be compared question by question."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuestionResult:
        """The inverse of ``to_dict`` (a saved run read back by ``citeqa eval --compare``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in names}
        values["ranks"] = tuple(values.get("ranks") or ())
        return cls(**values)


@dataclass
class RetrieverReport:
    """Per-question results of one retriever; ``metrics`` aggregates them."""

    name: str
    results: list[QuestionResult] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        """Overall figures plus a breakdown by question kind and, where the set names them, by batch."""
        out = _summarise(self.results)
        kinds = sorted({r.kind for r in self.results})
        out["by_kind"] = {k: _summarise([r for r in self.results if r.kind == k]) for k in kinds}
        batches = sorted({r.batch for r in self.results if r.batch})
        if batches:
            out["by_batch"] = {b: _summarise([r for r in self.results if r.batch == b]) for b in batches}
        out["per_question"] = [r.to_dict() for r in self.results]  # for `citeqa eval --compare`
        return out


def run_eval(
    engine: Engine,
    questions: Sequence[EvalQuestion],
    retrievers: Sequence[str] = RETRIEVER_NAMES,
    *,
    peer_search: Callable[[str, int], list[str]] | None = None,
    peer_texts: Sequence[str] | None = None,
    progress: bool = True,
) -> dict[str, RetrieverReport]:
    """Evaluate each named retriever; ``peer`` needs ``peer_search`` (raw paragraph texts).

    nDCG's ideal ranking counts every relevant passage of the retriever's collection: the index's
    passages, or ``peer_texts`` for the peer baseline (without them, the fewest it can hold).
    """
    from tqdm import tqdm

    reports = {name: RetrieverReport(name) for name in retrievers}
    answerers = {name: engine.answerer_for(name) for name in retrievers if name in engine.retrievers}
    own = [p.embed_text for d in engine.documents() for p in engine.index.passages_of(d.source)]
    total = len(questions) * len(retrievers)
    with tqdm(total=total, desc="eval", unit="q", disable=not progress) as bar:
        for name in retrievers:
            collection = (own if name != "peer" else peer_texts) or None  # none listed: the fewest possible
            for q in questions:
                relevant = relevant_count(collection, q.evidence) if collection is not None and q.answerable else None
                reports[name].results.append(_one(engine, name, q, answerers.get(name), peer_search, relevant))
                bar.update()
    return reports


def _one(
    engine: Engine,
    name: str,
    q: EvalQuestion,
    answerer: ExtractiveAnswerer | None,
    peer_search: Callable[[str, int], list[str]] | None,
    relevant: int | None = None,
) -> QuestionResult:
    # A follow-up is searched as the engine searches it (with the previous question, or resolved).
    follow = resolve_follow_up(q.question, q.previous) if q.previous else None
    query = follow.query if follow else q.question
    _forget_queries(engine)
    t0 = time.perf_counter()
    if name == "peer":
        if peer_search is None:
            raise InputError("the peer baseline needs the source documents")
        texts = peer_search(query, 10)
    else:
        # A passage is shown with its heading path, so a heading can be its evidence too.
        texts = [h.passage.embed_text for h in engine.search(query, 10, name)]
    latency = (time.perf_counter() - t0) * 1000
    ranks = tuple(evidence_ranks(texts, q.evidence)) if q.answerable else ()
    ndcg = ndcg_at(texts, q.evidence, 10, relevant) if q.answerable else 0.0
    if answerer is None:
        return QuestionResult(q.id, q.kind, ranks, ndcg, latency, batch=q.batch)
    _forget_queries(engine)
    t1 = time.perf_counter()
    ans = _answer(engine, answerer, q)
    ask_ms = (time.perf_counter() - t1) * 1000
    quote_right = q.answered_by(ans.answer)
    if q.answerable:
        correct = ans.grounded and quote_right
    elif q.kind == CONVERSATION:
        correct = ans.outcome == Outcome.CONVERSATION
    else:
        correct = not ans.grounded
    return QuestionResult(q.id, q.kind, ranks, ndcg, latency, ans.grounded, correct, ask_ms, str(ans.outcome),
                          q.batch, ans.confidence, quote_right)


def _answer(engine: Engine, answerer: ExtractiveAnswerer, q: EvalQuestion) -> Answer:
    """The answer a user gets: a follow-up through ``Engine.ask_with`` with its previous question."""
    if q.previous:
        return engine.ask_with(answerer, q.question, engine.settings.top_k, previous=q.previous)
    return answerer.answer(q.question, engine.settings.top_k)


def _forget_queries(engine: Engine) -> None:
    """Each timing includes encoding the question: nothing is served from the query cache."""
    clear = getattr(engine.embedder, "clear", None)
    if clear is not None:
        clear()


def _summarise(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """The figures of a slice (None: n/a), then latencies; ``ci95`` holds each figure's 95 % interval."""
    points, intervals = figures(results)
    out: dict[str, Any] = {"questions": len(results), "answerable": sum(1 for r in results if r.ranks), **points}
    lat = [r.latency_ms for r in results]
    out["search_ms_p50"] = round(percentile(lat, 50), 2)
    out["search_ms_p95"] = round(percentile(lat, 95), 2)
    intervals["search_ms_p50"] = latency_interval(lat, 50) or []
    judged = [r for r in results if r.correct is not None]
    if judged:
        out["reliability"] = _reliability(judged)
        asks = [r.ask_ms for r in judged if r.ask_ms is not None]
        out["ask_ms_p50"] = round(percentile(asks, 50), 2)
        out["ask_ms_p95"] = round(percentile(asks, 95), 2)
        intervals["ask_ms_p50"] = latency_interval(asks, 50) or []
    out["ci95"] = intervals
    return out


_SHOWN = (Outcome.ANSWERED, Outcome.UNCERTAIN)  # a quote is shown, as the answer or as possibly not it


def _reliability(judged: Sequence[QuestionResult]) -> list[dict[str, Any]]:
    """Per 0.1 band of confidence, how often the quotes shown (answered or uncertain) were right."""
    shown = [r for r in judged if r.outcome in _SHOWN and r.confidence is not None]
    bands: dict[int, list[QuestionResult]] = {}
    for r in shown:
        bands.setdefault(min(9, int(float(r.confidence or 0.0) * 10)), []).append(r)
    return [
        {"band": f"{b / 10:.1f}-{(b + 1) / 10:.1f}", "questions": len(rs),
         "confidence": _mean([float(r.confidence or 0.0) for r in rs]),
         "accuracy": _mean([float(bool(r.quote_right)) for r in rs])}
        for b, rs in sorted(bands.items())
    ]


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0
