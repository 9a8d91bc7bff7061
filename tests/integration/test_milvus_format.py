"""Milvus Lite refuses an index of another format version, as the local backend does, until a full rebuild.

The version and its check are ``index/manifest.py``'s (``FORMAT_VERSION``, ``check_format``); the local
backend's refusal is in tests/fast/test_index_format.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend is an extra: pip install 'citeqa[milvus]'")

from citeqa.corpus import CorpusSettings, load_corpus
from citeqa.errors import IndexStateError
from citeqa.index import manifest
from citeqa.index.milvus.client import MilvusSettings
from citeqa.index.milvus.index import MilvusIndex
from citeqa.index.milvus.ingest import build_milvus


def _build(root: Path, embedder, uri: str, **kw) -> MilvusIndex:
    return build_milvus(
        load_corpus([root]), embedder, MilvusSettings(uri=uri), corpus_settings=CorpusSettings(),
        progress=False, log=lambda _: None, **kw,
    )


def test_another_format_version_is_refused_until_full_rebuild(tmp_path, fake_embedder, monkeypatch):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("# 甲\n\n台灣與友邦舉行經貿對話。\n\n雙方簽署投資協定。\n", encoding="utf-8")
    uri = str(tmp_path / "m.db")
    later = manifest.FORMAT_VERSION + 1
    with monkeypatch.context() as m:
        m.setattr(manifest, "FORMAT_VERSION", later)  # as a later citeqa would write it
        index = _build(root, fake_embedder, uri)
        assert index.manifest["format_version"] == later and index.manifest["backend"] == "milvus"
        index.client.close()  # Milvus Lite: one client per file at a time

    want = re.escape(
        f"the index 'citeqa' in Milvus at {uri} has format {later}, this citeqa reads {manifest.FORMAT_VERSION}; "
        f"run `citeqa index --backend milvus --milvus-uri {uri} --full` to rebuild it"
    )
    with pytest.raises(IndexStateError, match=want):
        MilvusIndex.open(MilvusSettings(uri=uri), fake_embedder)
    with pytest.raises(IndexStateError, match=want):  # an incremental ingest would mix the two layouts
        _build(root, fake_embedder, uri)
    rebuilt = _build(root, fake_embedder, uri, full=True)
    assert rebuilt.manifest["format_version"] == manifest.FORMAT_VERSION
    rebuilt.client.close()
    assert MilvusIndex.open(MilvusSettings(uri=uri), fake_embedder).passage_count == 2
