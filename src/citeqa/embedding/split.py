"""``SplitEmbedder``: one model, two engines: onnxruntime for questions, sentence-transformers for documents.

Why two: a question is one short text that a user waits for, so its engine must start fast and run
lean; documents are embedded in batches at index time, where sentence-transformers (and torch) is the
reference that keeps any model working. Both engines read the same folder and give the same vectors
(cosine ≥ 0.99999 on every eval question, tests/model/test_real_query_engine.py), so an index built
with one is searched with the other. Each engine is loaded on first use:

- ``citeqa ask`` against a built index loads onnxruntime (~0.4 s) and never torch (~7-11 s);
- ``citeqa search --retriever bm25`` loads neither;
- ``citeqa index`` and the first computation of the background bank load sentence-transformers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from citeqa.embedding.ort.graph import read_config
from citeqa.errors import ModelError

if TYPE_CHECKING:
    from citeqa.embedding.embedder import Embedder
    from citeqa.embedding.ort.encoder import OnnxEncoder


class SplitEmbedder:
    """An ``Embedder`` whose questions go through onnxruntime and whose passages go through ``load_documents()``."""

    def __init__(
        self, folder: Path, name: str, fingerprint: str, *, threads: int, load_documents: Callable[[], Embedder]
    ) -> None:
        self.folder = folder
        self.name = name
        self.fingerprint = fingerprint
        self.dim = int(read_config(folder)["hidden_size"])
        self.threads = threads
        self._load_documents = load_documents
        self._queries: OnnxEncoder | None = None
        self._documents: Embedder | None = None
        # Two locks: a question need not wait while torch loads for a document batch.
        self._query_lock = threading.Lock()
        self._document_lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors for questions, with the model's "query" prompt, by onnxruntime."""
        return self.query_engine().encode(texts, "query")

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Normalised vectors for passages, by sentence-transformers (loaded on the first call)."""
        return self.document_engine().encode_passages(texts, progress=progress)

    def query_engine(self) -> OnnxEncoder:
        """The onnxruntime encoder, created on first use (its graph is built once per model folder)."""
        if self._queries is None:
            with self._query_lock:
                if self._queries is None:
                    from citeqa.embedding.ort.encoder import OnnxEncoder

                    self._queries = OnnxEncoder(self.folder, threads=self.threads)
        return self._queries

    def document_engine(self) -> Embedder:
        """The sentence-transformers embedder, loaded on first use."""
        if self._documents is None:
            with self._document_lock:
                if self._documents is None:
                    documents = self._load_documents()
                    if documents.dim != self.dim:
                        dims = f"{documents.dim} dims for passages, {self.dim} for questions"
                        raise ModelError(f"{self.name} gives {dims}")
                    self._documents = documents
        return self._documents

    @property
    def model(self) -> Any:
        """The sentence-transformers model itself (loaded if it is not yet)."""
        return getattr(self.document_engine(), "model", None)

    @property
    def loaded(self) -> dict[str, bool]:
        """Which engines this process has loaded: ``{"queries": True, "documents": False}`` after a question."""
        return {"queries": self._queries is not None, "documents": self._documents is not None}


__all__ = ["SplitEmbedder"]
