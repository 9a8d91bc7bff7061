"""Index stage: embedding, FAISS, BM25 over jieba tokens, persistence; Milvus as another backend."""

from citeqa.index.base import BACKENDS, SearchIndex, SentenceVector
from citeqa.index.build import LocalIndex, build_index, corpus_fingerprint, open_index
from citeqa.index.embed import Embedder, load_embedder

__all__ = [
    "BACKENDS",
    "Embedder",
    "LocalIndex",
    "SearchIndex",
    "SentenceVector",
    "build_index",
    "corpus_fingerprint",
    "load_embedder",
    "open_index",
]
