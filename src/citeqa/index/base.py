"""What the retrievers and the answerer need of an index, whichever backend holds it.

``LocalIndex`` (FAISS + BM25 files) and ``MilvusIndex`` (a Milvus collection) both provide it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from citeqa.index.tokenize import Tokenizer

BACKENDS = ("local", "milvus")


@dataclass(frozen=True)
class SentenceVector:
    """A sentence (or ；-clause) of a passage: its span in the passage text and its embedding."""

    start: int
    end: int
    vector: np.ndarray


class SearchIndex(Protocol):
    """The answerer's view of a loaded index."""

    @property
    def manifest(self) -> dict[str, Any]:
        """What the index was built from: model, chunking settings, ``sources`` with their paths."""
        ...

    @property
    def tokenizer(self) -> Tokenizer:
        """The lexical tokenizer the index was built with (same dictionary of quoted terms)."""
        ...

    @property
    def passage_count(self) -> int:
        """How many passages the index holds."""
        ...

    @property
    def max_idf(self) -> float:
        """The highest idf of any term: the weight given to a term the corpus never uses."""
        ...

    def source_counts(self) -> dict[str, int]:
        """Passages per indexed source."""
        ...

    def sentences_for(self, ids: Sequence[str]) -> dict[str, list[SentenceVector]]:
        """Start, end and vector of every sentence of the passages ``ids``, in text order."""
        ...

    def vectors_for(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each passage in ``ids``."""
        ...

    def idf_for(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of the ``terms`` the corpus uses (terms it never uses are left out)."""
        ...
