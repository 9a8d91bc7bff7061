"""One object that holds the loaded model, index and retrievers: shared by CLI, web app and eval."""

from __future__ import annotations

import fnmatch
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citeqa.corpus import Document, load_corpus
from citeqa.errors import InputError
from citeqa.index import BACKENDS, Embedder, LocalIndex, SearchIndex, corpus_fingerprint, open_index
from citeqa.index.directory import inspect
from citeqa.index.embed import QueryCache
from citeqa.index.update import corpus_settings, embedder_for, ensure_default_index, milvus_settings
from citeqa.qa.abstain import AbstainSettings
from citeqa.qa.answer import AnswerSettings, ExtractiveAnswerer
from citeqa.qa.hits import Answer, Hit
from citeqa.qa.llm import ChatClient, GenerativeAnswerer, LLMSettings
from citeqa.qa.retrieve import BM25Retriever, DenseRetriever, HybridRetriever, Retriever
from citeqa.settings import Settings


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def clean_query(text: object, max_chars: int, what: str = "question") -> str:
    """Validate a question (or a search ``query``): non-empty text within the size limit, control characters removed."""
    if not isinstance(text, str):
        raise InputError(f"the {what} must be text, got {type(text).__name__}")
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs") else c for c in text).strip()
    if not cleaned:
        raise InputError(f"the {what} is empty")
    if len(cleaned) > max_chars:
        raise InputError(f"the {what} has {len(cleaned):,} characters; the limit is {max_chars:,}")
    return " ".join(cleaned.split())


@dataclass
class Engine:
    """Loaded once per process; ``search`` is safe to call from several threads."""

    settings: Settings
    embedder: Embedder
    index: SearchIndex
    retrievers: dict[str, Retriever]
    answerer: ExtractiveAnswerer
    llm: LLMSettings | None = None  # set when an OpenAI-compatible chat endpoint is configured

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        index_dir: Path | None = None,
        progress: bool = True,
        log: Callable[[str], None] = _stderr,
        embedder: Embedder | None = None,
    ) -> Engine:
        """Load the model and the index.

        The default index directory (no ``index_dir``) is filled with the bundled corpus when it is
        new; an existing index that cannot be read is refused and kept as it is, whatever its
        directory. With ``settings.backend == "milvus"`` the index is the Milvus collection named by
        the settings; it is never built implicitly (several replicas may start at once).
        ``embedder`` replaces the model the settings name (tests pass a fake one).
        """
        if settings.backend not in BACKENDS:
            raise InputError(f"unknown backend {settings.backend!r}; choose one of {', '.join(BACKENDS)}")
        target = index_dir or settings.index_dir
        if settings.backend == "local":
            inspect(target)  # a file or a foreign folder is refused before the model is loaded
        embedder = embedder or embedder_for(settings, progress=progress)
        if settings.backend == "milvus":
            return cls._open_milvus(settings, embedder)
        if index_dir is None:
            ensure_default_index(settings, embedder, progress=progress, log=log)
        return cls.assemble(settings, embedder, open_index(target, embedder, corpus_settings=corpus_settings(settings)))

    @classmethod
    def _open_milvus(cls, settings: Settings, embedder: Embedder) -> Engine:
        from citeqa.index.milvus import MilvusIndex

        fingerprint = corpus_fingerprint(corpus_settings(settings))
        index = MilvusIndex.open(milvus_settings(settings), embedder, corpus=fingerprint)
        return cls.assemble(settings, embedder, index)

    @classmethod
    def assemble(cls, settings: Settings, embedder: Embedder, index: SearchIndex) -> Engine:
        """Wire retrievers and the answerer over an already loaded index (tests pass a fake embedder)."""
        embedder = QueryCache(embedder)
        retrievers = make_retrievers(index, embedder, settings)
        answerer = ExtractiveAnswerer(index, embedder, retrievers["hybrid"], answer_settings(settings))
        llm = None
        if settings.llm_base_url and settings.llm_model:
            llm = LLMSettings(settings.llm_base_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout)
        return cls(settings, embedder, index, retrievers, answerer, llm)

    def search(
        self, query: str, k: int | None = None, retriever: str = "hybrid", *, source: str | None = None
    ) -> list[Hit]:
        """The ``k`` best passages; ``source`` (a glob) keeps those of matching documents only."""
        if retriever not in self.retrievers:
            raise InputError(f"unknown retriever {retriever!r}; choose one of {', '.join(self.retrievers)}")
        k = self.settings.top_k if k is None else k
        if not 1 <= k <= 100:
            raise InputError(f"top-k must be between 1 and 100, got {k}")
        chosen = self.retrievers[retriever]
        if source:
            chosen = SourceFilter(chosen, source, self.index.source_counts())
        return chosen.search(clean_query(query, self.settings.max_question_chars, "query"), k)


    def documents(self) -> list[Document]:
        """The indexed documents as they are on disk now (the eval's peer baseline reads them)."""
        from citeqa.corpus import bundled_corpus_path

        paths = [
            bundled_corpus_path() if info.get("bundled") else Path(info["path"])
            for info in self.index.manifest.get("sources", {}).values()
            if info.get("bundled") or info.get("path")
        ]
        return list(load_corpus(paths, corpus_settings(self.settings)).documents)

    def ask(
        self, question: str, k: int | None = None, *, previous: str | None = None, source: str | None = None
    ) -> Answer:
        """Answer with cited quotes.

        ``previous`` (the last question) helps follow-ups like 那荷蘭呢？; ``source`` (a glob) answers
        from matching documents only.
        """
        q = clean_query(question, self.settings.max_question_chars)
        k = self.settings.top_k if k is None else k
        if not 1 <= k <= 100:
            raise InputError(f"top-k must be between 1 and 100, got {k}")
        retrieval = follow_up_query(q, previous) if previous else None
        answerer = self.answerer
        if source:
            only = SourceFilter(self.retrievers["hybrid"], source, self.index.source_counts())
            answerer = ExtractiveAnswerer(self.index, self.embedder, only, answerer.settings)
        if self.llm is not None:
            generator = GenerativeAnswerer(answerer, ChatClient(self.llm), self.llm)
            return generator.answer(q, k, retrieval_query=retrieval)
        return answerer.answer(q, k, retrieval_query=retrieval)


_FOLLOW_UP = re.compile(
    r"^(那|那麼|那么|還有|还有|另外|而|至於|至于)|呢\s*[？?]?\s*$|^(what|how) about\b|^and\b", re.IGNORECASE
)


class SourceFilter:
    """A retriever keeping only passages whose source matches a glob (fnmatch, case-sensitive).

    The glob is tried on the source name and on its last part: ``*.pdf`` and ``report.pdf`` both
    match ``sub/report.pdf``. The inner retriever is asked for more and more hits (doubling, up to
    the whole index) until ``k`` of them match or no more exist.
    """

    def __init__(self, inner: Retriever, pattern: str, counts: dict[str, int]) -> None:
        self.inner = inner
        self.name = inner.name
        self.pattern = pattern
        self.total = sum(counts.values())
        self.sources = frozenset(s for s in counts if source_matches(s, pattern))
        if not self.sources:
            names = ", ".join(sorted(counts)[:10]) + (" …" if len(counts) > 10 else "")
            raise InputError(f"no indexed document matches the source glob {pattern!r} (indexed: {names})")
        self.matching = max(1, sum(counts[s] for s in self.sources))

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` best matching hits of the inner retriever (fewer only when no more exist)."""
        restrict = getattr(self.inner, "restrict", None)
        if restrict is not None:  # the backend filters by source itself (Milvus)
            return list(restrict(self.sources).search(query, k))
        # Expect matching passages in proportion to their share of the index, with room to spare.
        depth = min(self.total, max(2 * k, k * self.total // self.matching + k))
        while True:
            hits = [h for h in self.inner.search(query, depth) if h.passage.source in self.sources]
            if len(hits) >= k or depth >= self.total:
                return hits[:k]
            depth = min(self.total, 2 * depth)


def source_matches(source: str, pattern: str) -> bool:
    """``fnmatch`` on the source name or its file name: ``source_matches("sub/a.pdf", "*.pdf")`` is True."""
    return fnmatch.fnmatchcase(source, pattern) or fnmatch.fnmatchcase(source.rsplit("/", 1)[-1], pattern)


def follow_up_query(question: str, previous: str) -> str | None:
    """A question that leans on the last one ("那荷蘭呢？", "what about Japan?") is retrieved with it.

    Only explicit follow-up cues count: a short but self-contained question ("台北101有多高？")
    must not inherit the previous topic.
    """
    prev = previous.strip()
    if not prev or len(question) > 20 or not _FOLLOW_UP.search(question.strip()):
        return None
    return f"{prev} {question}"


def answer_settings(settings: Settings) -> AnswerSettings:
    """The answerer's settings: default top-k and the configured abstention threshold."""
    return AnswerSettings(top_k=settings.top_k, abstain=AbstainSettings(threshold=settings.abstain_threshold))


def make_retrievers(index: SearchIndex, embedder: Embedder, settings: Settings) -> dict[str, Retriever]:
    """The dense, BM25 and hybrid (weighted RRF of both) retrievers over one index, by name."""
    if getattr(index, "backend", "local") == "milvus":
        from citeqa.qa.retrieve import MilvusRetriever

        weights = (settings.dense_weight, settings.bm25_weight)
        return {
            name: MilvusRetriever(index, embedder, name, weights, settings.rrf_k)  # type: ignore[arg-type]
            for name in ("hybrid", "dense", "bm25")
        }
    assert isinstance(index, LocalIndex)
    dense = DenseRetriever(index, embedder)
    bm25 = BM25Retriever(index)
    hybrid = HybridRetriever(((dense, settings.dense_weight), (bm25, settings.bm25_weight)), rrf_k=settings.rrf_k)
    return {"hybrid": hybrid, "dense": dense, "bm25": bm25}


