"""What every index records about itself and checks on open, for both backends, written once.

A manifest starts with the common ``header``: the format version, the embedding model
(``model_record``), the chunking (``CorpusSettings.fingerprint``), what was asked to be indexed
(paths and globs) and what the documents cover; each backend adds its own keys, and one record per
source file (``source_record``). An index of another format, or built with another model or other
chunking, is refused with the command that rebuilds it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from citeqa.corpus import Passage, bundled_corpus_path
from citeqa.corpus.outline import outline_of
from citeqa.embedding import Embedder
from citeqa.errors import IndexStateError
from citeqa.index.request import BuildRequest

FORMAT_VERSION = 1  # bump when either backend's stored layout changes: older indexes are then refused


def header(
    embedder: Embedder, corpus: dict[str, Any], request: BuildRequest, passages: Sequence[Passage]
) -> dict[str, Any]:
    """The keys both backends' manifests start with; ``corpus`` is the ``CorpusSettings.fingerprint()``."""
    return {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": model_record(embedder),
        "corpus": corpus,
        # What was asked, so ``citeqa index`` with no PATH rebuilds the same (``request.recorded_request``).
        "roots": [str(p.resolve()) for p in request.paths] or None,
        "include": list(request.include),
        "exclude": list(request.exclude),
        "passages": len(passages),
        "outline": outline_of(passages),  # what the documents cover, for the chat's replies
    }


def check_format(manifest: dict[str, Any], *, where: str, hint: str) -> None:
    """Refuse an index written in another layout than this citeqa's (``FORMAT_VERSION``)."""
    found = manifest.get("format_version")
    if found != FORMAT_VERSION:
        raise IndexStateError(f"the index {where} has format {found}, this citeqa reads {FORMAT_VERSION}; {hint}")


def model_record(embedder: Embedder) -> dict[str, Any]:
    """How a manifest names the embedding model."""
    return {"name": embedder.name, "dim": embedder.dim, "fingerprint": embedder.fingerprint}


def model_mismatch(manifest: dict[str, Any], embedder: Embedder) -> str | None:
    """Why the index's vectors cannot be compared with this model's, or None when they can."""
    model = manifest.get("model") or {}
    if model == model_record(embedder):
        return None
    return (
        f"was built with model {model.get('name')} (dim {model.get('dim')}, fingerprint {model.get('fingerprint')}), "
        f"but the current model is {embedder.name} (dim {embedder.dim}, fingerprint {embedder.fingerprint})"
    )


def check_compatible(
    manifest: dict[str, Any], embedder: Embedder, corpus: dict[str, Any] | None, *, where: str, hint: str
) -> None:
    """Refuse an index of another format, or built with another model or (when ``corpus`` is given) other chunking.

    Both backends call it when they open an index, and Milvus also before it adds to one.
    """
    check_format(manifest, where=where, hint=hint)
    why = model_mismatch(manifest, embedder)
    if why is not None:
        raise IndexStateError(
            f"the index {where} {why}; {hint} or select the model it was built with (--model / CITEQA_EMBED_MODEL)"
        )
    if corpus is not None and manifest.get("corpus") != corpus:
        raise IndexStateError(f"the index {where} was built with other chunking settings; {hint}")


def source_record(path: Path | None, sha256: str | None, **extra: Any) -> dict[str, Any]:
    """One source file in a manifest: its bytes' sha256 and where it was read from.

    The bundled document is recorded by a flag, not a path: it moves with the installation.
    """
    resolved = path.resolve() if path is not None else None
    bundled = resolved is not None and resolved == bundled_corpus_path().resolve()
    return {"sha256": sha256, "path": str(resolved) if resolved else None, "bundled": bundled, **extra}


def source_path(info: dict[str, Any]) -> Path | None:
    """Where a recorded source is read from now (the bundled document wherever it is installed)."""
    if info.get("bundled"):
        return bundled_corpus_path()
    return Path(info["path"]) if info.get("path") else None
