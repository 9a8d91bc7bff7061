"""``build_index``: embed and tokenize a corpus into a new generation of a local index directory.

Incremental: a file whose bytes, passages and sentences are those of the live generation keeps its
stored passage and sentence vectors (copied by row range); only added and changed files are
embedded. The result equals a fresh build: same passages in the same order, same vectors, same
BM25 tokens (always recomputed: the dictionary of quoted terms spans every file).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.corpus import CorpusSettings, LoadedCorpus
from citeqa.embedding import Embedder
from citeqa.errors import IndexStateError
from citeqa.files import log_to_stderr
from citeqa.index.local.bm25 import BM25
from citeqa.index.local.dense import build_dense
from citeqa.index.local.directory import DirState, inspect, writer
from citeqa.index.local.index import LocalIndex
from citeqa.index.local.store import IndexData, read_generation, write_generation
from citeqa.index.manifest import header, model_mismatch, source_record
from citeqa.index.plan import UpdatePlan, plan_update
from citeqa.index.request import BuildRequest
from citeqa.settings import IndexKind
from citeqa.text import Tokenizer, quoted_terms, sentence_spans


def build_index(
    corpus: LoadedCorpus,
    embedder: Embedder,
    index_dir: Path,
    *,
    corpus_settings: CorpusSettings,
    request: BuildRequest | None = None,
    kind: str = IndexKind.FLAT,
    progress: bool = True,
    incremental: bool = True,
    log: Callable[[str], None] = log_to_stderr,
    wait: bool = False,
) -> LocalIndex:
    """Write ``corpus`` to ``index_dir`` atomically as a new generation and return it loaded.

    The directory's write lock is held from reading the live generation to switching to the new
    one, so a concurrent build cannot plan from a generation that is about to disappear: without
    ``wait`` it fails at once (IndexStateError), with it it waits its turn. ``request`` (what was
    asked to be indexed) is recorded so ``citeqa index --index DIR`` can rebuild the same thing.
    Another model or other chunking settings make it a full rebuild, and the log says so.
    """
    t0 = time.perf_counter()
    with writer(index_dir, wait=wait, log=log):
        previous = _previous(index_dir, embedder, corpus_settings, log) if incremental else None
        if not incremental:
            log("full rebuild: every file is embedded again")
        vectors = _vectors(corpus, embedder, previous, progress, log)
        t1 = time.perf_counter()
        tokenizer = Tokenizer(quoted_terms(p.text for p in corpus.passages))
        tokens = tuple(tuple(tokenizer(p.embed_text)) for p in corpus.passages)
        dense = build_dense(vectors.passages, kind)
        manifest = {
            **header(embedder, corpus_settings.fingerprint(), request or BuildRequest(), corpus.passages),
            "index_kind": str(kind),
            "sources": {
                src: source_record(corpus.paths.get(src), digest, rows=[r.start, r.stop])
                for src, digest in corpus.sha256.items()
                for r in [vectors.rows[src]]
            },
            "user_words": list(tokenizer.user_words),
            "embedded": {"passages": vectors.embedded, "files": len(vectors.plan.embed)},
            "timings_s": {"embed": round(t1 - t0, 3), "total": round(time.perf_counter() - t0, 3)},
        }
        data = IndexData(
            manifest, corpus.passages, vectors.passages, dense, tokens, vectors.sentences, vectors.sentence_vectors
        )
        gen = write_generation(index_dir, data)
    skipped = f"; {len(corpus.skipped)} file(s) skipped" if corpus.skipped else ""
    log(f"indexed {len(corpus.passages)} passages from {len(corpus.sha256)} document(s) into {gen}{skipped}")
    bm25 = BM25([list(t) for t in tokens])
    return LocalIndex(
        index_dir, manifest, corpus.passages, dense, bm25, tokenizer, vectors.sentences, vectors.sentence_vectors
    )


@dataclass(frozen=True)
class _Vectors:
    """A corpus's passage and sentence vectors, reused or embedded, and the plan that decided which."""

    plan: UpdatePlan
    rows: dict[str, range]  # each source's passage rows (a source's passages are contiguous)
    passages: np.ndarray
    sentences: np.ndarray  # (n × 3) int32: passage row, start, end
    sentence_vectors: np.ndarray
    embedded: int  # passages embedded now


def _vectors(
    corpus: LoadedCorpus, embedder: Embedder, previous: IndexData | None, progress: bool, log: Callable[[str], None]
) -> _Vectors:
    passages = corpus.passages
    rows: dict[str, range] = {}
    for row, p in enumerate(passages):
        rows[p.source] = range(rows[p.source].start if p.source in rows else row, row + 1)
    sentences = np.array(
        [(row, s, e) for row, p in enumerate(passages) for s, e in sentence_spans(p.text)], dtype=np.int32
    ).reshape(-1, 3)
    recorded = previous.manifest.get("sources", {}) if previous is not None else None
    plan = plan_update(
        list(rows), recorded, lambda src, info: previous is not None and _same(corpus, src, rows[src], previous, info)
    )
    for line in plan.describe():
        log(line)
    vectors = np.zeros((len(passages), embedder.dim), dtype=np.float32)
    sentence_vectors = np.zeros((len(sentences), embedder.dim), dtype=np.float32)
    if previous is not None:
        for src in plan.unchanged:
            new, old = rows[src], range(*previous.manifest["sources"][src]["rows"])
            vectors[new.start : new.stop] = previous.vectors[old.start : old.stop]
            sentence_vectors[_sentence_range(sentences, new)] = previous.sentence_vectors[
                _sentence_range(previous.sentences, old)
            ]
    reused = frozenset(plan.unchanged)
    todo = [row for row, p in enumerate(passages) if p.source not in reused]
    if todo:
        log(f"embedding {len(todo)} passages with {embedder.name} …")
        vectors[todo] = embedder.encode_passages([passages[r].embed_text for r in todo], progress=progress)
        # Sentence vectors let the answerer pick the quoted sentence without encoding at query time.
        fresh = np.isin(sentences[:, 0], todo)
        log(f"embedding {int(fresh.sum())} sentences for answer extraction …")
        sentence_vectors[fresh] = embedder.encode_passages(
            [passages[r].text[s:e] for r, s, e in sentences[fresh].tolist()], progress=progress
        )
    return _Vectors(plan, rows, vectors, sentences, sentence_vectors, len(todo))


def _same(corpus: LoadedCorpus, src: str, new: range, previous: IndexData, info: dict[str, Any]) -> bool:
    """A recorded file has the bytes, passages and sentence spans it yields now: its vectors still fit."""
    rows = info.get("rows")
    if info.get("sha256") != corpus.sha256.get(src) or not (isinstance(rows, list) and len(rows) == 2):
        return False
    old = range(*rows)
    if len(new) != len(old) or old.stop > len(previous.passages):
        return False
    if tuple(corpus.passages[new.start : new.stop]) != previous.passages[old.start : old.stop]:
        return False
    spans = [(s, e) for p in corpus.passages[new.start : new.stop] for s, e in sentence_spans(p.text)]
    stored = previous.sentences[_sentence_range(previous.sentences, old)]
    return [(int(s), int(e)) for _, s, e in stored.tolist()] == spans


def _sentence_range(sentences: np.ndarray, rows: range) -> slice:
    """The sentences of passage ``rows`` (stored sorted by passage row)."""
    col = sentences[:, 0]
    return slice(int(np.searchsorted(col, rows.start, "left")), int(np.searchsorted(col, rows.stop, "left")))


def _previous(
    index_dir: Path, embedder: Embedder, corpus_settings: CorpusSettings, log: Callable[[str], None]
) -> IndexData | None:
    """The live generation if its vectors can be reused; otherwise None, with the reason logged."""
    if inspect(index_dir) is DirState.NEW:
        return None
    try:
        data = read_generation(index_dir)
    except IndexStateError as exc:
        log(f"full rebuild: the previous index cannot be reused ({str(exc).split('; ')[0]})")
        return None
    if model_mismatch(data.manifest, embedder) is not None:
        was = (data.manifest.get("model") or {}).get("name")
        log(f"full rebuild: the model changed (the index was built with {was}, now {embedder.name})")
        return None
    if data.manifest.get("corpus") != corpus_settings.fingerprint():
        log("full rebuild: the chunking settings changed")
        return None
    return data
