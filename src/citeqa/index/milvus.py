"""The Milvus backend: passages, vectors and BM25 live in Milvus collections, not in local files.

One ``pymilvus`` client talks to Milvus Lite (a local ``*.db`` file, in-process, one process at
a time: for development and tests) and to a Milvus server or cluster (``http://host:19530``,
shared by any number of ``citeqa serve`` replicas). Three collections per index, named after
``MilvusSettings.collection``:

- ``<name>_passages``: passage id (primary key), citation metadata, the dense vector, and the
  folded text analysed by Milvus's jieba analyzer into a BM25 sparse vector (a Milvus Function);
- ``<name>_sentences``: the span and vector of every sentence, for the extractive answerer;
- ``<name>_meta``: the manifest, one row per source file (sha256, passage digest), and the idf
  and quoted-term dictionary of the local tokenizer (the answerer weighs key terms by idf),
  written as a new generation and switched in the manifest so readers never see half of it.

Ingest lives in ``citeqa.index.milvus_ingest``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.corpus import Passage
from citeqa.errors import IndexStateError, InputError
from citeqa.index.base import SentenceVector
from citeqa.index.embed import Embedder
from citeqa.index.tokenize import STOPWORDS, Tokenizer, fold

FORMAT_VERSION = 1
INDEX_TYPES = ("FLAT", "HNSW", "IVF_FLAT")
PASSAGE_FIELDS = ["id", "source", "section", "label", "text", "start", "end", "page"]
# Punctuation is a token to Milvus's jieba analyzer; the local tokenizer drops it, so drop it here too.
_PUNCT = list("，。、；：？！「」『』（）《》〈〉…—·-,.;:?!()[]\"' ")
ANALYZER = {
    "tokenizer": {"type": "jieba", "mode": "search"},
    "filter": [{"type": "stop", "stop_words": sorted(STOPWORDS) + _PUNCT}],
}


@dataclass(frozen=True)
class MilvusSettings:
    """Where the collections live. ``uri``: a ``*.db`` path (Milvus Lite) or ``http(s)://host:port``."""

    uri: str
    token: str = ""
    db_name: str = ""
    collection: str = "citeqa"
    index_type: str = "FLAT"  # FLAT on Lite; HNSW or IVF_FLAT on a cluster
    batch_size: int = 128

    @property
    def remote(self) -> bool:
        """True for a Milvus server or cluster, False for a Milvus Lite file."""
        return self.uri.startswith(("http://", "https://", "tcp://", "unix:"))

    def names(self) -> tuple[str, str, str]:
        """The passages, sentences and meta collection names."""
        return f"{self.collection}_passages", f"{self.collection}_sentences", f"{self.collection}_meta"

    def hint(self) -> str:
        """The command that (re)builds this backend's index, for error messages."""
        return f"run `citeqa index --backend milvus --milvus-uri {self.uri} --full` to rebuild it"


def connect(ms: MilvusSettings) -> Any:
    """A ``MilvusClient`` for ``ms.uri``; bad URIs and unreachable servers become clear errors."""
    if not ms.uri:
        raise InputError(
            "the Milvus backend needs a URI: --milvus-uri or CITEQA_MILVUS_URI "
            "(a file such as ./citeqa.db for Milvus Lite, or http://host:19530 for a server)"
        )
    if ms.index_type not in INDEX_TYPES:
        raise InputError(f"Milvus index type must be one of {', '.join(INDEX_TYPES)}, got {ms.index_type!r}")
    if not all(c.isalnum() or c == "_" for c in ms.collection) or not ms.collection[:1].isalpha():
        raise InputError(
            f"a Milvus collection name is letters, digits and _, starting with a letter: {ms.collection!r}"
        )
    uri = ms.uri
    if not ms.remote:
        path = Path(uri).expanduser()
        if path.suffix != ".db":
            raise InputError(f"a Milvus Lite URI is a file path ending in .db, or http://host:port; got {uri!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        uri = str(path.resolve())
    import logging

    from pymilvus import MilvusClient

    for name in ("pymilvus", "milvus_lite"):  # their errors reach the user as our one-line messages
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return MilvusClient(uri=uri, token=ms.token, db_name=ms.db_name)
    except Exception as exc:  # pymilvus raises many kinds; all mean "cannot use this Milvus"
        if not ms.remote and "Open local milvus failed" in str(exc):
            raise IndexStateError(
                f"cannot open the Milvus Lite file {ms.uri}: another process has it open (Milvus Lite opens a "
                "file from one process at a time: stop the other citeqa process, or use a Milvus server for several)"
            ) from exc
        reason = (str(getattr(exc, "message", "")) or str(exc)).strip().splitlines()[0]  # no server tracebacks
        raise IndexStateError(f"cannot connect to Milvus at {ms.uri}: {reason}") from exc


def read_manifest(client: Any, ms: MilvusSettings) -> dict[str, Any] | None:
    """The manifest row, or None when the collections do not exist yet."""
    meta = ms.names()[2]
    if not client.has_collection(meta):
        return None
    client.load_collection(meta)
    rows = client.query(meta, filter='key == "manifest"', output_fields=["value"])
    return json.loads(rows[0]["value"]) if rows else None


def read_sources(client: Any, ms: MilvusSettings) -> dict[str, dict[str, Any]]:
    """Source name → its recorded sha256, digest, path and passage count."""
    meta = ms.names()[2]
    if not client.has_collection(meta):
        return {}
    rows = query_all(client, meta, 'kind == "source"', ["key", "value"])
    return {r["key"][len("source:") :]: json.loads(r["value"]) for r in rows}


def query_all(client: Any, collection: str, where: str, fields: list[str], batch: int = 4096) -> list[dict[str, Any]]:
    """Every row matching ``where``: a plain query stops at Milvus's result window (16,384 rows)."""
    it = client.query_iterator(collection, batch_size=batch, filter=where, output_fields=fields)
    rows: list[dict[str, Any]] = []
    try:
        while chunk := it.next():
            rows.extend(chunk)
    finally:
        it.close()
    return rows


def model_record(embedder: Embedder) -> dict[str, Any]:
    """How the manifest names the embedding model (compared on open and on update)."""
    return {"name": embedder.name, "dim": embedder.dim, "fingerprint": embedder.fingerprint}


def check_manifest(
    manifest: dict[str, Any], ms: MilvusSettings, embedder: Embedder, corpus: dict[str, Any] | None
) -> None:
    """Refuse an index built with another model or (when ``corpus`` is given) other chunking settings."""
    model = manifest.get("model", {})
    if model != model_record(embedder):
        raise IndexStateError(
            f"the Milvus index {ms.collection!r} was built with model {model.get('name')} "
            f"(dim {model.get('dim')}), but the current model is {embedder.name} (dim {embedder.dim}); {ms.hint()} "
            "or select the model it was built with (--model / CITEQA_EMBED_MODEL)"
        )
    if corpus is not None and manifest.get("corpus") != corpus:
        raise IndexStateError(f"the Milvus index {ms.collection!r} was built with other chunking settings; {ms.hint()}")


def in_list(field: str, values: Iterable[str]) -> str:
    """A Milvus filter ``field in [...]`` with the values quoted as JSON strings."""
    return f"{field} in {json.dumps(list(values), ensure_ascii=False)}"


class MilvusIndex:
    """A loaded Milvus-backed index. Holds no passages in memory; thread-safe like the client."""

    backend = "milvus"

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
        check_manifest(manifest, ms, embedder, corpus)
        missing = [n for n in ms.names() if not client.has_collection(n)]
        if missing:
            raise IndexStateError(f"Milvus at {ms.uri} lacks the collection(s) {', '.join(missing)}; {ms.hint()}")
        for name in ms.names():
            client.load_collection(name)
        return cls(client, ms, manifest, read_sources(client, ms))

    # -- what the answerer needs (citeqa.index.base.SearchIndex) --

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

    def vectors_for(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each passage in ``ids``."""
        rows = self.client.query(self.passages_name, filter=in_list("id", ids), output_fields=["id", "vector"])
        return {r["id"]: _vec(r["vector"]) for r in rows}

    # -- retrieval (citeqa.qa.retrieve wraps these) --

    def dense_search(
        self, vec: np.ndarray, k: int, sources: Iterable[str] | None = None
    ) -> list[tuple[Passage, float]]:
        """The ``k`` passages nearest to ``vec`` (inner product = cosine), best first."""
        return self._search(_list(vec), "vector", "IP", k, sources)

    def bm25_search(self, query: str, k: int, sources: Iterable[str] | None = None) -> list[tuple[Passage, float]]:
        """The ``k`` best BM25 matches of the folded query, scored by Milvus's jieba analyzer and BM25."""
        # Milvus Lite reports BM25 as a negative distance; a server reports the positive score.
        return [(p, abs(d)) for p, d in self._search(fold(query), "sparse", "BM25", k, sources)]

    def _search(
        self, data: Any, field: str, metric: str, k: int, sources: Iterable[str] | None
    ) -> list[tuple[Passage, float]]:
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

    def hybrid_search(
        self,
        vec: np.ndarray,
        query: str,
        k: int,
        *,
        weights: tuple[float, float],
        rrf_k: int,
        depth: int,
        sources: Iterable[str] | None = None,
    ) -> list[tuple[Passage, float]]:
        """Milvus's own ``hybrid_search``: reciprocal-rank fusion of the dense and BM25 requests.

        Milvus's RRF ranker has no per-leg weights, so a weight ratio such as 1.5 : 1 is applied
        by sending each request in proportion (3 dense : 2 BM25): Σ over copies of 1/(k + rank)
        is then exactly w/(k + rank) up to a common factor, so the ranking is weighted RRF.
        """
        from pymilvus import AnnSearchRequest, RRFRanker

        n_dense, n_bm25 = repeat_counts(*weights)
        where = _where(sources)
        dense = AnnSearchRequest([_list(vec)], "vector", {"metric_type": "IP"}, depth, expr=where)
        lexical = AnnSearchRequest([fold(query)], "sparse", {"metric_type": "BM25"}, depth, expr=where)
        res = self.client.hybrid_search(
            self.passages_name,
            [dense] * n_dense + [lexical] * n_bm25,
            RRFRanker(rrf_k),
            limit=k,
            output_fields=PASSAGE_FIELDS,
        )
        scale = n_dense / weights[0] if weights[0] else n_bm25 / weights[1]
        return [(_passage(r), float(r["distance"]) / scale) for r in res[0]]


def repeat_counts(dense_weight: float, bm25_weight: float, max_copies: int = 6) -> tuple[int, int]:
    """Small whole numbers in the ratio of the two weights: (1.5, 1.0) → (3, 2); (1, 1) → (1, 1)."""
    if dense_weight < 0 or bm25_weight < 0 or dense_weight + bm25_weight <= 0:
        raise InputError(f"hybrid weights must be ≥ 0 and not both 0, got {dense_weight} and {bm25_weight}")
    if dense_weight == 0:
        return 0, 1
    if bm25_weight == 0:
        return 1, 0
    ratio = dense_weight / bm25_weight
    # The closest ratio of whole numbers up to max_copies (fewest requests on ties): 10 : 1 → 6 : 1.
    pairs = [(a, b) for a in range(1, max_copies + 1) for b in range(1, max_copies + 1)]
    return min(pairs, key=lambda ab: (abs(ab[0] / ab[1] - ratio), ab[0] + ab[1]))


def _where(sources: Iterable[str] | None) -> str:
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
