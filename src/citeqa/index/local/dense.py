"""FAISS inner-product indexes over L2-normalised vectors: exact (flat) or approximate (HNSW, IVF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from citeqa.settings import IndexKind


def build_dense(vectors: np.ndarray, kind: str = "flat", *, hnsw_m: int = 32, ivf_lists: int | None = None) -> Any:
    """Index ``vectors`` (n × d, float32, normalised) so that inner product = cosine.

    ``ivf`` needs at least as many vectors as lists; with fewer, it falls back to one list per
    ~39 vectors (FAISS's training minimum) and at least one.
    """
    import faiss

    kind = IndexKind(kind)  # a Settings value: already checked where it entered
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = x.shape
    index: faiss.Index
    if kind is IndexKind.FLAT:
        index = faiss.IndexFlatIP(d)
    elif kind is IndexKind.HNSW:
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    else:
        nlist = ivf_lists or max(1, min(int(4 * np.sqrt(max(n, 1))), n // 39 or 1))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(x)
        index.nprobe = min(nlist, max(8, nlist // 8))  # ~12% of lists: recall ≥ 0.9 on clustered data
    index.add(x)
    return index


def search_dense(
    index: Any, queries: np.ndarray, k: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores, ids), each (n_queries × k); ids are -1 where fewer than k exist.

    ``rows`` restricts the search to those ids (a FAISS ID selector, so no over-fetching), with the
    index's own ``efSearch`` / ``nprobe``.
    """
    import faiss

    faiss_: Any = faiss  # its stubs lack the search-parameter classes
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    k = max(1, min(k, index.ntotal))
    if rows is None:
        return index.search(q, k)
    selector = faiss_.IDSelectorBatch(np.ascontiguousarray(rows, dtype=np.int64))
    if hasattr(index, "hnsw"):
        params = faiss_.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    elif hasattr(index, "nprobe"):
        params = faiss_.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
    else:
        params = faiss_.SearchParameters(sel=selector)
    return index.search(q, k, params=params)


def write_dense(index: Any, path: Path) -> None:
    """Save a FAISS index to ``path`` (FAISS's own binary format)."""
    import faiss

    faiss.write_index(index, str(path))


def read_dense(path: Path) -> Any:
    """Load a FAISS index saved by ``write_dense``."""
    import faiss

    return faiss.read_index(str(path))
