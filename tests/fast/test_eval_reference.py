"""Every ranking metric against trec_eval's reference definitions (pytrec_eval), on the eval set's own runs.

The runs are the fake engine's rankings of every answerable question of the bundled eval set (dev
and test), relevance resolved from the evidence spans exactly as ``citeqa eval`` resolves it; the
hand-picked cases are in test_eval_metrics.py.
"""

from __future__ import annotations

import pytest
import pytrec_eval  # trec_eval's reference implementation: a test dependency (.[test])

from citeqa.eval.dataset import load_eval_set
from citeqa.eval.metrics import covers, evidence_ranks, mrr_at, ndcg_at, recall_at, relevant_count


def _runs(fake_engine):
    """(question, ranked passage ids and texts, every passage of the collection) per answerable question."""
    collection = {p.id: p.embed_text for d in fake_engine.documents() for p in fake_engine.index.passages_of(d.source)}
    for q in load_eval_set():
        if q.answerable and not q.previous:
            hits = fake_engine.search(q.question, 10, "hybrid")
            yield q, [(h.id, h.passage.embed_text) for h in hits], collection


def test_ndcg_mrr_and_recall_agree_with_trec_eval(fake_engine):
    qrels, run, span_qrels, span_run, ours = {}, {}, {}, {}, {}
    for q, ranked, collection in _runs(fake_engine):
        texts = [t for _, t in ranked]
        relevant = {pid: 1 for pid, t in collection.items() if any(covers(t, ev) for ev in q.evidence)}
        if not relevant:
            continue  # a span no passage covers: the eval set's own check reports it
        qrels[q.id] = relevant
        run[q.id] = {pid: float(10 - i) for i, (pid, _) in enumerate(ranked)}
        # R@k is the share of evidence spans with a covering passage in the top k: per span, trec's
        # success@k with that span's covering passages as the relevant ones.
        ranks = evidence_ranks(texts, q.evidence)
        for j, ev in enumerate(q.evidence):
            covering = {pid: 1 for pid, t in collection.items() if covers(t, ev)}
            if covering:
                span_qrels[f"{q.id}/{j}"] = covering
                span_run[f"{q.id}/{j}"] = run[q.id]
        ours[q.id] = (ranks, ndcg_at(texts, q.evidence, 10, relevant_count(list(collection.values()), q.evidence)))
    assert len(ours) > 400
    passages = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank"}).evaluate(run)
    spans = pytrec_eval.RelevanceEvaluator(span_qrels, {"success.1,3,5,10"}).evaluate(span_run)
    for qid, (ranks, ndcg) in ours.items():
        assert ndcg == pytest.approx(passages[qid]["ndcg_cut_10"], abs=1e-6), qid
        assert mrr_at(ranks, 10) == pytest.approx(passages[qid]["recip_rank"], abs=1e-6), qid
        per_span = [spans[key] for key in spans if key.split("/")[0] == qid]
        for k in (1, 3, 5, 10):
            reference = sum(r[f"success_{k}"] for r in per_span) / len(ranks)
            assert recall_at(ranks, k) == pytest.approx(reference, abs=1e-6), (qid, k)
        assert 0.0 <= ndcg <= 1.0


def test_a_span_split_over_two_passages_never_lifts_ndcg_over_one():
    """The 6c2afaa bug: two passages covering one span counted as relevant against an ideal of one."""
    span = "甲乙丙丁戊己庚辛"
    ranked = ["甲乙丙丁", "戊己庚辛", "無關"]  # each holds half the span: both relevant
    assert ndcg_at(ranked, [span]) == pytest.approx(1.0)
    assert ndcg_at(ranked, [span], relevant=2) == pytest.approx(1.0)
    assert ndcg_at(["無關", *ranked], [span], relevant=3) < 1.0  # a third relevant passage was not ranked
