"""The peer baseline: rank-bm25 over plain jieba tokens on blank-line paragraphs.

This is the common LangChain-style setup (split on blank lines, tokenize with jieba, BM25Okapi):
no header removal, no paragraph repair, no script folding, no heading context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citeqa.corpus import Document

_BLANK = re.compile(r"\n\s*\n")


@dataclass
class PeerBM25:
    """Ranks raw blank-line paragraphs; ``search`` returns their texts, best first."""

    paragraphs: list[str]

    def __post_init__(self) -> None:
        import jieba
        from rank_bm25 import BM25Okapi

        self._jieba = jieba.Tokenizer()
        self._bm25 = BM25Okapi([self._tok(p) for p in self.paragraphs])

    @classmethod
    def from_documents(cls, docs: list[Document]) -> PeerBM25:
        """Split each document's raw text on blank lines, as the peer setup does, and index the pieces."""
        paras = [p.strip() for d in docs for p in _BLANK.split(d.text.replace("\r\n", "\n")) if p.strip()]
        return cls(paras)

    def _tok(self, text: str) -> list[str]:
        return [w for w in self._jieba.lcut(text) if w.strip()]

    def search(self, query: str, k: int) -> list[str]:
        """The ``k`` paragraphs with the highest BM25Okapi score for ``query``."""
        scores = self._bm25.get_scores(self._tok(query))
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [self.paragraphs[i] for i in order]
