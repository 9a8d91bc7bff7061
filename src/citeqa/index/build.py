"""Entry points of the index stage: ``build_index`` and ``open_index``."""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from citeqa.corpus import CorpusSettings, LoadedCorpus, Passage, bundled_corpus_path
from citeqa.corpus.chunk import sentence_spans
from citeqa.errors import IndexStateError
from citeqa.index.base import SentenceVector
from citeqa.index.bm25 import BM25
from citeqa.index.dense import build_dense, search_dense
from citeqa.index.directory import DirState, inspect, rebuild_hint, writer
from citeqa.index.embed import Embedder
from citeqa.index.store import FORMAT_VERSION, IndexData, read_generation, write_generation
from citeqa.index.tokenize import Tokenizer, quoted_terms


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LocalIndex:
    """A loaded index: passages with a FAISS leg and a BM25 leg over the same row order."""

    backend: ClassVar[str] = "local"

    path: Path
    manifest: dict[str, Any]
    passages: tuple[Passage, ...]
    vectors: np.ndarray
    dense: Any
    bm25: BM25
    tokenizer: Tokenizer
    sentences: np.ndarray  # passage row, start, end of every sentence/clause
    sentence_vectors: np.ndarray

    def dense_top(self, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the ``k`` passages nearest to ``query_vec``, best first."""
        scores, ids = search_dense(self.dense, query_vec, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_top(self, query: str, k: int) -> list[tuple[int, float]]:
        """(row, BM25 score) of the ``k`` best lexical matches for ``query``, tokenized as at build time."""
        return self.bm25.top(self.tokenizer(query), k)

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Passage id → row, built once per loaded index (shared by every answerer over it)."""
        return {p.id: i for i, p in enumerate(self.passages)}

    def sentence_rows(self, row: int) -> range:
        """Indices into ``sentences`` of the sentences of passage ``row`` (stored in row order)."""
        col = self.sentences[:, 0]
        return range(int(np.searchsorted(col, row, "left")), int(np.searchsorted(col, row, "right")))

    # The answerer's view of an index, shared with the Milvus backend (citeqa.index.milvus).
    @property
    def passage_count(self) -> int:
        """How many passages the index holds."""
        return len(self.passages)

    def source_counts(self) -> dict[str, int]:
        """Passages per indexed source."""
        return dict(Counter(p.source for p in self.passages))

    def sentences_for(self, ids: Sequence[str]) -> dict[str, list[SentenceVector]]:
        """Start, end and vector of every sentence of the passages ``ids``, in text order."""
        out: dict[str, list[SentenceVector]] = {}
        for pid in ids:
            rows = self.sentence_rows(self.row_of[pid])
            out[pid] = [
                SentenceVector(int(self.sentences[si, 1]), int(self.sentences[si, 2]), self.sentence_vectors[si])
                for si in rows
            ]
        return out

    def vectors_for(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each passage in ``ids``."""
        return {pid: self.vectors[self.row_of[pid]] for pid in ids}

    def idf_for(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of the ``terms`` the corpus uses (terms it never uses are left out)."""
        idf = self.bm25.idf
        return {t: idf[t] for t in terms if t in idf}

    @cached_property
    def max_idf(self) -> float:
        """The highest idf of any term: the weight given to a term the corpus never uses."""
        return max(self.bm25.idf.values(), default=1.0)


def build_index(
    corpus: LoadedCorpus,
    embedder: Embedder,
    index_dir: Path,
    *,
    corpus_settings: CorpusSettings,
    source_paths: dict[str, Path] | None = None,
    roots: list[Path] | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    kind: str = "flat",
    progress: bool = True,
    incremental: bool = True,
    log: Callable[[str], None] = _stderr,
    wait: bool = False,
) -> LocalIndex:
    """Embed and tokenize ``corpus`` and write it to ``index_dir`` atomically, as a new generation.

    The directory's write lock is held from reading the live generation to switching to the new
    one, so a concurrent build cannot plan from a generation that is about to disappear: without
    ``wait`` it fails at once (IndexStateError), with it it waits its turn.

    With ``incremental`` (the default), files whose sha256 and passages are those of the live
    generation keep their stored passage and sentence vectors; only added and changed files are
    embedded. The result equals a fresh build: same passages in the same order, same vectors,
    same BM25 tokens (always recomputed: the dictionary of quoted terms spans every file). Another
    model or other chunking settings make it a full rebuild, and the log says so.
    """
    with writer(index_dir, wait=wait, log=log):
        return _build_locked(
            corpus, embedder, index_dir, corpus_settings=corpus_settings, source_paths=source_paths, roots=roots,
            include=include, exclude=exclude, kind=kind, progress=progress, incremental=incremental, log=log,
        )


def _build_locked(
    corpus: LoadedCorpus,
    embedder: Embedder,
    index_dir: Path,
    *,
    corpus_settings: CorpusSettings,
    source_paths: dict[str, Path] | None,
    roots: list[Path] | None,
    include: Sequence[str],
    exclude: Sequence[str],
    kind: str,
    progress: bool,
    incremental: bool,
    log: Callable[[str], None],
) -> LocalIndex:
    passages = corpus.passages
    t0 = time.perf_counter()
    previous = _previous(index_dir, embedder, corpus_settings, log) if incremental else None
    if not incremental:
        log("full rebuild: every file is embedded again")
    plan = plan_update(corpus, previous)
    for line in plan.describe():
        log(line)
    sentences = np.array(
        [(row, s, e) for row, p in enumerate(passages) for s, e in sentence_spans(p.text)], dtype=np.int32
    ).reshape(-1, 3)
    vectors = np.zeros((len(passages), embedder.dim), dtype=np.float32)
    sentence_vectors = np.zeros((len(sentences), embedder.dim), dtype=np.float32)
    if previous is not None:
        for new, old in plan.reuse:
            vectors[new.start : new.stop] = previous.vectors[old.start : old.stop]
            sentence_vectors[_sentence_range(sentences, new)] = previous.sentence_vectors[
                _sentence_range(previous.sentences, old)
            ]
    todo = [row for row, p in enumerate(passages) if p.source not in plan.reused_sources]
    if todo:
        log(f"embedding {len(todo)} passages with {embedder.name} …")
        vectors[todo] = embedder.encode_passages([passages[r].embed_text for r in todo], progress=progress)
        # Sentence vectors let the answerer pick the quoted sentence without encoding at query time.
        fresh = np.isin(sentences[:, 0], todo)
        log(f"embedding {int(fresh.sum())} sentences for answer extraction …")
        sentence_vectors[fresh] = embedder.encode_passages(
            [passages[r].text[s:e] for r, s, e in sentences[fresh].tolist()], progress=progress
        )
    t1 = time.perf_counter()
    tokenizer = Tokenizer(quoted_terms(p.text for p in passages))
    tokens = tuple(tuple(tokenizer(p.embed_text)) for p in passages)
    dense = build_dense(vectors, kind)
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {"name": embedder.name, "dim": embedder.dim, "fingerprint": embedder.fingerprint},
        "index_kind": kind,
        "corpus": corpus_fingerprint(corpus_settings),
        "sources": _sources(corpus, source_paths or {}, plan.rows),
        # What was asked to be indexed, so `citeqa index --index DIR` can rebuild the same thing.
        "roots": [str(r.resolve()) for r in roots] if roots else None,
        "include": list(include),
        "exclude": list(exclude),
        "user_words": list(tokenizer.user_words),
        "passages": len(passages),
        "embedded": {"passages": len(todo), "files": len(plan.added) + len(plan.changed)},
        "timings_s": {"embed": round(t1 - t0, 3), "total": round(time.perf_counter() - t0, 3)},
    }
    data = IndexData(manifest, passages, vectors, dense, tokens, sentences, sentence_vectors)
    gen = write_generation(index_dir, data)
    skipped = f"; {len(corpus.skipped)} unreadable file(s) skipped" if corpus.skipped else ""
    log(f"indexed {len(passages)} passages from {len(corpus.sha256)} document(s) into {gen}{skipped}")
    bm25 = BM25([list(t) for t in tokens])
    return LocalIndex(
        index_dir, manifest, passages, vectors, dense, bm25, tokenizer, sentences, sentence_vectors
    )


@dataclass(frozen=True)
class UpdatePlan:
    """Which files of a corpus keep their stored vectors and which are embedded.

    ``rows`` maps each source to its passage rows in the new index; ``reuse`` pairs the new rows
    of an unchanged file with its rows in the previous generation.
    """

    rows: dict[str, range]
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reuse: tuple[tuple[range, range], ...] = ()
    full: bool = True

    @property
    def reused_sources(self) -> frozenset[str]:
        """Sources whose stored vectors are copied."""
        return frozenset(self.unchanged)

    def describe(self) -> list[str]:
        """Progress lines, e.g. ``unchanged: 2 files``, ``re-embedding 1 changed file: b.md``."""
        if self.full:
            return []
        lines = []
        if self.unchanged:
            lines.append(f"unchanged: {_count(len(self.unchanged), 'file')}")
        if self.changed:
            lines.append(f"re-embedding {_count(len(self.changed), 'changed file')}: {_names(self.changed)}")
        if self.added:
            lines.append(f"embedding {_count(len(self.added), 'added file')}: {_names(self.added)}")
        if self.removed:
            lines.append(f"removed: {_names(self.removed)}")
        if not (self.changed or self.added or self.removed):
            lines.append("no document changed: nothing to embed")
        return lines


def plan_update(corpus: LoadedCorpus, previous: IndexData | None) -> UpdatePlan:
    """Compare ``corpus`` with the previous generation, file by file (sha256, then passages and sentences)."""
    rows: dict[str, range] = {}
    for row, p in enumerate(corpus.passages):
        rows[p.source] = range(rows[p.source].start if p.source in rows else row, row + 1)
    if previous is None:
        return UpdatePlan(rows)
    old_sources = previous.manifest.get("sources", {})
    added, changed, unchanged, reuse = [], [], [], []
    for src, new in rows.items():
        info = old_sources.get(src)
        if info is None:
            added.append(src)
            continue
        old = range(*info["rows"]) if isinstance(info.get("rows"), list) and len(info["rows"]) == 2 else None
        same_bytes = info.get("sha256") == corpus.sha256.get(src)
        if same_bytes and old is not None and _same(corpus, new, previous, old):
            unchanged.append(src)
            reuse.append((new, old))
        else:
            changed.append(src)
    removed = tuple(s for s in old_sources if s not in rows)
    return UpdatePlan(rows, tuple(added), tuple(changed), tuple(unchanged), removed, tuple(reuse), full=False)


def _same(corpus: LoadedCorpus, new: range, previous: IndexData, old: range) -> bool:
    """The stored passages and sentence spans of a file are exactly what it yields now."""
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
        reason = str(exc).split("; run `citeqa index")[0]
        log(f"full rebuild: the previous index cannot be reused ({reason})")
        return None
    model = data.manifest.get("model", {})
    if model != {"name": embedder.name, "dim": embedder.dim, "fingerprint": embedder.fingerprint}:
        was = model.get("name")
        log(f"full rebuild: the model changed (the index was built with {was}, now {embedder.name})")
        return None
    if data.manifest.get("corpus") != corpus_fingerprint(corpus_settings):
        log("full rebuild: the chunking settings changed")
        return None
    return data


def _sources(
    corpus: LoadedCorpus, paths: dict[str, Path], rows: dict[str, range]
) -> dict[str, dict[str, Any]]:
    bundled = bundled_corpus_path().resolve()
    out: dict[str, dict[str, Any]] = {}
    for src, digest in corpus.sha256.items():
        path = paths.get(src)
        out[src] = {
            "sha256": digest,
            "path": str(path.resolve()) if path is not None else None,
            "bundled": path is not None and path.resolve() == bundled,
            "rows": [rows[src].start, rows[src].stop] if src in rows else None,
        }
    return out


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _names(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} … and {len(names) - limit} more"


def open_index(index_dir: Path, embedder: Embedder, *, corpus_settings: CorpusSettings | None = None) -> LocalIndex:
    """Load ``index_dir`` and refuse it if it was built with another model, settings or corpus."""
    data = read_generation(index_dir)
    m = data.manifest
    model = m.get("model", {})
    if (
        model.get("dim") != embedder.dim
        or model.get("name") != embedder.name
        or model.get("fingerprint") != embedder.fingerprint
    ):
        raise IndexStateError(
            f"index at {index_dir} was built with model {model.get('name')} (dim {model.get('dim')}, "
            f"fingerprint {model.get('fingerprint')}), but the current model is {embedder.name} "
            f"(dim {embedder.dim}, fingerprint {embedder.fingerprint}); {rebuild_hint(index_dir)} "
            "or select the model it was built with (--model / CITEQA_EMBED_MODEL)"
        )
    if corpus_settings is not None and m.get("corpus") != corpus_fingerprint(corpus_settings):
        raise IndexStateError(
            f"index at {index_dir} was built with other chunking settings ({m.get('corpus')}); "
            f"{rebuild_hint(index_dir)}"
        )
    _check_sources(index_dir, m.get("sources", {}))
    tokenizer = Tokenizer(m.get("user_words", []))
    bm25 = BM25([list(t) for t in data.tokens])
    return LocalIndex(
        index_dir, m, data.passages, data.vectors, data.dense, bm25, tokenizer, data.sentences, data.sentence_vectors
    )


def corpus_fingerprint(settings: CorpusSettings) -> dict[str, Any]:
    """The settings that decide which passages a document yields."""
    return {"parse": asdict(settings.parse), "chunk": asdict(settings.chunk)}


def _check_sources(index_dir: Path, sources: dict[str, dict[str, Any]]) -> None:
    bundled = bundled_corpus_path()
    for src, info in sources.items():
        path = bundled if info.get("bundled") else Path(info["path"]) if info.get("path") else None
        if path is None:
            continue
        if not path.is_file():
            raise IndexStateError(
                f"document {src} ({path}) of the index at {index_dir} is gone; {rebuild_hint(index_dir)}"
            )
        if hashlib.sha256(path.read_bytes()).hexdigest() != info.get("sha256"):
            raise IndexStateError(
                f"document {src} has changed since the index at {index_dir} was built; {rebuild_hint(index_dir)}"
            )
