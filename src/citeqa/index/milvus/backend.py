"""``MilvusBackend``: the Milvus collections as an ``IndexBackend``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from citeqa.corpus import CorpusSettings, LoadedCorpus
from citeqa.embedding import Embedder
from citeqa.index.milvus.client import MilvusSettings, connect, read_manifest, read_sources
from citeqa.index.milvus.index import MilvusIndex
from citeqa.index.milvus.ingest import build_milvus
from citeqa.index.request import BuildRequest
from citeqa.settings import Settings


class MilvusBackend:
    """An index in Milvus Lite (a ``*.db`` file) or a Milvus server; never built implicitly."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.milvus = MilvusSettings.of(settings)

    @property
    def where(self) -> str:
        """The server or file and the collection, for messages."""
        return f"Milvus at {self.milvus.uri} (collection {self.milvus.collection!r})"

    def recorded(self) -> tuple[bool, dict[str, Any] | None]:
        """(whether no collection exists yet, the manifest or, after an interrupted first build, its source rows)."""
        client = connect(self.milvus)
        manifest = read_manifest(client, self.milvus)
        sources = read_sources(client, self.milvus)
        if manifest is None and sources:  # an interrupted first build: its source rows name the files
            manifest = {"sources": sources}
        new = manifest is None and not any(client.has_collection(n) for n in self.milvus.names())
        return new, manifest

    def prepare(self) -> None:
        """Reach the server (or open the Lite file) before loading the model."""
        connect(self.milvus)

    def build(
        self, corpus: LoadedCorpus, embedder: Embedder, request: BuildRequest, *, full: bool, progress: bool,
        log: Callable[[str], None],
    ) -> MilvusIndex:
        """Ingest ``corpus`` (see ``build_milvus``)."""
        return build_milvus(
            corpus, embedder, self.milvus, corpus_settings=CorpusSettings.of(self.settings), request=request,
            full=full, progress=progress, log=log,
        )

    def open(
        self, embedder: Embedder, *, progress: bool = True, log: Callable[[str], None] | None = None
    ) -> MilvusIndex:
        """Open the collections; several replicas may start at once, so nothing is built here."""
        return MilvusIndex.open(self.milvus, embedder, corpus=CorpusSettings.of(self.settings).fingerprint())
