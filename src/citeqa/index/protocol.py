"""The two interfaces every backend implements: a loaded ``SearchIndex`` and the ``IndexBackend`` holding it.

``LocalIndex`` (FAISS + BM25 files) and ``MilvusIndex`` (Milvus collections) are searched through
the same two legs, which the retrievers fuse (``qa.retrieve``), and read by the answerer through the
same few methods. ``LocalBackend`` and ``MilvusBackend`` build, update and open them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from citeqa.corpus import LoadedCorpus, Passage
    from citeqa.embedding import Embedder
    from citeqa.index.request import BuildRequest
    from citeqa.text import Tokenizer


@dataclass(frozen=True)
class SentenceVector:
    """A sentence (or ；-clause) of a passage: its span in the passage text and its embedding."""

    start: int
    end: int
    vector: np.ndarray


Scored = list[tuple["Passage", float]]


class SearchIndex(Protocol):
    """A loaded index: two retrieval legs and what the answerer reads."""

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

    def passages_of(self, source: str) -> list[Passage]:
        """Every passage of ``source`` in document order (the document view); [] for a source not indexed."""
        ...

    def dense_search(self, vector: np.ndarray, k: int, sources: frozenset[str] | None = None) -> Scored:
        """The ``k`` passages nearest to ``vector`` (cosine), best first, of ``sources`` only when given."""
        ...

    def lexical_search(self, query: str, k: int, sources: frozenset[str] | None = None) -> Scored:
        """The ``k`` best BM25 matches of ``query`` (jieba over folded text), best first, positive scores only."""
        ...

    def sentences_for(self, ids: Sequence[str]) -> dict[str, list[SentenceVector]]:
        """Start, end and vector of every sentence of the passages ``ids``, in text order."""
        ...

    def idf_for(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of the ``terms`` the corpus uses (terms it never uses are left out)."""
        ...


class IndexBackend(Protocol):
    """Where an index lives: it says what it holds, builds or updates it, and opens it."""

    @property
    def where(self) -> str:
        """The index's address for messages: a directory, or "Milvus at URI (collection NAME)"."""
        ...

    def recorded(self) -> tuple[bool, dict[str, Any] | None]:
        """(whether nothing is there yet, the manifest of what is there if one can be read)."""
        ...

    def prepare(self) -> None:
        """Fail before any model is loaded when the index cannot be written now."""
        ...

    def build(
        self, corpus: LoadedCorpus, embedder: Embedder, request: BuildRequest, *, full: bool, progress: bool,
        log: Callable[[str], None],
    ) -> SearchIndex:
        """Index ``corpus``, embedding only added and changed files unless ``full``; returns it loaded."""
        ...

    def open(
        self, embedder: Embedder, *, progress: bool = True, log: Callable[[str], None] | None = None
    ) -> SearchIndex:
        """Load the index; refuse one built with another model or chunking, or that cannot be read."""
        ...
