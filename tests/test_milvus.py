"""The Milvus backend on Milvus Lite: same contracts as the local index, incremental ingest, refusals.

The shared retriever suite (test_retrievers.py) also runs on this backend through ``any_engine``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend is an extra: pip install 'citeqa[milvus]'")

from citeqa.corpus import CorpusSettings, load_corpus
from citeqa.errors import IndexStateError, InputError
from citeqa.eval.dataset import load_eval_set
from citeqa.index.milvus.client import MilvusSettings, connect
from citeqa.index.milvus.index import MilvusIndex
from citeqa.index.milvus.ingest import build_milvus
from citeqa.qa.engine import Engine
from citeqa.qa.extractive import ExtractiveAnswerer
from citeqa.settings import Settings

QUESTIONS = [
    "駐孟買辦事處何時揭牌？",
    "拜登政府宣布對台軍售幾次？",
    "台美經濟繁榮夥伴對話",
    "What did Taiwan do for WHO?",
]


class Counting:
    """Wraps an embedder and counts the texts it was asked to embed."""

    def __init__(self, inner, name: str | None = None, dim: int | None = None) -> None:
        self.inner, self.count = inner, 0
        self.name, self.fingerprint = name or inner.name, inner.fingerprint
        self.dim = dim or inner.dim

    def encode_queries(self, texts):
        return self._fit(self.inner.encode_queries(texts))

    def encode_passages(self, texts, *, progress=False):
        self.count += len(texts)
        return self._fit(self.inner.encode_passages(texts))

    def _fit(self, v: np.ndarray) -> np.ndarray:
        return v[:, : self.dim] if v.shape[1] > self.dim else v


def _build(paths, embedder, uri: str, **kw) -> MilvusIndex:
    corpus = load_corpus(paths, CorpusSettings())
    return build_milvus(
        corpus,
        embedder,
        MilvusSettings(uri=uri),
        corpus_settings=CorpusSettings(),
        progress=False,
        log=lambda _: None,
        **kw,
    )


def _engine(index, embedder, uri: str, tmp_path: Path) -> Engine:
    s = Settings.from_env({}, index_dir=tmp_path / "x", cache_dir=tmp_path / "c", backend="milvus", milvus_uri=uri)
    return Engine.assemble(s, embedder, index)


def _count_rows(index: MilvusIndex, name: str) -> int:
    return int(index.client.query(name, filter='id != ""', output_fields=["count(*)"])[0]["count(*)"])


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


def _docs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.md").write_text("# 甲\n\n台灣與友邦舉行經貿對話。\n\n雙方簽署投資協定。\n", encoding="utf-8")
    (root / "b.txt").write_text("一、文化\n\n台灣舉辦國際書展，邀請多國出版社參加。\n", encoding="utf-8")
    (root / "c.txt").write_text("一、援助\n\n外交部捐贈醫療物資給友邦醫院。\n", encoding="utf-8")
    return root


def test_incremental_ingest_embeds_only_changed_files_and_equals_a_fresh_build(tmp_path, fake_embedder):
    root = _docs(tmp_path / "docs")
    uri = str(tmp_path / "m.db")
    first = Counting(fake_embedder)
    index = _build([root], first, uri)
    passages = index.passage_count
    assert first.count > 0 and passages == 4
    again = Counting(fake_embedder)
    _build([root], again, uri)
    assert again.count == 0  # nothing changed: nothing embedded

    (root / "b.txt").write_text("一、文化\n\n台灣舉辦國際書展。\n\n另辦電影節。\n", encoding="utf-8")
    (root / "c.txt").unlink()
    changed = Counting(fake_embedder)
    updated = _build([root], changed, uri)
    assert changed.count == 4  # b.txt: 2 passages + 2 sentences
    assert updated.source_counts() == {"a.md": 2, "b.txt": 2}
    assert _count_rows(updated, updated.passages_name) == 4
    e = _engine(updated, fake_embedder, uri, tmp_path)
    assert not any("醫療物資" in h.passage.text for h in e.search("醫療物資", 10, "bm25"))

    fresh = _build([root], fake_embedder, str(tmp_path / "fresh.db"))
    f = _engine(fresh, fake_embedder, str(tmp_path / "fresh.db"), tmp_path)
    for q in ("電影節", "投資協定", "書展"):
        assert [h.to_dict() for h in e.search(q, 4)] == [h.to_dict() for h in f.search(q, 4)]


def test_a_serving_index_picks_up_a_reindex_done_elsewhere(tmp_path, fake_embedder):
    root = _docs(tmp_path / "docs")
    uri = str(tmp_path / "m.db")
    serving = _build([root], fake_embedder, uri)
    before = serving.idf_for(["台湾", "书展"])
    (root / "d.txt").write_text("一、新聞\n\n外交部推出「亞太和平新倡議」方案。\n", encoding="utf-8")
    _build([root], fake_embedder, uri)  # e.g. a cron job on another host
    assert serving.idf_for(["台湾", "书展"]) == before  # the previous term generation is still there
    assert serving.refresh(force=True)
    assert serving.passage_count == 5 and "d.txt" in serving.source_counts()
    assert "亚太和平新倡议" in serving.tokenizer.user_words
    assert set(before) == {"台湾", "书展"}
    assert serving.idf_for(["台湾"])["台湾"] != before["台湾"]  # five passages now, not four
    assert not serving.refresh(force=True)


def test_interrupted_ingest_is_repaired_by_the_next_run(tmp_path, fake_embedder):
    root = _docs(tmp_path / "docs")
    uri = str(tmp_path / "m.db")

    class Dies(Counting):
        def encode_passages(self, texts, *, progress=False):
            if self.count:
                raise KeyboardInterrupt
            return super().encode_passages(texts)

    corpus = load_corpus([root], CorpusSettings())
    ms = MilvusSettings(uri=uri, batch_size=1)
    with pytest.raises(KeyboardInterrupt):
        build_milvus(
            corpus, Dies(fake_embedder), ms, corpus_settings=CorpusSettings(), progress=False, log=lambda _: None
        )
    del corpus
    index = _build([root], fake_embedder, uri)
    assert index.source_counts() == {"a.md": 2, "b.txt": 1, "c.txt": 1}
    assert _count_rows(index, index.passages_name) == 4  # no duplicates left from the interrupted run


def test_other_model_is_refused_until_full_rebuild(tmp_path, fake_embedder):
    root = _docs(tmp_path / "docs")
    uri = str(tmp_path / "m.db")
    _build([root], fake_embedder, uri)
    other = Counting(fake_embedder, name="other-model", dim=128)
    with pytest.raises(IndexStateError, match=r"built with model hash-bigram-test.*--full"):
        MilvusIndex.open(MilvusSettings(uri=uri), other)
    with pytest.raises(IndexStateError, match=r"--full"):
        _build([root], other, uri)
    rebuilt = _build([root], other, uri, full=True)
    assert rebuilt.manifest["model"]["dim"] == 128
    assert MilvusIndex.open(MilvusSettings(uri=uri), other).passage_count == 4


def test_missing_index_and_bad_uris_are_clear(tmp_path, fake_embedder):
    with pytest.raises(IndexStateError, match=r"has no citeqa index.*citeqa index --backend milvus"):
        MilvusIndex.open(MilvusSettings(uri=str(tmp_path / "empty.db")), fake_embedder)
    with pytest.raises(InputError, match=r"ending in \.db"):
        connect(MilvusSettings(uri=str(tmp_path / "m.txt")))
    with pytest.raises(InputError, match="needs a URI"):
        connect(MilvusSettings(uri=""))
    from citeqa.errors import SettingError

    with pytest.raises(SettingError, match="CITEQA_MILVUS_COLLECTION"):  # checked where settings enter
        Settings.from_env({"CITEQA_MILVUS_COLLECTION": "bad-name;"}, index_dir=tmp_path, cache_dir=tmp_path)


def test_source_filter_is_done_by_milvus(tmp_path, fake_embedder):
    root = _docs(tmp_path / "docs")
    uri = str(tmp_path / "m.db")
    e = _engine(_build([root], fake_embedder, uri), fake_embedder, uri, tmp_path)
    for name in ("hybrid", "dense", "bm25"):
        hits = e.search("台灣", 5, name, source="*.txt")
        assert hits and {h.passage.source for h in hits} <= {"b.txt", "c.txt"}
    with pytest.raises(InputError, match="no indexed document matches"):
        e.search("台灣", 5, source="*.pdf")


@pytest.fixture(scope="module")
def milvus_env(real_env, tmp_path_factory) -> dict[str, str]:
    """The real model's environment pointed at a Milvus Lite file indexed with `citeqa index`."""
    env = {**real_env, "CITEQA_BACKEND": "milvus", "CITEQA_MILVUS_URI": str(tmp_path_factory.mktemp("mv") / "m.db")}
    subprocess.run([*CITEQA, "index", "--quiet"], env=env, check=True, timeout=900, capture_output=True)
    return env


CITEQA = [sys.executable, "-m", "citeqa"]


@pytest.mark.slow
def test_cli_ask_on_milvus_lite_cites_what_the_local_backend_cites(milvus_env, real_env):
    """The issue's done-when, through the real CLI and the real model."""
    questions = "拜登政府宣布對台軍售幾次？\n台北101有多高？\n駐孟買辦事處何時揭牌？\n"
    out = {}
    for name, e in (("milvus", milvus_env), ("local", real_env)):
        p = subprocess.run(
            [*CITEQA, "ask", "-", "--json"],
            env=e,
            input=questions,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        out[name] = [json.loads(line) for line in p.stdout.splitlines()]
    assert [a["grounded"] for a in out["milvus"]] == [True, False, True]
    assert "19" in out["milvus"][0]["answer"]
    for m, loc in zip(out["milvus"], out["local"], strict=True):
        assert set(m) == {"question", "answer", "grounded", "citations"}
        assert (m["answer"], m["grounded"]) == (loc["answer"], loc["grounded"])
        if m["grounded"]:
            assert [c["id"] for c in m["citations"]] == [c["id"] for c in loc["citations"]]


@pytest.mark.slow
def test_lite_file_in_use_is_a_clear_error(milvus_env):
    """Milvus Lite opens a file from one process at a time: a second opener gets a clear message, exit 2."""
    holder = subprocess.Popen(
        [*CITEQA, "ask", "-", "--json"],
        env=milvus_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("駐孟買辦事處何時揭牌？\n")
        holder.stdin.flush()
        assert json.loads(holder.stdout.readline())["grounded"]  # loaded and answering
        p = subprocess.run([*CITEQA, "search", "孟買"], env=milvus_env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 2 and "one process at a time" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_eval_on_milvus_stays_within_tolerance_of_local(milvus_env, real_env):
    """`citeqa eval --backend milvus` vs the local backend on the whole shipped set: ΔR@5 ≤ 0.01, ΔMRR@10 ≤ 0.02."""
    runs = {}
    for name, e in (("milvus", milvus_env), ("local", real_env)):
        p = subprocess.run(
            [*CITEQA, "eval", "--retriever", "hybrid", "--json", "--quiet"],
            env=e,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert p.returncode == 0, p.stderr
        runs[name] = json.loads(p.stdout)["retrievers"]["hybrid"]
    assert abs(runs["milvus"]["R@5"] - runs["local"]["R@5"]) <= 0.01, runs
    assert abs(runs["milvus"]["MRR@10"] - runs["local"]["MRR@10"]) <= 0.02, runs


@pytest.mark.slow
def test_serve_on_milvus_answers_like_the_cli(milvus_env):
    """`citeqa serve` on the Milvus backend: /healthz counts the passages, /api/ask returns the `ask --json` object."""
    import httpx

    from test_api import run_server

    question = "拜登政府宣布對台軍售幾次？"
    p = subprocess.run(
        [*CITEQA, "ask", question, "--json"], env=milvus_env, capture_output=True, text=True, timeout=600, check=True
    )
    expected = json.loads(p.stdout)
    with run_server(milvus_env) as base:
        assert httpx.get(f"{base}/healthz", timeout=10).json()["passages"] == 27
        r = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json() == expected
        r = httpx.get(f"{base}/api/search", params={"q": "孟買", "k": 2, "retriever": "hybrid"}, timeout=60)
        assert r.status_code == 200 and len(r.json()["hits"]) == 2, r.text
        assert "孟買" in r.json()["hits"][0]["text"]
