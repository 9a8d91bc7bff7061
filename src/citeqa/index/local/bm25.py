"""Okapi BM25 over pre-tokenized passages (scores match rank-bm25's BM25Okapi)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BM25Params:
    """k1 saturates term frequency, b normalises by length; epsilon floors negative idf like rank-bm25."""

    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25


class BM25:
    """Inverted-index BM25. ``scores(tokens)`` returns one score per document."""

    def __init__(self, corpus_tokens: list[list[str]], params: BM25Params | None = None) -> None:
        self.params = params or BM25Params()
        self.n_docs = len(corpus_tokens)
        self.doc_len = np.array([len(d) for d in corpus_tokens], dtype=np.float32)
        self.avgdl = float(self.doc_len.mean()) if self.n_docs else 0.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(corpus_tokens):
            for term, tf in Counter(doc).items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        self._postings = {
            t: (np.array(i, dtype=np.int64), np.array(f, dtype=np.float32)) for t, (i, f) in postings.items()
        }
        self.idf = self._idf({t: len(ids) for t, (ids, _) in postings.items()})
        k1, b = self.params.k1, self.params.b
        self._norm = k1 * (1 - b + b * self.doc_len / self.avgdl) if self.avgdl else self.doc_len

    def _idf(self, df: dict[str, int]) -> dict[str, float]:
        n = self.n_docs
        idf = {t: math.log(n - d + 0.5) - math.log(d + 0.5) for t, d in df.items()}
        if not idf:
            return idf
        floor = self.params.epsilon * (sum(idf.values()) / len(idf))
        return {t: (v if v >= 0 else floor) for t, v in idf.items()}

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every document for the query (repeated query terms count again)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        k1 = self.params.k1
        for term in query_tokens:
            hit = self._postings.get(term)
            if hit is None:
                continue
            ids, tf = hit
            out[ids] += self.idf[term] * tf * (k1 + 1) / (tf + self._norm[ids])
        return out

    def top(self, query_tokens: list[str], k: int, rows: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best (doc index, score) pairs with a positive score, best first (among ``rows`` if given)."""
        s = self.scores(query_tokens)
        if rows is not None:
            kept = np.zeros_like(s)
            kept[rows] = s[rows]
            s = kept
        k = min(k, self.n_docs)
        if k <= 0:
            return []
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(int(i), float(s[i])) for i in idx if s[i] > 0]
