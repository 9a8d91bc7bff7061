"""The Milvus backend (the ``[milvus]`` extra): passages, vectors and BM25 in Milvus collections."""
