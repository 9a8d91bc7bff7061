"""The Milvus backend on Milvus Lite with the fake embedder: the same contracts and answers as the local index.

The shared retriever suite runs on this backend in test_milvus_retrievers.py; the real model on
Milvus Lite is in tests/model/test_real_milvus.py.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend is an extra: pip install 'citeqa[milvus]'")

from citeqa.eval.dataset import load_eval_set
from citeqa.qa.extractive import ExtractiveAnswerer

QUESTIONS = [
    "駐孟買辦事處何時揭牌？",
    "拜登政府宣布對台軍售幾次？",
    "台美經濟繁榮夥伴對話",
    "What did Taiwan do for WHO?",
]


def test_hybrid_search_is_weighted_rrf_of_the_two_milvus_legs(fake_milvus_engine):
    """Each hybrid score equals Σ w/(k + rank) over the dense and BM25 legs Milvus returns; a passage a
    leg did not return counts as ranked just after its last hit (the one fusion of both backends)."""
    e = fake_milvus_engine
    s = e.settings
    for q in QUESTIONS:
        dense = {h.id: r for r, h in enumerate(e.search(q, 50, "dense"), start=1)}
        bm25 = {h.id: r for r, h in enumerate(e.search(q, 50, "bm25"), start=1)}
        hybrid = e.search(q, 10, "hybrid")
        for h in hybrid:
            expected = sum(
                w / (s.rrf_k + ranks.get(h.id, len(ranks) + 1))
                for w, ranks in ((s.dense_weight, dense), (s.bm25_weight, bm25))
            )
            assert h.score == pytest.approx(expected, rel=1e-4), (q, h.id)
        assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)


def test_same_passages_and_answers_as_the_local_backend(fake_engine, fake_milvus_engine):
    """Same model, same corpus: dense hits are identical, BM25 agrees, and equal retrieval gives equal answers."""
    for q in QUESTIONS:
        local = fake_engine.search(q, 5, "dense")
        milvus = fake_milvus_engine.search(q, 5, "dense")
        assert [h.id for h in milvus] == [h.id for h in local]
        assert [h.passage for h in milvus] == [h.passage for h in local]  # every citation field round-trips
        assert [h.score for h in milvus] == pytest.approx([h.score for h in local], abs=1e-5)
        # Milvus's jieba analyzer and BM25 rank like the local leg on these questions.
        bm25_local = [h.id for h in fake_engine.search(q, 3, "bm25")]
        assert [h.id for h in fake_milvus_engine.search(q, 3, "bm25")][:1] == bm25_local[:1]
    same = 0
    for q in load_eval_set(None, "dev")[:40]:
        a, b = fake_engine.ask(q.question), fake_milvus_engine.ask(q.question)
        local_top = [h.id for h in fake_engine.search(q.question, 5)]
        if local_top == [h.id for h in fake_milvus_engine.search(q.question, 5)]:  # same retrieval → same answer
            same += 1
            assert (b.answer, b.grounded) == (a.answer, a.grounded), q.question
            assert [c.to_dict()["id"] for c in b.citations] == [c.to_dict()["id"] for c in a.citations]
    assert same >= 10


def test_answer_seam_returns_what_the_local_index_stores(fake_engine, fake_milvus_engine):
    ids = [h.id for h in fake_engine.search("台美關係", 5)]
    local, milvus = fake_engine.index, fake_milvus_engine.index
    ls, ms = local.sentences_for(ids), milvus.sentences_for(ids)
    for pid in ids:
        assert [(s.start, s.end) for s in ms[pid]] == [(s.start, s.end) for s in ls[pid]]
        for a, b in zip(ms[pid], ls[pid], strict=True):
            np.testing.assert_allclose(a.vector, b.vector, atol=1e-6)
    terms = local.tokenizer("台美經濟繁榮夥伴對話 不存在的詞彙")
    assert milvus.idf_for(terms) == pytest.approx(local.idf_for(terms))
    assert milvus.max_idf == pytest.approx(local.max_idf)
    assert milvus.tokenizer.user_words == local.tokenizer.user_words
    assert milvus.passage_count == local.passage_count
    assert milvus.source_counts() == local.source_counts()


def test_every_marker_points_at_a_returned_passage(fake_milvus_engine):
    e = fake_milvus_engine
    answerer = ExtractiveAnswerer(e.index, e.embedder, e.retrievers["hybrid"], e.answerer.settings)
    for q in load_eval_set(None, "dev")[:30]:
        a = answerer.answer(q.question)
        for n, c in enumerate(a.citations, start=1):
            if a.grounded:
                quote = c.passage.text[c.quote_start : c.quote_end]
                assert f"{quote}[{n}]" in a.answer
