"""Persistence of the local index: a directory of generations switched atomically.

Layout of ``DIR``::

    DIR/CURRENT            name of the live generation (replaced atomically: files.write_atomic)
    DIR/gen-…/manifest.json, passages.jsonl, vectors.npy, dense.faiss, tokens.jsonl,
              sentences.npy, sentence_vectors.npy
    DIR/.lock              held for a whole build, so two builds never interleave (index.directory)

The manifest lists every source with its sha256, path and passage ``rows`` [start, stop): row i of
``vectors.npy`` belongs to line i of ``passages.jsonl``, and a source's passages are contiguous, so
an incremental build copies an unchanged file's vectors (and its sentences' vectors) by range.

A build writes a complete new generation, verifies it, then flips ``CURRENT``: a build killed
half-way leaves the previous generation live, and readers never see a half-written index.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.corpus import Passage
from citeqa.errors import IndexStateError
from citeqa.files import replace_dir, sha256_file, write_atomic
from citeqa.index.local.directory import DirState, inspect, rebuild_hint, remove_stale
from citeqa.index.manifest import check_format

_FILES = ("passages.jsonl", "vectors.npy", "dense.faiss", "tokens.jsonl", "sentences.npy", "sentence_vectors.npy")


@dataclass(frozen=True)
class IndexData:
    """What an index generation holds, in memory."""

    manifest: dict[str, Any]
    passages: tuple[Passage, ...]
    vectors: np.ndarray
    dense: Any
    tokens: tuple[tuple[str, ...], ...]
    sentences: np.ndarray  # (n_sentences × 3) int32: passage row, start, end within the passage text
    sentence_vectors: np.ndarray


def write_generation(index_dir: Path, data: IndexData, log: Callable[[str], None] = lambda _: None) -> Path:
    """Write ``data`` as a new generation of ``index_dir``, make it live, then drop the old ones.

    The caller holds ``directory.writer(index_dir)``. Old generations are deleted only after the
    new one reads back with every file matching its recorded sha256. A failed write (a full disk,
    a read-only file system) removes its partial files, leaves the previous generation live and
    raises IndexStateError.
    """
    gen = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = index_dir / f".tmp-{gen.name}"
    try:
        tmp.mkdir()
        _write_files(tmp, data)
        replace_dir(tmp, gen)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(gen, ignore_errors=True)
        full = exc.errno in (None, errno.ENOSPC, errno.EDQUOT)  # a short write reports no errno
        raise IndexStateError(
            f"cannot write the index at {index_dir}: {exc.strerror or exc}{' (is the disk full?)' if full else ''}; "
            "the partial files were removed and the previous index is unchanged"
        ) from exc
    _verify(gen)  # before CURRENT points at it, so a bad write never goes live
    try:
        write_atomic(index_dir / "CURRENT", gen.name + "\n")
    except OSError as exc:
        shutil.rmtree(gen, ignore_errors=True)
        raise IndexStateError(
            f"cannot switch the index at {index_dir} to the new generation: {exc.strerror or exc}; "
            "the previous index is unchanged"
        ) from exc
    remove_stale(index_dir, keep=gen.name)
    return gen


def _write_files(tmp: Path, data: IndexData) -> None:
    from citeqa.index.local.dense import write_dense

    with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
        for p in data.passages:
            f.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
    np.save(tmp / "vectors.npy", data.vectors.astype(np.float32))
    write_dense(data.dense, tmp / "dense.faiss")
    np.save(tmp / "sentences.npy", data.sentences.astype(np.int32))
    np.save(tmp / "sentence_vectors.npy", data.sentence_vectors.astype(np.float32))
    with open(tmp / "tokens.jsonl", "w", encoding="utf-8") as f:
        for toks in data.tokens:
            f.write(json.dumps(list(toks), ensure_ascii=False) + "\n")
    manifest = dict(data.manifest, files={n: sha256_file(tmp / n) for n in _FILES})
    write_atomic(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))


def _verify(gen: Path) -> None:
    """Every file of a freshly written generation matches the sha256 its manifest records."""
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    for name, digest in manifest["files"].items():
        if sha256_file(gen / name) != digest:
            shutil.rmtree(gen, ignore_errors=True)
            raise IndexStateError(f"the new index file {gen / name} did not read back as written; nothing changed")


def read_generation(index_dir: Path) -> IndexData:
    """Load the live generation, verifying every file against the manifest's sha256."""
    from citeqa.index.local.dense import read_dense

    state = inspect(index_dir)
    if state is DirState.NEW:
        raise IndexStateError(f"no index at {index_dir}; build one with `citeqa index PATH… --index {index_dir}`")
    if state is DirState.BROKEN:
        raise IndexStateError(
            f"the index at {index_dir} has lost its CURRENT pointer (it is kept as it is); {rebuild_hint(index_dir)}"
        )
    gen = index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexStateError(
            f"index at {index_dir} has a missing or damaged manifest; {rebuild_hint(index_dir)}"
        ) from exc
    check_format(manifest, where=f"at {index_dir}", hint=rebuild_hint(index_dir))  # before reading its files
    for name, digest in manifest.get("files", {}).items():
        path = gen / name
        if not path.is_file() or sha256_file(path) != digest:
            raise IndexStateError(f"index file {path} is missing, truncated or damaged; {rebuild_hint(index_dir)}")
    try:
        passages = tuple(_passage(json.loads(line)) for line in _lines(gen / "passages.jsonl"))
        tokens = tuple(tuple(json.loads(line)) for line in _lines(gen / "tokens.jsonl"))
        vectors = np.load(gen / "vectors.npy")
        sentences = np.load(gen / "sentences.npy")
        sentence_vectors = np.load(gen / "sentence_vectors.npy")
        dense = read_dense(gen / "dense.faiss")
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexStateError(f"index at {index_dir} cannot be read ({exc}); {rebuild_hint(index_dir)}") from exc
    n = len(passages)
    if not (len(tokens) == n == len(vectors) == dense.ntotal) or len(sentences) != len(sentence_vectors):
        raise IndexStateError(
            f"index at {index_dir} is inconsistent ({n} passages, {dense.ntotal} vectors); {rebuild_hint(index_dir)}"
        )
    return IndexData(manifest, passages, vectors, dense, tokens, sentences, sentence_vectors)


def _passage(d: dict[str, Any]) -> Passage:
    return Passage(
        id=d["id"], source=d["source"], section=tuple(d["section"]), label=d["label"], text=d["text"],
        start=int(d["start"]), end=int(d["end"]), page=d.get("page"),
    )


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]
