"""Index stage: passages embedded and tokenized into a backend (local FAISS + BM25 files, or Milvus).

``update_index`` builds or updates an index; ``registry.backend_for`` opens the backend the settings
name; every backend's loaded index is a ``SearchIndex``.
"""

from citeqa.index.local.build import build_index
from citeqa.index.local.index import LocalIndex, open_index
from citeqa.index.protocol import IndexBackend, SearchIndex, SentenceVector
from citeqa.index.registry import backend_for
from citeqa.index.update import update_index

__all__ = [
    "IndexBackend",
    "LocalIndex",
    "SearchIndex",
    "SentenceVector",
    "backend_for",
    "build_index",
    "open_index",
    "update_index",
]
