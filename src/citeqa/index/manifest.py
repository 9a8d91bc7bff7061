"""What every index records about itself and checks on open, for both backends, written once.

A manifest names the embedding model (``model_record``), the chunking (``CorpusSettings.fingerprint``),
what was asked to be indexed (paths and globs) and one record per source file (``source_record``).
An index built with another model or other chunking is refused with the command that rebuilds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from citeqa.corpus import bundled_corpus_path
from citeqa.embedding import Embedder
from citeqa.errors import IndexStateError

FORMAT_VERSION = 1


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
    """Refuse an index built with another model or (when ``corpus`` is given) other chunking settings."""
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
