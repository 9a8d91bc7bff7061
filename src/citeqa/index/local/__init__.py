"""The local backend: FAISS and BM25 files in a directory of generations switched atomically."""
