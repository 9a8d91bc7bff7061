"""``LocalIndex``: a loaded local index, its two retrieval legs and what the answerer reads; ``open_index``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.corpus import CorpusSettings, Passage
from citeqa.embedding import Embedder
from citeqa.errors import IndexStateError
from citeqa.files import sha256_file
from citeqa.index.local.bm25 import BM25
from citeqa.index.local.dense import search_dense
from citeqa.index.local.directory import rebuild_hint
from citeqa.index.local.store import read_generation
from citeqa.index.manifest import check_compatible, source_path
from citeqa.index.protocol import Scored, SentenceVector
from citeqa.text import Tokenizer


@dataclass(frozen=True)
class LocalIndex:
    """Passages with a FAISS leg and a BM25 leg over the same row order (implements ``SearchIndex``)."""

    path: Path
    manifest: dict[str, Any]
    passages: tuple[Passage, ...]
    dense: Any
    bm25: BM25
    tokenizer: Tokenizer
    sentences: np.ndarray  # passage row, start, end of every sentence/clause
    sentence_vectors: np.ndarray

    @property
    def passage_count(self) -> int:
        """How many passages the index holds."""
        return len(self.passages)

    def source_counts(self) -> dict[str, int]:
        """Passages per indexed source."""
        return dict(Counter(p.source for p in self.passages))

    def passages_of(self, source: str) -> list[Passage]:
        """Every passage of ``source`` in document order: the index stores them in that order."""
        return list(self._by_source.get(source, ()))

    @cached_property
    def _by_source(self) -> dict[str, tuple[Passage, ...]]:
        """Source → its passages, grouped once per loaded index (one pass over the rows)."""
        groups: dict[str, list[Passage]] = {}
        for p in self.passages:
            groups.setdefault(p.source, []).append(p)
        return {s: tuple(ps) for s, ps in groups.items()}

    def dense_search(self, vector: np.ndarray, k: int, sources: frozenset[str] | None = None) -> Scored:
        """The ``k`` passages nearest to ``vector``, best first; FAISS skips rows of other sources."""
        scores, ids = search_dense(self.dense, vector, k, rows=self._rows(sources))
        return [(self.passages[int(i)], float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def lexical_search(self, query: str, k: int, sources: frozenset[str] | None = None) -> Scored:
        """The ``k`` best BM25 matches for ``query``, tokenized as at build time."""
        hits = self.bm25.top(self.tokenizer(query), k, rows=self._rows(sources))
        return [(self.passages[i], s) for i, s in hits]

    def _rows(self, sources: frozenset[str] | None) -> np.ndarray | None:
        if sources is None:
            return None
        return np.fromiter((i for i, p in enumerate(self.passages) if p.source in sources), dtype=np.int64)

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Passage id → row, built once per loaded index (shared by every answerer over it)."""
        return {p.id: i for i, p in enumerate(self.passages)}

    def sentences_for(self, ids: Sequence[str]) -> dict[str, list[SentenceVector]]:
        """Start, end and vector of every sentence of the passages ``ids``, in text order."""
        col = self.sentences[:, 0]
        out: dict[str, list[SentenceVector]] = {}
        for pid in ids:
            row = self.row_of[pid]
            lo, hi = int(np.searchsorted(col, row, "left")), int(np.searchsorted(col, row, "right"))
            out[pid] = [
                SentenceVector(int(self.sentences[i, 1]), int(self.sentences[i, 2]), self.sentence_vectors[i])
                for i in range(lo, hi)
            ]
        return out

    def idf_for(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of the ``terms`` the corpus uses (terms it never uses are left out)."""
        idf = self.bm25.idf
        return {t: idf[t] for t in terms if t in idf}

    @cached_property
    def max_idf(self) -> float:
        """The highest idf of any term: the weight given to a term the corpus never uses."""
        return max(self.bm25.idf.values(), default=1.0)


def open_index(index_dir: Path, embedder: Embedder, *, corpus_settings: CorpusSettings | None = None) -> LocalIndex:
    """Load ``index_dir``; refuse it if it was built with another model or chunking, or its documents changed."""
    data = read_generation(index_dir)
    m = data.manifest
    fingerprint = corpus_settings.fingerprint() if corpus_settings is not None else None
    check_compatible(m, embedder, fingerprint, where=f"at {index_dir}", hint=rebuild_hint(index_dir))
    _check_sources(index_dir, m.get("sources", {}))
    bm25 = BM25([list(t) for t in data.tokens])
    tokenizer = Tokenizer(m.get("user_words", []))
    return LocalIndex(index_dir, m, data.passages, data.dense, bm25, tokenizer, data.sentences, data.sentence_vectors)


def _check_sources(index_dir: Path, sources: dict[str, dict[str, Any]]) -> None:
    """Every indexed file is still there with the bytes it had: otherwise citations would point at other text."""
    for src, info in sources.items():
        path = source_path(info)
        if path is None:
            continue
        if not path.is_file():
            raise IndexStateError(
                f"document {src} ({path}) of the index at {index_dir} is gone; {rebuild_hint(index_dir)}"
            )
        if sha256_file(path) != info.get("sha256"):
            raise IndexStateError(
                f"document {src} has changed since the index at {index_dir} was built; {rebuild_hint(index_dir)}"
            )
