"""Retrievers: dense (FAISS), lexical (BM25) and their fusion over a local index, or the same three in Milvus.

Every retriever has ``search(query, k) -> list[Hit]``, best first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from citeqa.index import Embedder, LocalIndex
from citeqa.qa.hits import Hit

if TYPE_CHECKING:
    from citeqa.index.milvus import MilvusIndex


class Retriever(Protocol):
    """Anything that turns a query into ranked hits."""

    @property
    def name(self) -> str:
        """Short name: "dense", "bm25" or "hybrid" (read-only, as on the frozen dataclasses)."""
        ...

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` best passages for ``query``, best first."""
        ...


@dataclass(frozen=True)
class DenseRetriever:
    """Cosine similarity of the query embedding to passage embeddings (FAISS inner product)."""

    index: LocalIndex
    embedder: Embedder
    name: str = "dense"

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` passages whose embeddings are nearest the query's, best first."""
        vec = self.embedder.encode_queries([query])
        return [Hit(self.index.passages[i], s) for i, s in self.index.dense_top(vec, k)]


@dataclass(frozen=True)
class BM25Retriever:
    """BM25 over jieba tokens with Traditional/Simplified folded."""

    index: LocalIndex
    name: str = "bm25"

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` passages with the highest BM25 score for the query's tokens, best first."""
        return [Hit(self.index.passages[i], s) for i, s in self.index.bm25_top(query, k)]


@dataclass(frozen=True)
class HybridRetriever:
    """Weighted reciprocal-rank fusion: score = Σ w_leg / (rrf_k + rank_leg).

    Rank-based, so the legs' incomparable score scales (cosine vs BM25) need no calibration.
    Each leg is asked for ``depth`` candidates; a passage a leg did not return counts as ranked
    just below that leg's last hit, so a lexical miss does not sink a strong dense hit.
    """

    legs: tuple[tuple[Retriever, float], ...]
    rrf_k: int = 60
    depth: int = 50
    name: str = "hybrid"

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` passages with the highest fused score; each hit's score is its fused score."""
        depth = max(k, self.depth)
        runs = [(leg.search(query, depth), weight) for leg, weight in self.legs]
        first: dict[str, Hit] = {}
        for hits, _ in runs:
            for hit in hits:
                first.setdefault(hit.id, hit)
        fused = dict.fromkeys(first, 0.0)
        for hits, weight in runs:
            ranks = {h.id: r for r, h in enumerate(hits, start=1)}
            missing = len(hits) + 1
            for pid in fused:
                fused[pid] += weight / (self.rrf_k + ranks.get(pid, missing))
        order = sorted(fused, key=lambda pid: -fused[pid])[:k]
        return [Hit(first[pid].passage, fused[pid]) for pid in order]


@dataclass(frozen=True)
class MilvusRetriever:
    """Dense, BM25 or hybrid retrieval done by Milvus (``hybrid`` uses Milvus's ``hybrid_search``).

    ``sources`` restricts the search to those documents with a Milvus filter expression.
    """

    index: MilvusIndex
    embedder: Embedder
    name: str = "hybrid"
    weights: tuple[float, float] = (1.0, 1.0)  # dense, BM25 (hybrid only)
    rrf_k: int = 60
    depth: int = 50
    sources: frozenset[str] | None = None

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` best passages, best first, scored as the matching local retriever scores them."""
        if self.name == "bm25":
            found = self.index.bm25_search(query, k, self.sources)
        else:
            vec = self.embedder.encode_queries([query])[0]
            if self.name == "dense":
                found = self.index.dense_search(vec, k, self.sources)
            else:
                found = self.index.hybrid_search(
                    vec, query, k, weights=self.weights, rrf_k=self.rrf_k, depth=max(k, self.depth),
                    sources=self.sources,
                )
        return [Hit(p, s) for p, s in found]

    def restrict(self, sources: frozenset[str]) -> MilvusRetriever:
        """The same retriever searching only ``sources``."""
        return replace(self, sources=sources)
