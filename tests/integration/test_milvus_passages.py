"""``MilvusIndex.passages_of``: a source's passages in document order, the same as the local index's.

Milvus returns rows unordered; the backend sorts them by offset. Checked on the bundled document and
on a folder of PDF, DOCX, Markdown and Big5 text, built into both backends with the fake embedder.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend is an extra: pip install 'citeqa[milvus]'")

from citeqa.corpus import CorpusSettings, load_corpus
from citeqa.index import build_index
from citeqa.index.milvus.client import MilvusSettings
from citeqa.index.milvus.ingest import build_milvus
from documents import mixed_folder


def test_bundled_document_matches_the_local_index(fake_milvus_engine, fake_engine):
    milvus, local = fake_milvus_engine.index, fake_engine.index
    assert set(milvus.source_counts()) == set(local.source_counts())
    for source, count in local.source_counts().items():
        got = milvus.passages_of(source)
        assert got == local.passages_of(source) and len(got) == count
    assert milvus.passages_of("no-such-file.txt") == []
    assert milvus.passages_of('x" or source != "') == []  # quoted into the filter, not part of it


def test_every_format_keeps_its_order(tmp_path, fake_embedder):
    corpus = load_corpus([mixed_folder(tmp_path / "docs")], CorpusSettings())
    local = build_index(
        corpus, fake_embedder, tmp_path / "index", corpus_settings=CorpusSettings(), progress=False, log=lambda _: None
    )
    milvus = build_milvus(
        corpus,
        fake_embedder,
        MilvusSettings(uri=str(tmp_path / "m.db")),
        corpus_settings=CorpusSettings(),
        progress=False,
        log=lambda _: None,
    )
    sources = local.source_counts()
    assert {"report.pdf", "notes.docx", "sea.md", "sub/culture.txt"} <= set(sources)
    for source in sources:
        assert milvus.passages_of(source) == local.passages_of(source), source
    pdf = local.passages_of("report.pdf")
    assert [p.page for p in pdf] == sorted(p.page for p in pdf) and pdf[-1].page and pdf[-1].page > 1
