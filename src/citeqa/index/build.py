"""Entry points of the index stage: ``build_index`` and ``open_index``."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.corpus import CorpusSettings, LoadedCorpus, Passage, bundled_corpus_path
from citeqa.corpus.chunk import sentence_spans
from citeqa.errors import IndexStateError
from citeqa.index.bm25 import BM25
from citeqa.index.dense import build_dense, search_dense
from citeqa.index.embed import Embedder
from citeqa.index.store import FORMAT_VERSION, IndexData, read_generation, rebuild_hint, write_generation
from citeqa.index.tokenize import Tokenizer, quoted_terms


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LocalIndex:
    """A loaded index: passages with a FAISS leg and a BM25 leg over the same row order."""

    path: Path
    manifest: dict[str, Any]
    passages: tuple[Passage, ...]
    vectors: np.ndarray
    dense: Any
    bm25: BM25
    tokenizer: Tokenizer
    sentences: np.ndarray  # passage row, start, end of every sentence/clause
    sentence_vectors: np.ndarray

    def dense_top(self, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores, ids = search_dense(self.dense, query_vec, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_top(self, query: str, k: int) -> list[tuple[int, float]]:
        return self.bm25.top(self.tokenizer(query), k)

    def sentence_rows(self, row: int) -> range:
        """Indices into ``sentences`` of the sentences of passage ``row`` (stored in row order)."""
        col = self.sentences[:, 0]
        return range(int(np.searchsorted(col, row, "left")), int(np.searchsorted(col, row, "right")))


def build_index(
    corpus: LoadedCorpus,
    embedder: Embedder,
    index_dir: Path,
    *,
    corpus_settings: CorpusSettings,
    source_paths: dict[str, Path] | None = None,
    roots: list[Path] | None = None,
    kind: str = "flat",
    progress: bool = True,
    log: Callable[[str], None] = _stderr,
) -> LocalIndex:
    """Embed and tokenize ``corpus`` and write it to ``index_dir`` atomically."""
    passages = corpus.passages
    t0 = time.perf_counter()
    log(f"embedding {len(passages)} passages with {embedder.name} …")
    vectors = embedder.encode_passages([p.embed_text for p in passages], progress=progress)
    # Sentence vectors let the answerer pick the quoted sentence without encoding at query time.
    sentences = np.array(
        [(row, s, e) for row, p in enumerate(passages) for s, e in sentence_spans(p.text)], dtype=np.int32
    ).reshape(-1, 3)
    log(f"embedding {len(sentences)} sentences for answer extraction …")
    sentence_vectors = embedder.encode_passages(
        [passages[r].text[s:e] for r, s, e in sentences.tolist()], progress=progress
    )
    t1 = time.perf_counter()
    tokenizer = Tokenizer(quoted_terms(p.text for p in passages))
    tokens = tuple(tuple(tokenizer(p.embed_text)) for p in passages)
    dense = build_dense(vectors, kind)
    bundled = bundled_corpus_path()
    paths = source_paths or {}
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {"name": embedder.name, "dim": embedder.dim, "fingerprint": embedder.fingerprint},
        "index_kind": kind,
        "corpus": corpus_fingerprint(corpus_settings),
        "sources": {
            src: {
                "sha256": digest,
                "path": str(paths[src].resolve()) if src in paths else None,
                "bundled": src in paths and paths[src].resolve() == bundled.resolve(),
            }
            for src, digest in corpus.sha256.items()
        },
        # What was asked to be indexed, so `citeqa index --index DIR` can rebuild the same thing.
        "roots": [str(r.resolve()) for r in roots] if roots else None,
        "user_words": list(tokenizer.user_words),
        "passages": len(passages),
        "timings_s": {"embed": round(t1 - t0, 3), "total": round(time.perf_counter() - t0, 3)},
    }
    gen = write_generation(index_dir, IndexData(manifest, passages, vectors, dense, tokens, sentences, sentence_vectors), log)
    log(f"indexed {len(passages)} passages from {len(corpus.sha256)} document(s) into {gen}")
    bm25 = BM25([list(t) for t in tokens])
    return LocalIndex(index_dir, manifest, passages, vectors, dense, bm25, tokenizer, sentences, sentence_vectors)


def open_index(index_dir: Path, embedder: Embedder, *, corpus_settings: CorpusSettings | None = None) -> LocalIndex:
    """Load ``index_dir`` and refuse it if it was built with another model, settings or corpus."""
    data = read_generation(index_dir)
    m = data.manifest
    model = m.get("model", {})
    if model.get("dim") != embedder.dim or model.get("name") != embedder.name or model.get("fingerprint") != embedder.fingerprint:
        raise IndexStateError(
            f"index at {index_dir} was built with model {model.get('name')} (dim {model.get('dim')}, "
            f"fingerprint {model.get('fingerprint')}), but the current model is {embedder.name} "
            f"(dim {embedder.dim}, fingerprint {embedder.fingerprint}); {rebuild_hint(index_dir)} "
            "or select the model it was built with (--model / CITEQA_EMBED_MODEL)"
        )
    if corpus_settings is not None and m.get("corpus") != corpus_fingerprint(corpus_settings):
        raise IndexStateError(
            f"index at {index_dir} was built with other chunking settings ({m.get('corpus')}); {rebuild_hint(index_dir)}"
        )
    _check_sources(index_dir, m.get("sources", {}))
    tokenizer = Tokenizer(m.get("user_words", []))
    bm25 = BM25([list(t) for t in data.tokens])
    return LocalIndex(
        index_dir, m, data.passages, data.vectors, data.dense, bm25, tokenizer, data.sentences, data.sentence_vectors
    )


def corpus_fingerprint(settings: CorpusSettings) -> dict[str, Any]:
    """The settings that decide which passages a document yields."""
    return {"parse": asdict(settings.parse), "chunk": asdict(settings.chunk)}


def _check_sources(index_dir: Path, sources: dict[str, dict[str, Any]]) -> None:
    bundled = bundled_corpus_path()
    for src, info in sources.items():
        path = bundled if info.get("bundled") else Path(info["path"]) if info.get("path") else None
        if path is None:
            continue
        if not path.is_file():
            raise IndexStateError(f"document {src} ({path}) of the index at {index_dir} is gone; {rebuild_hint(index_dir)}")
        if hashlib.sha256(path.read_bytes()).hexdigest() != info.get("sha256"):
            raise IndexStateError(
                f"document {src} has changed since the index at {index_dir} was built; {rebuild_hint(index_dir)}"
            )
