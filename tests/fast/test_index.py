"""Index stage: BM25 against rank-bm25, FAISS against numpy brute force, persistence and refusals."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from citeqa.corpus import ChunkSettings, CorpusSettings, load_corpus
from citeqa.errors import IndexStateError
from citeqa.index import build_index, open_index
from citeqa.index.local.bm25 import BM25
from citeqa.index.local.dense import build_dense, search_dense
from citeqa.text import Tokenizer, fold, quoted_terms


def _build(corpus, embedder, d):
    return build_index(
        corpus, embedder, d, corpus_settings=CorpusSettings(), progress=False, log=lambda _: None,
    )


def test_bm25_scores_equal_rank_bm25(bundled):
    tok = Tokenizer(quoted_terms(p.text for p in bundled.passages))
    docs = [tok(p.embed_text) for p in bundled.passages]
    ours, ref = BM25(docs), BM25Okapi(docs)
    for q in ["駐孟買辦事處何時揭牌", "台美经济繁荣伙伴对话", "WHO 世界衛生組織 友邦", "無人機 立陶宛 國防", "的"]:
        qt = tok(q) or ["的"]
        np.testing.assert_allclose(ours.scores(qt), ref.get_scores(qt), rtol=1e-5, atol=1e-6)


def test_bm25_top_orders_by_score_and_drops_zero():
    bm = BM25([["a", "b"], ["b", "c", "c"], ["c", "d", "x", "y"], ["e"], ["f"], ["g"]])
    top = bm.top(["c"], 4)
    assert [i for i, _ in top] == [1, 2]  # higher tf and shorter document first
    assert all(s > 0 for _, s in top)
    assert bm.top(["zzz"], 3) == []


def test_tokenizer_folds_traditional_and_simplified():
    tok = Tokenizer(["台美經濟繁榮夥伴對話"])
    assert tok("台美經濟繁榮夥伴對話") == tok("台美经济繁荣伙伴对话")
    assert fold("臺灣") == "台湾"
    assert "的" not in tok("台灣的外交")


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_faiss_matches_numpy_brute_force(kind):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(40, 32))  # clustered, like real embeddings (uniform noise has no structure)
    x = (centers[rng.integers(0, 40, 2000)] + 0.3 * rng.normal(size=(2000, 32))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:50] + 0.05 * rng.normal(size=(50, 32)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    scores, ids = search_dense(build_dense(x, kind), q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=True)])
    if kind == "flat":
        assert (ids == exact).all()
        np.testing.assert_allclose(scores, np.take_along_axis(q @ x.T, exact, 1), rtol=1e-5)
    else:
        assert recall >= 0.8, f"{kind} recall@10 {recall:.2f}"


def test_build_then_open_gives_same_hits(tmp_path, bundled, fake_embedder):
    built = _build(bundled, fake_embedder, tmp_path)
    loaded = open_index(tmp_path, fake_embedder, corpus_settings=CorpusSettings())
    assert loaded.passages == built.passages
    q = fake_embedder.encode_queries(["駐孟買辦事處"])
    assert loaded.dense_search(q[0], 5) == built.dense_search(q[0], 5)
    assert loaded.lexical_search("駐孟買辦事處", 5) == built.lexical_search("駐孟買辦事處", 5)
    manifest = json.loads(next(tmp_path.glob("gen-*/manifest.json")).read_text())
    assert manifest["model"] == {"name": fake_embedder.name, "dim": 256, "fingerprint": "hash-v1"}
    assert manifest["sources"]["mofa-2024-review.zh-TW.txt"]["bundled"] is True


def test_missing_index_is_refused_with_rebuild_hint(tmp_path, fake_embedder):
    with pytest.raises(IndexStateError, match="citeqa index"):
        open_index(tmp_path / "nothing", fake_embedder)


def _live_file(d, name):
    return d / (d / "CURRENT").read_text().strip() / name


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_damaged_index_is_refused(tmp_path, bundled, fake_embedder, damage):
    _build(bundled, fake_embedder, tmp_path)
    target = _live_file(tmp_path, "manifest.json" if damage == "manifest" else "dense.faiss")
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        target.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    elif damage == "delete":
        target.unlink()
    else:
        target.write_text("{not json")
    with pytest.raises(IndexStateError, match="rebuild"):
        open_index(tmp_path, fake_embedder)


def test_other_model_is_refused(tmp_path, bundled, fake_embedder):
    _build(bundled, fake_embedder, tmp_path)

    class Other(type(fake_embedder)):
        name, dim, fingerprint = "other-model", 256, "other"

    with pytest.raises(IndexStateError, match="other-model"):
        open_index(tmp_path, Other())


def test_other_chunking_is_refused(tmp_path, bundled, fake_embedder):
    _build(bundled, fake_embedder, tmp_path)
    with pytest.raises(IndexStateError, match="chunking"):
        open_index(tmp_path, fake_embedder, corpus_settings=CorpusSettings(chunk=ChunkSettings(max_chars=100)))


def test_changed_corpus_is_refused(tmp_path, fake_embedder):
    doc = tmp_path / "docs" / "a.txt"
    doc.parent.mkdir()
    doc.write_text("一、總論\n\n第一段內容。\n\n第二段內容。\n", encoding="utf-8")
    corpus = load_corpus([doc])
    build_index(corpus, fake_embedder, tmp_path / "idx", corpus_settings=CorpusSettings(), progress=False,
                log=lambda _: None)
    open_index(tmp_path / "idx", fake_embedder)
    doc.write_text("一、總論\n\n改過的內容。\n", encoding="utf-8")
    with pytest.raises(IndexStateError, match="changed"):
        open_index(tmp_path / "idx", fake_embedder)


def test_rebuild_replaces_generation_and_cleans_up(tmp_path, bundled, fake_embedder):
    _build(bundled, fake_embedder, tmp_path)
    first = (tmp_path / "CURRENT").read_text()
    _build(bundled, fake_embedder, tmp_path)
    assert (tmp_path / "CURRENT").read_text() != first
    assert len(list(tmp_path.glob("gen-*"))) == 1
    assert not list(tmp_path.glob(".tmp-*"))


def test_leftover_temp_generation_does_not_affect_loading(tmp_path, bundled, fake_embedder):
    """A build killed before its rename leaves a .tmp- dir; the live generation still loads."""
    _build(bundled, fake_embedder, tmp_path)
    live = tmp_path / (tmp_path / "CURRENT").read_text().strip()
    shutil.copytree(live, tmp_path / ".tmp-gen-killed")
    os.truncate(tmp_path / ".tmp-gen-killed" / "dense.faiss", 10)
    assert open_index(tmp_path, fake_embedder).passages
