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
from typing import Any

from citeqa.corpus import CorpusSettings, LoadedCorpus, Passage
from citeqa.embedding import Embedder
from citeqa.errors import IndexStateError, InputError
from citeqa.files import log_to_stderr
from citeqa.index.local.bm25 import BM25
from citeqa.index.manifest import check_compatible, header, source_record
from citeqa.index.milvus.client import MilvusSettings, connect, in_list, read_manifest, read_sources
from citeqa.index.milvus.index import MilvusIndex
from citeqa.index.milvus.schema import MAX_KEY, MAX_TEXT_BYTES, create_collections
from citeqa.index.plan import plan_update
from citeqa.index.request import BuildRequest
from citeqa.text import Tokenizer, fold, quoted_terms, sentence_spans


def build_milvus(
    corpus: LoadedCorpus,
    embedder: Embedder,
    ms: MilvusSettings,
    *,
    corpus_settings: CorpusSettings,
    request: BuildRequest | None = None,
    full: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = log_to_stderr,
) -> MilvusIndex:
    """Index ``corpus`` into Milvus: only added and changed files are embedded, removed ones deleted.

    An existing index built with another model or chunking is refused unless ``full``, which
    drops the collections and rebuilds them. ``request`` (what was asked to be indexed) is recorded.
    """
    t0 = time.perf_counter()
    client = connect(ms)
    fingerprint = corpus_settings.fingerprint()
    _prepare_collections(client, ms, embedder, fingerprint, full=full, log=log)
    groups = _by_source(corpus.passages)
    digests = {src: _digest(ps) for src, ps in groups.items()}
    plan = plan_update(
        list(groups),
        read_sources(client, ms) or None,
        lambda src, info: info.get("sha256") == corpus.sha256.get(src) and info.get("digest") == digests[src],
    )
    for line in plan.describe():
        log(line)
    for src in plan.removed:
        _delete_source(client, ms, src)
        client.delete(ms.names().meta, filter=in_list("key", [f"source:{src}"]))
    records = {
        src: source_record(corpus.paths.get(src), corpus.sha256.get(src), digest=digests[src], passages=len(ps))
        for src, ps in groups.items()
    }
    todo = [src for src in groups if src in set(plan.embed)]
    n_todo = sum(len(groups[s]) for s in todo)
    if todo:
        log(f"embedding {n_todo} passages and their sentences with {embedder.name} into Milvus at {ms.uri} …")
        _ingest(client, ms, embedder, groups, todo, records, progress=progress)
    t1 = time.perf_counter()
    manifest = read_manifest(client, ms)
    if todo or plan.removed or manifest is None:
        manifest = _write_terms_and_manifest(
            client, ms, corpus, embedder, fingerprint, manifest, request or BuildRequest()
        )
    if todo or plan.removed:
        for name in ms.names():  # seal what was written: Milvus indexes sealed segments only (Lite: ~30× faster)
            client.flush(name)
    log(
        f"indexed {len(corpus.passages)} passages from {len(groups)} document(s) into Milvus "
        f"collection {ms.collection!r} ({n_todo} embedded in {t1 - t0:.1f} s)"
    )
    return MilvusIndex(client, ms, manifest, read_sources(client, ms))


def _prepare_collections(
    client: Any, ms: MilvusSettings, embedder: Embedder, fingerprint: dict[str, Any], *, full: bool,
    log: Callable[[str], None],
) -> None:
    """Drop them for a full rebuild, else refuse another model or chunking; create and load them."""
    existing = [n for n in ms.names() if client.has_collection(n)]
    if existing and full:
        log(f"full rebuild: dropping {', '.join(existing)}")
        for name in existing:
            client.drop_collection(name)
    elif existing:
        _refuse_mismatch(client, ms, embedder, fingerprint)
    create_collections(client, ms, embedder.dim)
    for name in ms.names():  # a new process finds existing collections released; deletes need them loaded
        client.load_collection(name)


def _refuse_mismatch(client: Any, ms: MilvusSettings, embedder: Embedder, fingerprint: dict[str, Any]) -> None:
    manifest = read_manifest(client, ms)
    passages = ms.names().passages
    if manifest is None:  # an interrupted first build: only the vector width can be checked
        fields = client.describe_collection(passages)["fields"] if client.has_collection(passages) else []
        dims = [f.get("params", {}).get("dim") for f in fields if f.get("name") == "vector"]
        if dims and int(dims[0]) != embedder.dim:
            raise IndexStateError(
                f"the Milvus collection {passages} holds {dims[0]}-dimensional vectors but {embedder.name} makes "
                f"{embedder.dim}; {ms.hint()}"
            )
        return
    check_compatible(manifest, embedder, fingerprint, where=f"{ms.collection!r} in Milvus at {ms.uri}", hint=ms.hint())


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
        if len(row[name].encode("utf-8")) > MAX_TEXT_BYTES:
            raise InputError(
                f"passage {p.id} is longer than Milvus allows in one field ({MAX_TEXT_BYTES} bytes); "
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
    request: BuildRequest,
) -> dict[str, Any]:
    """Write idf and quoted-term rows as a new generation, switch the manifest to it, drop the old one.

    The statistics are those of the local backend (same tokenizer over the whole corpus), so the
    answerer weighs a question's key terms the same way on either backend.
    """
    meta = ms.names().meta
    old_gen = int((previous or {}).get("terms_gen") or 0)
    gen = old_gen + 1
    tokenizer = Tokenizer(quoted_terms(p.text for p in corpus.passages))
    idf = BM25([tokenizer(p.embed_text) for p in corpus.passages]).idf
    rows = [_meta_row(f"t{gen}:{t}", "term", num=v, gen=gen) for t, v in idf.items() if len(t) <= MAX_KEY // 4]
    rows += [_meta_row(f"w{gen}:{w}", "word", value=w, gen=gen) for w in tokenizer.user_words]
    for i in range(0, len(rows), 2000):
        client.upsert(meta, rows[i : i + 2000])
    manifest = {
        **header(embedder, fingerprint, request, corpus.passages),
        "backend": "milvus",
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
