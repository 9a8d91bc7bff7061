"""Ingest into Milvus Lite with the fake embedder: incremental, repaired after an interruption, refusals.

Each test writes its own tiny folder and its own Lite file under tmp.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend is an extra: pip install 'citeqa[milvus]'")

from citeqa.corpus import CorpusSettings, load_corpus
from citeqa.errors import IndexStateError, InputError
from citeqa.index.milvus.client import MilvusSettings, connect
from citeqa.index.milvus.index import MilvusIndex
from citeqa.index.milvus.ingest import build_milvus
from citeqa.qa.engine import Engine
from citeqa.settings import Settings
from support import CountingEmbedder


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


def _docs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.md").write_text("# 甲\n\n台灣與友邦舉行經貿對話。\n\n雙方簽署投資協定。\n", encoding="utf-8")
    (root / "b.txt").write_text("一、文化\n\n台灣舉辦國際書展，邀請多國出版社參加。\n", encoding="utf-8")
    (root / "c.txt").write_text("一、援助\n\n外交部捐贈醫療物資給友邦醫院。\n", encoding="utf-8")
    return root


def test_incremental_ingest_embeds_only_changed_files_and_equals_a_fresh_build(tmp_path, fake_embedder):
    root = _docs(tmp_path / "docs")
    uri = str(tmp_path / "m.db")
    first = CountingEmbedder(fake_embedder)
    index = _build([root], first, uri)
    passages = index.passage_count
    assert first.count > 0 and passages == 4
    again = CountingEmbedder(fake_embedder)
    _build([root], again, uri)
    assert again.count == 0  # nothing changed: nothing embedded

    (root / "b.txt").write_text("一、文化\n\n台灣舉辦國際書展。\n\n另辦電影節。\n", encoding="utf-8")
    (root / "c.txt").unlink()
    changed = CountingEmbedder(fake_embedder)
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

    class Dies(CountingEmbedder):
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
    other = CountingEmbedder(fake_embedder, name="other-model", dim=128)
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
