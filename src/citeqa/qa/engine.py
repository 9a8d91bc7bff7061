"""``Engine``: the loaded model, index, retrievers and answerer, shared by the CLI, the web app and eval."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from citeqa.corpus import CorpusSettings, Document, load_corpus
from citeqa.embedding import Embedder, QueryCache
from citeqa.errors import InputError
from citeqa.files import log_to_stderr
from citeqa.index import SearchIndex
from citeqa.index.manifest import source_path
from citeqa.index.registry import backend_for
from citeqa.index.update import embedder_for
from citeqa.qa.decision.background import load_background
from citeqa.qa.decision.score import AbstainSettings
from citeqa.qa.extractive import AnswerSettings, ExtractiveAnswerer
from citeqa.qa.generative import ChatClient, GenerativeAnswerer, LLMSettings
from citeqa.qa.query import check_top_k, clean_query, resolve_follow_up
from citeqa.qa.retrieve import Retriever, make_retrievers, matching_sources
from citeqa.qa.turns import Replies
from citeqa.qa.types import Answer, Hit
from citeqa.settings import RETRIEVERS, Settings


@dataclass(frozen=True)
class Draft:
    """A question whose CPU work is done (``Engine.prepare``); ``finish`` does what waits on the network.

    Without an LLM endpoint, or when the documents do not answer, ``finish`` returns the extractive
    answer as it is. Otherwise it asks the model, under one deadline (``CITEQA_LLM_TIMEOUT``), and
    verifies its reply, falling back to the extractive answer; that takes little CPU.
    """

    question: str  # as the user typed it (cleaned)
    asked: str  # the standalone question answered: ``question``, or a follow-up read with the previous one
    answer: Answer  # the extractive answer to ``asked``, abstention decided
    hits: tuple[Hit, ...] = ()  # the passages shown to the model
    model: GenerativeAnswerer | None = None  # set only when ``finish`` calls the endpoint
    follows: bool = False  # read with the previous question: a conversation keeps its earlier topic

    @property
    def waits_on_network(self) -> bool:
        """Whether ``finish`` calls the LLM endpoint (for up to its timeout)."""
        return self.model is not None

    def finish(self) -> Answer:
        """The answer the user gets; a follow-up shows the question it was read as (``Answer.resolved``).

        Every call gives a new ``Answer.id`` (128 random bits, 32 hex digits): unguessable, so only
        the client that got the answer can rate it (``citeqa.store.questions``). It blocks while the
        model answers: call it from a worker thread, never from async code.
        """
        got = self.answer if self.model is None else self.model.rewrite(self.answer, self.hits)
        got = replace(got, follows=self.follows, id=new_answer_id())
        return got if self.asked == self.question else replace(got, question=self.question, resolved=self.asked)


def new_answer_id() -> str:
    """A fresh answer id: ``secrets.token_hex(16)``, e.g. ``'3f9c0a…'`` (32 lowercase hex digits)."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Engine:
    """Loaded once per process; ``search``, ``ask`` and ``prepare`` are safe to call from several threads."""

    settings: Settings
    embedder: Embedder
    index: SearchIndex
    retrievers: Mapping[str, Retriever]
    answerer: ExtractiveAnswerer
    llm: LLMSettings | None = None  # set when an OpenAI-compatible chat endpoint is configured

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        index_dir: Path | None = None,
        progress: bool = True,
        log: Callable[[str], None] = log_to_stderr,
        embedder: Embedder | None = None,
    ) -> Engine:
        """Load the model and the index the settings name (``index_dir`` overrides the local directory).

        The default index directory is filled with the bundled corpus when it is new; an existing
        index that cannot be read is refused and kept as it is. A Milvus index is never built here.
        ``embedder`` replaces the model the settings name (tests pass a fake one).
        """
        backend = backend_for(settings, index_dir)  # a missing extra or a bad directory fails before the model
        embedder = embedder or embedder_for(settings, progress=progress)
        return cls.assemble(settings, embedder, backend.open(embedder, progress=progress, log=log))

    @classmethod
    def assemble(cls, settings: Settings, embedder: Embedder, index: SearchIndex) -> Engine:
        """Wire retrievers and the answerer over an already loaded index (tests pass a fake embedder)."""
        embedder = QueryCache(embedder)
        retrievers = make_retrievers(
            index, embedder, dense_weight=settings.dense_weight, bm25_weight=settings.bm25_weight, rrf_k=settings.rrf_k
        )
        answerer = ExtractiveAnswerer(
            index, embedder, retrievers["hybrid"], AnswerSettings.of(settings),
            background=load_background(embedder, settings.cache_dir),
            replies=Replies.of(index.manifest, index.source_counts()),
        )
        return cls(settings, embedder, index, retrievers, answerer, LLMSettings.of(settings))

    def search(
        self, query: str, k: int | None = None, retriever: str = "hybrid", *, source: str | None = None
    ) -> list[Hit]:
        """The ``k`` best passages; ``source`` (a glob) keeps those of matching documents only."""
        chosen = self._retriever(retriever)
        k = check_top_k(self.settings.top_k if k is None else k)
        query = clean_query(query, self.settings.max_question_chars, "query")
        return chosen.search(query, k, self._sources(source))

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        previous: str | None = None,
        source: str | None = None,
        abstain: AbstainSettings | None = None,
    ) -> Answer:
        """Answer with cited quotes: ``prepare(...).finish()``.

        ``previous`` (the last question) makes a follow-up a standalone question: 那荷蘭呢？ after
        駐孟買辦事處何時揭牌？ is answered as 駐荷蘭辦事處何時揭牌？ (``Answer.resolved``), and
        他們簽了什麼？ is retrieved together with the previous question (``qa.followup``).
        ``source`` (a glob) answers from matching documents only; ``abstain`` replaces the
        configured abstention settings.
        """
        return self.prepare(question, k, previous=previous, source=source, abstain=abstain).finish()

    def prepare(
        self,
        question: str,
        k: int | None = None,
        *,
        previous: str | None = None,
        source: str | None = None,
        abstain: AbstainSettings | None = None,
    ) -> Draft:
        """``ask``'s CPU work, and no network I/O: cleaning, follow-up, retrieval, the quote and the decision.

        Takes ``ask``'s arguments and raises its ``InputError``s. The LLM call, when there is one to
        make, waits in ``Draft.finish``: a server runs this inside its engine slots and ``finish``
        outside them.
        """
        return self._prepare(self._answerer(), question, k, previous=previous, source=source, abstain=abstain)

    def ask_with(
        self,
        answerer: ExtractiveAnswerer | GenerativeAnswerer,
        question: str,
        k: int | None = None,
        *,
        previous: str | None = None,
        source: str | None = None,
        abstain: AbstainSettings | None = None,
    ) -> Answer:
        """``ask`` through a given answerer (eval compares each retriever's, follow-ups included)."""
        return self._prepare(answerer, question, k, previous=previous, source=source, abstain=abstain).finish()

    def answerer_for(self, retriever: str) -> ExtractiveAnswerer:
        """The extractive answerer over another retriever (eval compares them)."""
        return replace(self.answerer, retriever=self._retriever(retriever))

    def documents(self) -> list[Document]:
        """The indexed documents as they are on disk now (the eval's peer baseline reads them)."""
        paths = [p for info in self.index.manifest.get("sources", {}).values() if (p := source_path(info))]
        return list(load_corpus(paths, CorpusSettings.of(self.settings)).documents)

    def _answerer(self) -> ExtractiveAnswerer | GenerativeAnswerer:
        if self.llm is None:
            return self.answerer
        return GenerativeAnswerer(self.answerer, ChatClient(self.llm), self.llm)

    def _prepare(
        self,
        answerer: ExtractiveAnswerer | GenerativeAnswerer,
        question: str,
        k: int | None,
        *,
        previous: str | None,
        source: str | None,
        abstain: AbstainSettings | None,
    ) -> Draft:
        q = clean_query(question, self.settings.max_question_chars)
        k = check_top_k(self.settings.top_k if k is None else k)
        follow = resolve_follow_up(q, previous) if previous else None
        asked = follow.resolved if follow else q
        retrieval = follow.query if follow and follow.query != asked else None
        sources = self._sources(source)
        if isinstance(answerer, GenerativeAnswerer):
            decided, hits = answerer.prepare(asked, k, retrieval_query=retrieval, sources=sources, abstain=abstain)
            return Draft(q, asked, decided, hits, answerer if decided.grounded else None, follow is not None)
        answer = answerer.answer(asked, k, retrieval_query=retrieval, sources=sources, abstain=abstain)
        return Draft(q, asked, answer, follows=follow is not None)

    def _retriever(self, name: str) -> Retriever:
        if name not in self.retrievers:
            raise InputError(f"unknown retriever {name!r}; choose one of {', '.join(RETRIEVERS)}")
        return self.retrievers[name]

    def _sources(self, pattern: str | None) -> frozenset[str] | None:
        return matching_sources(pattern, self.index.source_counts()) if pattern else None
