"""The index format version and the manifest header, defined once in ``index/manifest.py``.

An index written in another format is refused on open with the command that rebuilds it, and the
next ``citeqa index`` rebuilds it in full. Milvus's refusal is in tests/integration/test_milvus_format.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citeqa.corpus import CorpusSettings, load_corpus
from citeqa.errors import IndexStateError
from citeqa.index import build_index, manifest, open_index
from citeqa.index.request import BuildRequest, recorded_request


def _docs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.md").write_text("# 甲\n\n台灣與友邦舉行經貿對話。\n\n雙方簽署投資協定。\n", encoding="utf-8")
    (root / "b.txt").write_text("一、文化\n\n台灣舉辦國際書展，邀請多國出版社參加。\n", encoding="utf-8")
    return root


def _build(root: Path, embedder, index_dir: Path, log=lambda _: None):
    return build_index(
        load_corpus([root]), embedder, index_dir, corpus_settings=CorpusSettings(),
        request=BuildRequest((root,)), progress=False, log=log,
    )


def _live_manifest(index_dir: Path) -> dict:
    gen = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    return json.loads((index_dir / gen / "manifest.json").read_text(encoding="utf-8"))


def test_an_index_of_another_format_is_refused_then_rebuilt(tmp_path, fake_embedder, monkeypatch):
    root, index_dir = _docs(tmp_path / "docs"), tmp_path / "idx"
    with monkeypatch.context() as m:
        m.setattr(manifest, "FORMAT_VERSION", manifest.FORMAT_VERSION + 1)  # as a later citeqa would write it
        _build(root, fake_embedder, index_dir)
    assert _live_manifest(index_dir)["format_version"] == manifest.FORMAT_VERSION + 1

    with pytest.raises(IndexStateError) as caught:
        open_index(index_dir, fake_embedder, corpus_settings=CorpusSettings())
    assert str(caught.value) == (
        f"the index at {index_dir} has format {manifest.FORMAT_VERSION + 1}, this citeqa reads "
        f"{manifest.FORMAT_VERSION}; run `citeqa index --index {index_dir}` to rebuild it from the paths it was "
        "built from"
    )

    logged: list[str] = []
    _build(root, fake_embedder, index_dir, log=logged.append)
    assert any(line.startswith("full rebuild:") and "has format" in line for line in logged), logged
    assert _live_manifest(index_dir)["format_version"] == manifest.FORMAT_VERSION
    assert open_index(index_dir, fake_embedder, corpus_settings=CorpusSettings()).passage_count == 3


def test_the_local_manifest_starts_with_the_common_header(tmp_path, fake_embedder):
    root, index_dir = _docs(tmp_path / "docs"), tmp_path / "idx"
    _build(root, fake_embedder, index_dir)
    written = _live_manifest(index_dir)
    corpus = load_corpus([root])
    common = manifest.header(fake_embedder, CorpusSettings().fingerprint(), BuildRequest((root,)), corpus.passages)
    assert set(common) == {
        "format_version", "created", "model", "corpus", "roots", "include", "exclude", "passages", "outline",
    }
    assert {k: written[k] for k in common if k != "created"} == {k: v for k, v in common.items() if k != "created"}
    assert written["roots"] == [str(root.resolve())] and written["passages"] == 3
    assert recorded_request(written) == BuildRequest((root.resolve(),))  # what `citeqa index` re-reads


def test_check_format_names_both_versions_and_the_fix():
    manifest.check_format({"format_version": manifest.FORMAT_VERSION}, where="x", hint="h")
    for found in (None, 0, manifest.FORMAT_VERSION + 1, str(manifest.FORMAT_VERSION)):
        with pytest.raises(IndexStateError, match=rf"the index at D has format {found}, .* reads \d+; rebuild it$"):
            manifest.check_format({"format_version": found}, where="at D", hint="rebuild it")
