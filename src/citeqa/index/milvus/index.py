"""``MilvusIndex``: a loaded Milvus-backed index, its two retrieval legs and what the answerer reads."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from citeqa.corpus import Passage
from citeqa.embedding import Embedder
from citeqa.errors import IndexStateError
from citeqa.index.manifest import check_compatible
from citeqa.index.milvus.client import (
    PASSAGE_FIELDS,
    MilvusSettings,
    connect,
    in_list,
    query_all,
    read_manifest,
    read_sources,
)
from citeqa.index.protocol import Scored, SentenceVector
from citeqa.text import Tokenizer, fold


class MilvusIndex:
    """A loaded Milvus-backed index. Holds no passages in memory; thread-safe like the client."""

    def __init__(
        self,
        client: Any,
        ms: MilvusSettings,
        manifest: dict[str, Any],
        sources: dict[str, Any],
        *,
        refresh_s: float = 30.0,
    ) -> None:
        self.client = client
        self.settings = ms
        self.passages_name, self.sentences_name, self.meta_name = ms.names()
        self.refresh_s = refresh_s
        self._state = self._load({**manifest, "sources": sources})
        self._checked = time.monotonic()

    def _load(self, manifest: dict[str, Any]) -> tuple[dict[str, Any], Tokenizer]:
        where = f'kind == "word" and gen == {int(manifest.get("terms_gen") or 0)}'
        rows = query_all(self.client, self.meta_name, where, ["value"])
        return manifest, Tokenizer(r["value"] for r in rows)

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest with ``sources``, as of the last refresh."""
        return self._state[0]

    @property
    def tokenizer(self) -> Tokenizer:
        """The local tokenizer with the indexed corpus's quoted-term dictionary."""
        return self._state[1]

    def refresh(self, *, force: bool = False) -> bool:
        """Pick up a re-index done by another process (at most every ``refresh_s``); True if it changed.

        Replicas keep serving while ``citeqa index`` runs elsewhere: the ingest keeps the previous
        term generation until the next one, so a replica that has not refreshed yet still finds it.
        """
        now = time.monotonic()
        if not force and now - self._checked < self.refresh_s:
            return False
        self._checked = now
        manifest = read_manifest(self.client, self.settings)
        if manifest is None or manifest.get("terms_gen") == self.manifest.get("terms_gen"):
            return False
        self._state = self._load({**manifest, "sources": read_sources(self.client, self.settings)})
        return True

    @classmethod
    def open(cls, ms: MilvusSettings, embedder: Embedder, *, corpus: dict[str, Any] | None = None) -> MilvusIndex:
        """Open the collections; refuse them if they were built with another model or chunking."""
        from pymilvus.exceptions import MilvusException

        client = connect(ms)
        try:
            return cls._open(client, ms, embedder, corpus)
        except MilvusException as exc:
            raise IndexStateError(
                f"Milvus at {ms.uri} cannot serve the index {ms.collection!r}: {exc}; {ms.hint()}"
            ) from exc

    @classmethod
    def _open(cls, client: Any, ms: MilvusSettings, embedder: Embedder, corpus: dict[str, Any] | None) -> MilvusIndex:
        manifest = read_manifest(client, ms)
        if manifest is None:
            raise IndexStateError(
                f"Milvus at {ms.uri} has no citeqa index named {ms.collection!r}; "
                f"run `citeqa index --backend milvus --milvus-uri {ms.uri}` to build it"
            )
        where = f"{ms.collection!r} in Milvus at {ms.uri}"
        check_compatible(manifest, embedder, corpus, where=where, hint=ms.hint())
        missing = [n for n in ms.names() if not client.has_collection(n)]
        if missing:
            raise IndexStateError(f"Milvus at {ms.uri} lacks the collection(s) {', '.join(missing)}; {ms.hint()}")
        for name in ms.names():
            client.load_collection(name)
        return cls(client, ms, manifest, read_sources(client, ms))

    # -- what the answerer reads --

    @property
    def passage_count(self) -> int:
        """How many passages the index holds (from the manifest, so no collection scan)."""
        return int(self.manifest.get("passages", 0))

    def source_counts(self) -> dict[str, int]:
        """Passages per indexed source."""
        return {s: int(info.get("passages", 0)) for s, info in self.manifest["sources"].items()}

    @property
    def max_idf(self) -> float:
        """The highest idf of any term (stored with the terms)."""
        return float(self.manifest.get("max_idf", 1.0))

    def idf_for(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of the ``terms`` the corpus uses (one query to the meta collection)."""
        self.refresh()
        gen = int(self.manifest.get("terms_gen") or 0)
        keys = [f"t{gen}:{t}" for t in terms]
        if not keys:
            return {}
        rows = self.client.query(self.meta_name, filter=in_list("key", keys), output_fields=["key", "num"])
        prefix = len(f"t{gen}:")
        return {r["key"][prefix:]: float(r["num"]) for r in rows}

    def sentences_for(self, ids: Sequence[str]) -> dict[str, list[SentenceVector]]:
        """Start, end and vector of every sentence of the passages ``ids``, in text order."""
        if not ids:
            return {}
        # Looked up by primary key (passage id|n): a filter on passage_id scans far more slowly.
        most = int(self.manifest.get("max_sentences") or 0)
        where = (
            in_list("id", [f"{pid}|{n}" for pid in ids for n in range(most)]) if most else in_list("passage_id", ids)
        )
        rows = self.client.query(
            self.sentences_name, filter=where, output_fields=["passage_id", "start", "end", "vector"]
        )
        out: dict[str, list[SentenceVector]] = {pid: [] for pid in ids}
        for r in sorted(rows, key=lambda r: (r["passage_id"], r["start"])):
            out[r["passage_id"]].append(SentenceVector(int(r["start"]), int(r["end"]), _vec(r["vector"])))
        return out

    def passages_of(self, source: str) -> list[Passage]:
        """Every passage of ``source`` in document order; Milvus returns rows unordered, so sorted by offset.

        A source's passages never overlap and follow the text, so (start, end) is document order.
        """
        rows = query_all(self.client, self.passages_name, in_list("source", [source]), PASSAGE_FIELDS)
        return sorted((_passage(r) for r in rows), key=lambda p: (p.start, p.end, p.id))

    # -- the two retrieval legs (qa.retrieve fuses them) --

    def dense_search(self, vector: np.ndarray, k: int, sources: frozenset[str] | None = None) -> Scored:
        """The ``k`` passages nearest to ``vector`` (inner product = cosine), best first; Milvus filters by source."""
        return self._search(_list(vector), "vector", "IP", k, sources)

    def lexical_search(self, query: str, k: int, sources: frozenset[str] | None = None) -> Scored:
        """The ``k`` best BM25 matches of the folded query, scored by Milvus's jieba analyzer and BM25."""
        # Milvus Lite reports BM25 as a negative distance; a server reports the positive score.
        return [(p, abs(d)) for p, d in self._search(fold(query), "sparse", "BM25", k, sources)]

    def _search(self, data: Any, field: str, metric: str, k: int, sources: frozenset[str] | None) -> Scored:
        res = self.client.search(
            self.passages_name,
            data=[data],
            anns_field=field,
            limit=k,
            output_fields=PASSAGE_FIELDS,
            search_params={"metric_type": metric},
            filter=_where(sources),
        )
        return [(_passage(r), float(r["distance"])) for r in res[0]]


def _where(sources: frozenset[str] | None) -> str:
    return "" if sources is None else in_list("source", sorted(sources))


def _vec(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


def _list(v: np.ndarray) -> list[float]:
    return np.asarray(v, dtype=np.float32).reshape(-1).tolist()


def _passage(hit: dict[str, Any]) -> Passage:
    e = hit.get("entity", hit)  # search results nest the fields under "entity", beside the primary key
    page = int(e.get("page", -1))
    return Passage(
        id=hit["id"],
        source=e["source"],
        section=tuple(json.loads(e["section"])),
        label=e["label"],
        text=e["text"],
        start=int(e["start"]),
        end=int(e["end"]),
        page=None if page < 0 else page,
    )
