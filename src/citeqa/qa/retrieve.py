"""Retrievers over the two legs of any backend's index, and their fusion.

Every retriever has ``search(query, k, sources=None) -> list[Hit]``, best first; ``sources``
restricts it to those documents (the backend filters: FAISS ID selectors, a Milvus expression).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from citeqa.embedding import Embedder
from citeqa.errors import InputError
from citeqa.index import SearchIndex
from citeqa.qa.types import Hit


class Retriever(Protocol):
    """Anything that turns a query into ranked hits."""

    @property
    def name(self) -> str:
        """Short name: "dense", "bm25" or "hybrid" (read-only, as on the frozen dataclasses)."""
        ...

    def search(self, query: str, k: int, sources: frozenset[str] | None = None) -> list[Hit]:
        """The ``k`` best passages for ``query``, best first (of ``sources`` only, when given)."""
        ...


@dataclass(frozen=True)
class DenseRetriever:
    """Cosine similarity of the query embedding to passage embeddings."""

    index: SearchIndex
    embedder: Embedder
    name: str = "dense"

    def search(self, query: str, k: int, sources: frozenset[str] | None = None) -> list[Hit]:
        """The ``k`` passages whose embeddings are nearest the query's, best first."""
        vec = self.embedder.encode_queries([query])[0]
        return [Hit(p, s) for p, s in self.index.dense_search(vec, k, sources)]


@dataclass(frozen=True)
class BM25Retriever:
    """BM25 over jieba tokens with Traditional/Simplified folded."""

    index: SearchIndex
    name: str = "bm25"

    def search(self, query: str, k: int, sources: frozenset[str] | None = None) -> list[Hit]:
        """The ``k`` passages with the highest BM25 score for the query's tokens, best first."""
        return [Hit(p, s) for p, s in self.index.lexical_search(query, k, sources)]


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

    def search(self, query: str, k: int, sources: frozenset[str] | None = None) -> list[Hit]:
        """The ``k`` passages with the highest fused score; each hit's score is its fused score."""
        depth = max(k, self.depth)
        runs = [(leg.search(query, depth, sources), weight) for leg, weight in self.legs]
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


def make_retrievers(
    index: SearchIndex, embedder: Embedder, *, dense_weight: float, bm25_weight: float, rrf_k: int
) -> dict[str, Retriever]:
    """The dense, BM25 and hybrid retrievers over one index (either backend), by name."""
    dense = DenseRetriever(index, embedder)
    bm25 = BM25Retriever(index)
    hybrid = HybridRetriever(((dense, dense_weight), (bm25, bm25_weight)), rrf_k=rrf_k)
    return {"hybrid": hybrid, "dense": dense, "bm25": bm25}


def matching_sources(pattern: str, sources: Collection[str]) -> frozenset[str]:
    """The indexed sources a glob names; InputError listing some when none does.

    The glob is tried on the source name and on its file name (fnmatch, case-sensitive): ``*.pdf``
    and ``report.pdf`` both match ``sub/report.pdf``.
    """
    found = frozenset(s for s in sources if source_matches(s, pattern))
    if not found:
        names = ", ".join(sorted(sources)[:10]) + (" …" if len(sources) > 10 else "")
        raise InputError(f"no indexed document matches the source glob {pattern!r} (indexed: {names})")
    return found


def source_matches(source: str, pattern: str) -> bool:
    """``fnmatch`` on the source name or its file name: ``source_matches("sub/a.pdf", "*.pdf")`` is True."""
    return fnmatch.fnmatchcase(source, pattern) or fnmatch.fnmatchcase(source.rsplit("/", 1)[-1], pattern)
