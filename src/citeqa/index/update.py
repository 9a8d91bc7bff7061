"""``update_index``: what ``citeqa index`` does, as one library call for either backend.

It decides what to index (``directory.build_request``: the paths given, else the paths the index
recorded, else — only for a new index — the bundled document), checks that the target can be
written and is not being written by another process *before* loading the model, then builds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citeqa.corpus import ChunkSettings, CorpusSettings, LoadedCorpus, load_corpus
from citeqa.index.directory import DirState, build_request, check_writable, ensure_unlocked, inspect, recorded_manifest
from citeqa.index.embed import Embedder, load_embedder

if TYPE_CHECKING:
    from citeqa.index.milvus import MilvusSettings
    from citeqa.settings import Settings


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def corpus_settings(settings: Settings) -> CorpusSettings:
    """The corpus stage's share of the settings: chunk size and the document size limit."""
    return CorpusSettings(chunk=ChunkSettings(max_chars=settings.max_chars), max_doc_bytes=settings.max_doc_bytes)


def milvus_settings(settings: Settings) -> MilvusSettings:
    """The Milvus backend's share of the settings."""
    from citeqa.index.milvus import MilvusSettings

    return MilvusSettings(
        uri=settings.milvus_uri, token=settings.milvus_token, db_name=settings.milvus_db,
        collection=settings.milvus_collection, index_type=settings.milvus_index_type.upper(),
    )


def embedder_for(settings: Settings, *, progress: bool = True) -> Embedder:
    """Load the embedding model the settings name."""
    return load_embedder(
        settings.embed_model,
        cache_dir=settings.cache_dir,
        allow_download=settings.allow_download,
        progress=progress,
        torch_threads=settings.torch_threads,
    )


def update_index(
    settings: Settings,
    paths: Sequence[Path] = (),
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    index_dir: Path | None = None,
    full: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = _stderr,
    embedder: Embedder | None = None,
) -> Any:
    """Build or update the index the settings name; returns the loaded index.

    Unchanged files keep their vectors (``full`` embeds everything again). Skipped files are
    logged as ``skipped: <reason>``.
    """
    if settings.backend == "milvus":
        return _update_milvus(settings, paths, include, exclude, full, progress, log, embedder)
    from citeqa.index.build import build_index

    target = index_dir or settings.index_dir
    state = inspect(target)
    recorded = recorded_manifest(target) if state is not DirState.NEW and not paths else None
    request = build_request(paths, include, exclude, new=state is DirState.NEW, recorded=recorded, where=str(target))
    if not paths and state is not DirState.NEW:
        log(f"citeqa: updating {target} from {_describe(request.paths)}")
    check_writable(target)
    ensure_unlocked(target)  # before the model is loaded: a second writer fails in a second, not a minute
    corpus = _load(request.paths, request.include, request.exclude, settings, log)
    embedder = embedder or embedder_for(settings, progress=progress)
    return build_index(
        corpus, embedder, target, corpus_settings=corpus_settings(settings), source_paths=corpus.paths,
        roots=list(request.paths) or None, include=request.include, exclude=request.exclude,
        kind=settings.index_kind, progress=progress, incremental=not full, log=log,
    )


def ensure_default_index(
    settings: Settings, embedder: Embedder, *, progress: bool = True, log: Callable[[str], None] = _stderr
) -> None:
    """Build the bundled document into the default index directory when, and only when, it is new.

    Several servers starting at once wait for each other instead of failing.
    """
    from citeqa.index.build import build_index

    target = settings.index_dir
    if inspect(target) is not DirState.NEW:
        return
    log(f"building the default index of the bundled corpus in {target} (first run only)")
    corpus = load_corpus(None, corpus_settings(settings))
    build_index(
        corpus, embedder, target, corpus_settings=corpus_settings(settings), source_paths=corpus.paths,
        kind=settings.index_kind, progress=progress, log=log, wait=True,
    )


def _load(
    paths: Sequence[Path], include: Sequence[str], exclude: Sequence[str], settings: Settings,
    log: Callable[[str], None],
) -> LoadedCorpus:
    corpus = load_corpus(list(paths) or None, corpus_settings(settings), include=include, exclude=exclude)
    for s in corpus.skipped:
        log(f"citeqa: skipped {s.reason}")
    return corpus


def _describe(paths: Sequence[Path]) -> str:
    return ", ".join(str(p) for p in paths) if paths else "the bundled document"


def _update_milvus(
    settings: Settings, paths: Sequence[Path], include: Sequence[str], exclude: Sequence[str], full: bool,
    progress: bool, log: Callable[[str], None], embedder: Embedder | None,
) -> Any:
    from citeqa.index.milvus import connect, read_manifest, read_sources
    from citeqa.index.milvus_ingest import build_milvus

    ms = milvus_settings(settings)
    recorded = None
    new = True
    if not paths:
        client = connect(ms)
        recorded = read_manifest(client, ms)
        sources = read_sources(client, ms)
        new = recorded is None and not sources and not any(client.has_collection(n) for n in ms.names())
        if recorded is None and sources:  # an interrupted first build: its source rows name the files
            recorded = {"sources": sources}
    request = build_request(paths, include, exclude, new=new, recorded=recorded, where=ms.uri)
    if not paths and not new:
        log(f"citeqa: updating {ms.uri} from {_describe(request.paths)}")
    corpus = _load(request.paths, request.include, request.exclude, settings, log)
    embedder = embedder or embedder_for(settings, progress=progress)
    return build_milvus(
        corpus, embedder, ms, corpus_settings=corpus_settings(settings), source_paths=corpus.paths,
        roots=list(request.paths) or None, include=request.include, exclude=request.exclude, full=full,
        progress=progress, log=log,
    )
