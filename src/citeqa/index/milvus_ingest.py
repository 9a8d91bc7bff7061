"""Ingest into the Milvus backend: batched, idempotent upserts, incremental by file like the local index.

Order of writes, so that an interrupted run is repaired by the next one: a changed file's old
rows are deleted and its new rows inserted before its ``source`` row records the new sha256;
the term statistics go in as a new generation that the manifest then switches to. Readers may
see a file half replaced while an ingest runs; never a manifest pointing at missing terms.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from citeqa.corpus import CorpusSettings, LoadedCorpus, Passage, bundled_corpus_path
from citeqa.corpus.chunk import sentence_spans
from citeqa.errors import IndexStateError, InputError
from citeqa.index.bm25 import BM25
from citeqa.index.build import UpdatePlan, corpus_fingerprint
from citeqa.index.embed import Embedder
from citeqa.index.milvus import (
    ANALYZER,
    FORMAT_VERSION,
    MilvusIndex,
    MilvusSettings,
    check_manifest,
    connect,
    in_list,
    model_record,
    read_manifest,
    read_sources,
)
from citeqa.index.tokenize import Tokenizer, fold, quoted_terms

_MAX_TEXT_BYTES = 65_535  # Milvus VARCHAR limit
_MAX_KEY = 1024


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_milvus(
    corpus: LoadedCorpus,
    embedder: Embedder,
    ms: MilvusSettings,
    *,
    corpus_settings: CorpusSettings,
    source_paths: dict[str, Path] | None = None,
    roots: list[Path] | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    full: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = _stderr,
) -> MilvusIndex:
    """Index ``corpus`` into Milvus: only added and changed files are embedded, removed ones deleted.

    An existing index built with another model or chunking is refused unless ``full``, which
    drops the collections and rebuilds them.
    """
    t0 = time.perf_counter()
    client = connect(ms)
    fingerprint = corpus_fingerprint(corpus_settings)
    existing = [n for n in ms.names() if client.has_collection(n)]
    if existing and full:
        log(f"full rebuild: dropping {', '.join(existing)}")
        for name in existing:
            client.drop_collection(name)
    elif existing:
        _refuse_mismatch(client, ms, embedder, fingerprint)
    _create_collections(client, ms, embedder.dim)
    for name in ms.names():  # a new process finds existing collections released; deletes need them loaded
        client.load_collection(name)

    groups = _by_source(corpus.passages)
    digests = {src: _digest(ps) for src, ps in groups.items()}
    old = read_sources(client, ms)
    added = tuple(s for s in groups if s not in old)
    changed = tuple(
        s
        for s in groups
        if s in old and (old[s].get("sha256") != corpus.sha256.get(s) or old[s].get("digest") != digests[s])
    )
    unchanged = tuple(s for s in groups if s in old and s not in changed)
    removed = tuple(s for s in old if s not in groups)
    for line in UpdatePlan({}, added, changed, unchanged, removed, full=not old).describe():
        log(line)
    for src in removed:
        _delete_source(client, ms, src)
        client.delete(ms.names()[2], filter=in_list("key", [f"source:{src}"]))

    records = _source_records(corpus, source_paths or {}, groups, digests)
    todo = [src for src in groups if src in added or src in changed]
    n_todo = sum(len(groups[s]) for s in todo)
    if todo:
        log(f"embedding {n_todo} passages and their sentences with {embedder.name} into Milvus at {ms.uri} …")
        _ingest(client, ms, embedder, groups, todo, records, progress=progress)
    t1 = time.perf_counter()

    manifest = read_manifest(client, ms)
    if todo or removed or manifest is None:
        manifest = _write_terms_and_manifest(
            client, ms, corpus, embedder, fingerprint, manifest, roots, include, exclude
        )
    if todo or removed:
        for name in ms.names():  # seal what was written: Milvus indexes sealed segments only (Lite: ~30× faster)
            client.flush(name)
    log(
        f"indexed {len(corpus.passages)} passages from {len(groups)} document(s) into Milvus "
        f"collection {ms.collection!r} ({n_todo} embedded in {t1 - t0:.1f} s)"
    )
    return MilvusIndex(client, ms, manifest, read_sources(client, ms))


def _refuse_mismatch(client: Any, ms: MilvusSettings, embedder: Embedder, fingerprint: dict[str, Any]) -> None:
    manifest = read_manifest(client, ms)
    passages = ms.names()[0]
    if manifest is None:  # an interrupted first build: only the vector width can be checked
        fields = client.describe_collection(passages)["fields"] if client.has_collection(passages) else []
        dims = [f.get("params", {}).get("dim") for f in fields if f.get("name") == "vector"]
        if dims and int(dims[0]) != embedder.dim:
            raise IndexStateError(
                f"the Milvus collection {passages} holds {dims[0]}-dimensional vectors but {embedder.name} makes "
                f"{embedder.dim}; {ms.hint()}"
            )
        return
    check_manifest(manifest, ms, embedder, fingerprint)


def _create_collections(client: Any, ms: MilvusSettings, dim: int) -> None:
    from pymilvus import DataType, Function, FunctionType

    passages, sentences, meta = ms.names()
    vector_index = {"FLAT": {}, "HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}}
    if not client.has_collection(passages):
        s = client.create_schema(auto_id=False)
        s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=4096)
        s.add_field("source", DataType.VARCHAR, max_length=4096)
        s.add_field("section", DataType.VARCHAR, max_length=_MAX_TEXT_BYTES)
        s.add_field("label", DataType.VARCHAR, max_length=4096)
        s.add_field("text", DataType.VARCHAR, max_length=_MAX_TEXT_BYTES)
        s.add_field(
            "lexical", DataType.VARCHAR, max_length=_MAX_TEXT_BYTES, enable_analyzer=True, analyzer_params=ANALYZER
        )
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        for name in ("start", "end", "page"):
            s.add_field(name, DataType.INT64)
        s.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["lexical"],
                output_field_names=["sparse"],
            )
        )
        ip = client.prepare_index_params()
        ip.add_index(
            field_name="vector", index_type=ms.index_type, metric_type="IP", params=vector_index[ms.index_type]
        )
        ip.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        ip.add_index(field_name="source", index_type="INVERTED")  # source filters and per-file deletes
        client.create_collection(passages, schema=s, index_params=ip)
    if not client.has_collection(sentences):
        s = client.create_schema(auto_id=False)
        s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=4200)
        s.add_field("passage_id", DataType.VARCHAR, max_length=4096)
        s.add_field("source", DataType.VARCHAR, max_length=4096)
        s.add_field("start", DataType.INT64)
        s.add_field("end", DataType.INT64)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        ip = client.prepare_index_params()
        ip.add_index(field_name="vector", index_type="FLAT", metric_type="IP")  # fetched by id, never searched
        ip.add_index(field_name="passage_id", index_type="INVERTED")  # the answerer fetches by passage id
        ip.add_index(field_name="source", index_type="INVERTED")
        client.create_collection(sentences, schema=s, index_params=ip)
    if not client.has_collection(meta):
        s = client.create_schema(auto_id=False)
        s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=_MAX_KEY + 64)
        s.add_field("kind", DataType.VARCHAR, max_length=16)  # manifest | source | term | word
        s.add_field("value", DataType.VARCHAR, max_length=_MAX_TEXT_BYTES)
        s.add_field("num", DataType.DOUBLE)
        s.add_field("gen", DataType.INT64)
        s.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        ip = client.prepare_index_params()
        ip.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
        ip.add_index(field_name="kind", index_type="INVERTED")
        client.create_collection(meta, schema=s, index_params=ip)


def _ingest(
    client: Any,
    ms: MilvusSettings,
    embedder: Embedder,
    groups: dict[str, list[Passage]],
    todo: list[str],
    records: dict[str, dict[str, Any]],
    *,
    progress: bool,
) -> None:
    """Embed and insert the passages of ``todo`` in batches; record each file once all of it is in."""
    from tqdm import tqdm

    passages_name, sentences_name, meta = ms.names()
    for src in todo:  # rows an interrupted run left behind, or the file's previous version
        _delete_source(client, ms, src)
    queue = [p for src in todo for p in groups[src]]
    left = {src: len(groups[src]) for src in todo}
    bar = tqdm(total=len(queue), unit="passage", desc="embedding", disable=not progress, file=sys.stderr)
    for i in range(0, len(queue), ms.batch_size):
        batch = queue[i : i + ms.batch_size]
        vectors = embedder.encode_passages([p.embed_text for p in batch])
        spans = [(p, n, s, e) for p in batch for n, (s, e) in enumerate(sentence_spans(p.text))]
        svecs: Any = embedder.encode_passages([p.text[s:e] for p, _, s, e in spans]) if spans else []
        client.insert(passages_name, [_passage_row(p, v) for p, v in zip(batch, vectors, strict=True)])
        if spans:
            client.insert(
                sentences_name,
                [
                    {
                        "id": f"{p.id}|{n}",
                        "passage_id": p.id,
                        "source": p.source,
                        "start": s,
                        "end": e,
                        "vector": v.tolist(),
                    }
                    for (p, n, s, e), v in zip(spans, svecs, strict=True)
                ],
            )
        done = []
        for p in batch:
            left[p.source] -= 1
            if left[p.source] == 0:
                done.append(p.source)
        if done:
            client.upsert(
                meta, [_meta_row(f"source:{s}", "source", json.dumps(records[s], ensure_ascii=False)) for s in done]
            )
        bar.update(len(batch))
    bar.close()


def _passage_row(p: Passage, vector: Any) -> dict[str, Any]:
    row = {
        "id": p.id,
        "source": p.source,
        "section": json.dumps(list(p.section), ensure_ascii=False),
        "label": p.label,
        "text": p.text,
        "lexical": fold(p.embed_text),
        "vector": vector.tolist(),
        "start": p.start,
        "end": p.end,
        "page": -1 if p.page is None else p.page,
    }
    for name in ("text", "lexical", "section"):
        if len(row[name].encode("utf-8")) > _MAX_TEXT_BYTES:
            raise InputError(
                f"passage {p.id} is longer than Milvus allows in one field ({_MAX_TEXT_BYTES} bytes); "
                "split long paragraphs with --max-chars"
            )
    return row


def _meta_row(key: str, kind: str, value: str = "", num: float = 0.0, gen: int = 0) -> dict[str, Any]:
    return {"key": key, "kind": kind, "value": value, "num": num, "gen": gen, "unused": [1.0, 0.0]}


def _delete_source(client: Any, ms: MilvusSettings, src: str) -> None:
    passages, sentences, _ = ms.names()
    where = in_list("source", [src])
    client.delete(passages, filter=where)
    client.delete(sentences, filter=where)


def _write_terms_and_manifest(
    client: Any,
    ms: MilvusSettings,
    corpus: LoadedCorpus,
    embedder: Embedder,
    fingerprint: dict[str, Any],
    previous: dict[str, Any] | None,
    roots: list[Path] | None,
    include: Sequence[str],
    exclude: Sequence[str],
) -> dict[str, Any]:
    """Write idf and quoted-term rows as a new generation, switch the manifest to it, drop the old one.

    The statistics are those of the local backend (same tokenizer over the whole corpus), so the
    answerer weighs a question's key terms the same way on either backend.
    """
    meta = ms.names()[2]
    old_gen = int((previous or {}).get("terms_gen") or 0)
    gen = old_gen + 1
    tokenizer = Tokenizer(quoted_terms(p.text for p in corpus.passages))
    idf = BM25([tokenizer(p.embed_text) for p in corpus.passages]).idf
    rows = [_meta_row(f"t{gen}:{t}", "term", num=v, gen=gen) for t, v in idf.items() if len(t) <= _MAX_KEY // 4]
    rows += [_meta_row(f"w{gen}:{w}", "word", value=w, gen=gen) for w in tokenizer.user_words]
    for i in range(0, len(rows), 2000):
        client.upsert(meta, rows[i : i + 2000])
    manifest = {
        "format_version": FORMAT_VERSION,
        "backend": "milvus",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": model_record(embedder),
        "corpus": fingerprint,
        "roots": [str(r.resolve()) for r in roots] if roots else None,
        "include": list(include),
        "exclude": list(exclude),
        "passages": len(corpus.passages),
        "terms_gen": gen,
        # Sentence rows are fetched by key (id|0 … id|max-1), see MilvusIndex.sentences_for.
        "max_sentences": max((len(sentence_spans(p.text)) for p in corpus.passages), default=0),
        "max_idf": max(idf.values(), default=1.0),
    }
    client.upsert(meta, [_meta_row("manifest", "manifest", json.dumps(manifest, ensure_ascii=False))])
    # The previous generation stays for replicas that have not refreshed yet (MilvusIndex.refresh).
    client.delete(meta, filter=f'(kind == "term" or kind == "word") and gen < {gen - 1}')
    return manifest


def _by_source(passages: Sequence[Passage]) -> dict[str, list[Passage]]:
    groups: dict[str, list[Passage]] = {}
    for p in passages:
        groups.setdefault(p.source, []).append(p)
    return groups


def _digest(passages: Sequence[Passage]) -> str:
    """What a file yields (passages and sentence spans): equal digests mean nothing to re-embed."""
    payload = [[p.to_dict(), sentence_spans(p.text)] for p in passages]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()


def _source_records(
    corpus: LoadedCorpus, paths: dict[str, Path], groups: dict[str, list[Passage]], digests: dict[str, str]
) -> dict[str, dict[str, Any]]:
    bundled = bundled_corpus_path().resolve()
    out = {}
    for src, ps in groups.items():
        path = paths.get(src)
        out[src] = {
            "sha256": corpus.sha256.get(src),
            "digest": digests[src],
            "path": str(path.resolve()) if path is not None else None,
            "bundled": path is not None and path.resolve() == bundled,
            "passages": len(ps),
        }
    return out
