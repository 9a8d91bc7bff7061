"""Is a question about the indexed documents at all? Signals that hold for any document collection.

Embedding similarity to the documents alone cannot say (multilingual-e5's cosines are compressed:
"今天天氣如何？" scores 0.8 against a foreign-affairs report). Two signals can:

- **background contrast**: a shipped bank of generic text (``data/background.jsonl``: chit-chat,
  general knowledge, everyday questions, requests to an assistant, in zh-Hant, zh-Hans and en;
  written for this purpose, sharing no question with any eval set) embedded as passages, like the
  documents' sentences: a question that some generic text matches better than any document
  sentence is not about the documents. Embedded as questions, the bank also tells conversation turns
  apart: a message nearest the bank's chit-chat, and nearer it than the documents, is one.
- **term support**: the share of the question's content terms that the documents use at all.

The bank's vectors depend on the model, so they are computed once per model and cached.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

from citeqa.embedding import Embedder
from citeqa.files import write_atomic

BANK = files("citeqa.qa").joinpath("data", "background.jsonl")
CHIT_CHAT = "chitchat"


@dataclass(frozen=True)
class Background:
    """The bank embedded as questions and as passages (one row per text), and which rows are chit-chat."""

    as_queries: np.ndarray
    as_passages: np.ndarray
    chat: np.ndarray  # bool per row

    def closest(self, query_vec: np.ndarray) -> tuple[float, float, float]:
        """(best chit-chat question, best other generic question, best generic passage) cosines."""
        # Not ``@``: past a few hundred rows OpenBLAS runs a matrix-vector product on all cores and its
        # threads then spin through the rest of the question, doubling its CPU time (measured).
        sims = np.einsum("ij,j->i", self.as_queries, query_vec)
        passages = np.einsum("ij,j->i", self.as_passages, query_vec)
        return float(sims[self.chat].max()), float(sims[~self.chat].max()), float(passages.max())


def load_background(embedder: Embedder, cache_dir: Path | None = None) -> Background:
    """Embed the bank with ``embedder`` (as questions), or read the vectors cached for this model and bank."""
    raw = BANK.read_bytes()
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    chat = np.array([r["kind"] == CHIT_CHAT for r in rows])
    key = hashlib.sha256(f"{embedder.name}\0{embedder.fingerprint}\0".encode() + raw).hexdigest()[:24]
    path = cache_dir / "background" / f"{key}.npy" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            vectors = np.load(path)
            if vectors.shape == (2, len(rows), embedder.dim):
                return Background(vectors[0], vectors[1], chat)
        except (OSError, ValueError):
            pass  # a damaged cache file is computed again below
    texts = [r["text"] for r in rows]
    vectors = np.stack([embedder.encode_queries(texts), embedder.encode_passages(texts)]).astype(np.float32)
    if path is not None:
        _save(path, vectors)
    return Background(vectors[0], vectors[1], chat)


def _save(path: Path, vectors: np.ndarray) -> None:
    """Write atomically; a cache that cannot be written is only a cost (the vectors are computed again)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda f: np.save(f, vectors))
    except OSError:
        return
