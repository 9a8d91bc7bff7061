"""``update_index``: what ``citeqa index`` does, as one library call for either backend.

It decides what to index (``request.build_request``: the paths given, else the paths the index
recorded, else — only for a new index — the bundled document), checks that the target can be
written and is not being written by another process *before* loading the model, then builds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from citeqa.corpus import CorpusSettings, load_corpus
from citeqa.embedding import Embedder, load_embedder
from citeqa.files import log_to_stderr
from citeqa.index.protocol import SearchIndex
from citeqa.index.registry import backend_for
from citeqa.index.request import build_request
from citeqa.settings import Settings


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
    log: Callable[[str], None] = log_to_stderr,
    embedder: Embedder | None = None,
) -> SearchIndex:
    """Build or update the index the settings name; returns it loaded.

    Unchanged files keep their vectors (``full`` embeds everything again). Skipped files are
    logged as ``citeqa: skipped <reason>``. ``embedder`` replaces the model the settings name.
    """
    backend = backend_for(settings, index_dir)
    new, recorded = backend.recorded() if not paths else (False, None)
    request = build_request(paths, include, exclude, new=new, recorded=recorded, where=backend.where)
    if not paths and not new:
        shown = ", ".join(str(p) for p in request.paths) or "the bundled document"
        log(f"citeqa: updating {backend.where} from {shown}")
    backend.prepare()  # before the model is loaded: a second writer fails in a second, not a minute
    corpus = load_corpus(
        list(request.paths) or None, CorpusSettings.of(settings), include=request.include, exclude=request.exclude
    )
    for s in corpus.skipped:
        log(f"citeqa: skipped {s.reason}")
    embedder = embedder or embedder_for(settings, progress=progress)
    return backend.build(corpus, embedder, request, full=full, progress=progress, log=log)
