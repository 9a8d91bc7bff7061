"""Your own documents indexed: searched and cited per file and page, incremental updates, --source.

The fake embedder in process; the same through the CLI with the real model is in
tests/model/test_real_cli_documents.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citeqa.corpus import ChunkSettings, CorpusSettings, load_corpus
from citeqa.errors import InputError
from citeqa.index import build_index, open_index
from citeqa.index.local.store import read_generation
from citeqa.qa.engine import Engine
from citeqa.settings import Settings
from documents import MD_TEXT, TXT_TEXT, mixed_folder
from support import CountingEmbedder


def _index(paths, embedder, index_dir, settings=None, **kw):
    settings = settings or CorpusSettings()
    log: list[str] = []
    corpus = load_corpus(paths, settings)
    built = build_index(corpus, embedder, index_dir, corpus_settings=settings,
                        progress=False, log=log.append, **kw)
    return built, log


def _engine(index_dir, embedder, tmp_path):
    settings = Settings.from_env({}, index_dir=index_dir, cache_dir=tmp_path / "cache")
    index = open_index(index_dir, embedder, corpus_settings=CorpusSettings())
    return Engine.assemble(settings, embedder, index)


@pytest.fixture(scope="module")
def mixed_engine(tmp_path_factory, fake_embedder) -> Engine:
    base = tmp_path_factory.mktemp("mixed")
    _index([mixed_folder(base / "docs")], fake_embedder, base / "idx")
    return _engine(base / "idx", fake_embedder, base)


@pytest.mark.parametrize(
    ("query", "source", "page"),
    [
        ("立陶宛無人機產業", "report.pdf", 3),
        ("駐孟買辦事處揭牌", "report.pdf", 2),
        ("半導體供應鏈合作", "notes.docx", None),
        ("海巡署巡護南海", "sea.md", None),
        ("故宮文物巡迴展覽", "sub/culture.txt", None),
    ],
)
def test_mixed_folder_is_searched_and_cited_per_file_and_page(mixed_engine, query, source, page):
    top = mixed_engine.search(query, 3)[0].to_dict()
    assert top["source"] == source
    assert top.get("page") == page
    assert top["label"].endswith(f" p.{page}") == (page is not None)


# --------------------------------------------------------------------------- incremental indexing


def _stored(index_dir: Path):
    return read_generation(index_dir)


def _assert_same_index(a: Path, b: Path) -> None:
    x, y = _stored(a), _stored(b)
    assert x.passages == y.passages
    assert x.tokens == y.tokens
    np.testing.assert_allclose(x.vectors, y.vectors, atol=1e-6)
    np.testing.assert_array_equal(x.sentences, y.sentences)
    np.testing.assert_allclose(x.sentence_vectors, y.sentence_vectors, atol=1e-6)
    assert x.manifest["user_words"] == y.manifest["user_words"]
    assert x.manifest["sources"] == y.manifest["sources"]


def test_incremental_add_change_remove_equals_a_fresh_build(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    _index([root], fake_embedder, tmp_path / "inc")
    (root / "sea.md").write_text(MD_TEXT + "\n「藍色經濟」計畫推動海洋產業。\n", encoding="utf-8")  # changed
    (root / "sub" / "culture.txt").unlink()  # removed
    (root / "new.txt").write_text("二、新增文件\n\n新南向政策深化區域連結。\n", encoding="utf-8")  # added
    counting = CountingEmbedder(fake_embedder)
    _, log = _index([root], counting, tmp_path / "inc")
    assert "unchanged: 2 files" in log
    assert "re-embedding 1 changed file: sea.md" in log
    assert "embedding 1 added file: new.txt" in log
    assert "removed: sub/culture.txt" in log
    _index([root], fake_embedder, tmp_path / "fresh", incremental=False)
    _assert_same_index(tmp_path / "inc", tmp_path / "fresh")
    embedded = {p.embed_text for p in _stored(tmp_path / "inc").passages if p.source in ("sea.md", "new.txt")}
    assert embedded <= set(counting.texts)
    assert not any("榮邦計畫" in t or "半導體" in t for t in counting.texts)  # report.pdf, notes.docx reused
    assert len(list((tmp_path / "inc").glob("gen-*"))) == 1


def test_second_run_after_editing_one_file_embeds_only_that_file(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    _index([root], fake_embedder, tmp_path / "idx")
    (root / "sub" / "culture.txt").write_bytes((TXT_TEXT + "\n國家交響樂團赴美演出。\n").encode("big5"))
    counting = CountingEmbedder(fake_embedder)
    built, log = _index([root], counting, tmp_path / "idx")
    assert log[:2] == ["unchanged: 3 files", "re-embedding 1 changed file: sub/culture.txt"]
    mine = [p for p in built.passages if p.source == "sub/culture.txt"]
    sentences = [p.text for p in mine]  # each paragraph here is one sentence
    assert counting.texts == [p.embed_text for p in mine] + sentences
    assert f"embedding {len(mine)} passages with {fake_embedder.name} …" in log
    _index([root], fake_embedder, tmp_path / "fresh", incremental=False)
    _assert_same_index(tmp_path / "idx", tmp_path / "fresh")


def test_nothing_changed_embeds_nothing(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    first, _ = _index([root], fake_embedder, tmp_path / "idx")
    counting = CountingEmbedder(fake_embedder)
    again, log = _index([root], counting, tmp_path / "idx")
    assert counting.texts == []
    assert "unchanged: 4 files" in log and "no document changed: nothing to embed" in log
    assert again.passages == first.passages
    n = first.dense.ntotal
    np.testing.assert_array_equal(again.dense.reconstruct_n(0, n), first.dense.reconstruct_n(0, n))
    np.testing.assert_array_equal(again.sentence_vectors, first.sentence_vectors)


def test_other_model_or_chunking_forces_a_full_rebuild(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    first, _ = _index([root], fake_embedder, tmp_path / "idx")
    other = CountingEmbedder(fake_embedder, name="other-model")
    _, log = _index([root], other, tmp_path / "idx")
    assert any(line.startswith("full rebuild: the model changed") and "other-model" in line for line in log)
    assert len(other.texts) == len(first.passages) + len(first.sentences)
    _index([root], fake_embedder, tmp_path / "idx")
    counting = CountingEmbedder(fake_embedder)
    smaller = CorpusSettings(chunk=ChunkSettings(max_chars=30))
    rechunked, log = _index([root], counting, tmp_path / "idx", settings=smaller)
    assert "full rebuild: the chunking settings changed" in log
    assert "unchanged: 4 files" not in log
    assert len(counting.texts) == len(rechunked.passages) + len(rechunked.sentences)


def test_damaged_previous_index_is_rebuilt_in_full(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    _index([root], fake_embedder, tmp_path / "idx")
    live = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text().strip()
    (live / "vectors.npy").write_bytes(b"garbage")
    _, log = _index([root], fake_embedder, tmp_path / "idx")
    assert any(line.startswith("full rebuild: the previous index cannot be reused") for line in log)
    _index([root], fake_embedder, tmp_path / "fresh", incremental=False)
    _assert_same_index(tmp_path / "idx", tmp_path / "fresh")


def test_manifest_records_rows_per_source(tmp_path, fake_embedder):
    built, _ = _index([mixed_folder(tmp_path / "docs")], fake_embedder, tmp_path / "idx")
    sources = built.manifest["sources"]
    for src, info in sources.items():
        a, b = info["rows"]
        assert {p.source for p in built.passages[a:b]} == {src}
    assert sum(b - a for a, b in (i["rows"] for i in sources.values())) == len(built.passages)


# --------------------------------------------------------------------------- --source


def test_source_filter_keeps_k_hits_of_matching_documents(mixed_engine):
    engine = mixed_engine
    pdf_passages = sum(p.source == "report.pdf" for p in engine.index.passages)
    for retriever in ("hybrid", "dense"):
        hits = engine.search("半導體供應鏈", 3, retriever, source="*.pdf")
        assert len(hits) == 3 and {h.passage.source for h in hits} == {"report.pdf"}
    everything = engine.search("半導體供應鏈", 100, "dense", source="report.pdf")
    assert len(everything) == pdf_passages  # no more exist
    assert {h.passage.source for h in engine.search("展覽", 5, source="culture.txt")} == {"sub/culture.txt"}
    assert {h.passage.source for h in engine.search("展覽", 5, source="sub/*")} == {"sub/culture.txt"}
    with pytest.raises(InputError, match=r"\*\.rtf"):
        engine.search("展覽", 5, source="*.rtf")
    answer = engine.ask("無人機產業和誰合作？", 3, source="*.pdf")
    assert answer.citations and {h.passage.source for h in answer.citations} == {"report.pdf"}
