"""Talking to Milvus: settings, the client, the manifest and source rows, filter expressions.

The Milvus backend: passages, vectors and BM25 live in Milvus collections, not in local files.

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

The loaded index is ``index.MilvusIndex``; ingest is ``ingest.build_milvus``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from citeqa.errors import IndexStateError, InputError
from citeqa.text import STOPWORDS

if TYPE_CHECKING:
    from citeqa.settings import Settings

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

    @classmethod
    def of(cls, settings: Settings) -> MilvusSettings:
        """The Milvus backend's share of the settings."""
        return cls(
            uri=settings.milvus_uri, token=settings.milvus_token, db_name=settings.milvus_db,
            collection=settings.milvus_collection, index_type=str(settings.milvus_index_type),
        )

    def names(self) -> Collections:
        """The passages, sentences and meta collection names."""
        return Collections(f"{self.collection}_passages", f"{self.collection}_sentences", f"{self.collection}_meta")


    def hint(self) -> str:
        """The command that (re)builds this backend's index, for error messages."""
        return f"run `citeqa index --backend milvus --milvus-uri {self.uri} --full` to rebuild it"


class Collections(NamedTuple):
    """The names of an index's three collections."""

    passages: str
    sentences: str
    meta: str


def connect(ms: MilvusSettings) -> Any:
    """A ``MilvusClient`` for ``ms.uri``; bad URIs and unreachable servers become clear errors."""
    if not ms.uri:
        raise InputError(
            "the Milvus backend needs a URI: --milvus-uri or CITEQA_MILVUS_URI "
            "(a file such as ./citeqa.db for Milvus Lite, or http://host:19530 for a server)"
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
    meta = ms.names().meta
    if not client.has_collection(meta):
        return None
    client.load_collection(meta)
    rows = client.query(meta, filter='key == "manifest"', output_fields=["value"])
    return json.loads(rows[0]["value"]) if rows else None


def read_sources(client: Any, ms: MilvusSettings) -> dict[str, dict[str, Any]]:
    """Source name → its recorded sha256, digest, path and passage count."""
    meta = ms.names().meta
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


def in_list(field: str, values: Iterable[str]) -> str:
    """A Milvus filter ``field in [...]`` with the values quoted as JSON strings."""
    return f"{field} in {json.dumps(list(values), ensure_ascii=False)}"


