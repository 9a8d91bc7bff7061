"""``LocalBackend``: the local index as an ``IndexBackend`` (a directory of generations)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from citeqa.corpus import CorpusSettings, LoadedCorpus, load_corpus
from citeqa.embedding import Embedder
from citeqa.index.local.build import build_index
from citeqa.index.local.directory import DirState, check_writable, ensure_unlocked, inspect, recorded_manifest
from citeqa.index.local.index import LocalIndex, open_index
from citeqa.index.request import BuildRequest
from citeqa.settings import Settings


class LocalBackend:
    """An index directory: FAISS + BM25 files, switched atomically (see ``index.local.store``)."""

    def __init__(self, settings: Settings, index_dir: Path | None = None) -> None:
        self.settings = settings
        self.index_dir = index_dir or settings.index_dir
        self.default = index_dir is None  # the user data dir: the only place filled implicitly
        inspect(self.index_dir)  # a file or a foreign folder is refused before anything is loaded

    @property
    def where(self) -> str:
        """The directory, for messages."""
        return str(self.index_dir)

    def recorded(self) -> tuple[bool, dict[str, Any] | None]:
        """(whether the directory is new, the newest manifest that can still be read)."""
        new = inspect(self.index_dir) is DirState.NEW
        return new, None if new else recorded_manifest(self.index_dir)

    def prepare(self) -> None:
        """The directory can be written and no other ``citeqa index`` is writing it."""
        check_writable(self.index_dir)
        ensure_unlocked(self.index_dir)

    def build(
        self, corpus: LoadedCorpus, embedder: Embedder, request: BuildRequest, *, full: bool, progress: bool,
        log: Callable[[str], None],
    ) -> LocalIndex:
        """Write ``corpus`` as a new generation (see ``build_index``)."""
        return build_index(
            corpus, embedder, self.index_dir, corpus_settings=CorpusSettings.of(self.settings), request=request,
            kind=self.settings.index_kind, progress=progress, incremental=not full, log=log,
        )

    def open(
        self, embedder: Embedder, *, progress: bool = True, log: Callable[[str], None] | None = None
    ) -> LocalIndex:
        """Load the index; the default directory, while new, first gets the bundled corpus.

        Several servers starting at once on a new default directory wait for each other.
        """
        csettings = CorpusSettings.of(self.settings)
        if self.default and inspect(self.index_dir) is DirState.NEW:
            if log is not None:
                log(f"building the default index of the bundled corpus in {self.index_dir} (first run only)")
            build_index(
                load_corpus(None, csettings), embedder, self.index_dir, corpus_settings=csettings,
                kind=self.settings.index_kind, progress=progress, log=log or (lambda _: None), wait=True,
            )
        return open_index(self.index_dir, embedder, corpus_settings=csettings)
