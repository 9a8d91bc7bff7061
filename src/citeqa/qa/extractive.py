"""The extractive answerer: quote the sentence(s) of the retrieved passages that answer the question.

No language model: each sentence (or ；-clause) of the top passages is scored by its embedding
similarity to the question, the share of the question's key terms it contains (idf-weighted),
whether it holds the kind of answer asked for (a count, a date), and its passage's rank. The best
one or two are quoted verbatim with ``[n]`` markers. What the user gets is decided in
``verdict.Explanation.verdict`` (answered, not found, or a conversation turn).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace

import numpy as np

from citeqa.embedding import Embedder
from citeqa.index import SearchIndex
from citeqa.qa.decision.background import Background
from citeqa.qa.decision.score import AbstainSettings, Evidence, nothing_to_search
from citeqa.qa.decision.verdict import Explanation
from citeqa.qa.retrieve import Retriever
from citeqa.qa.slots import QuestionType, numbers_found, question_type, question_years
from citeqa.qa.turns import Replies, content_terms
from citeqa.qa.types import Answer, Hit
from citeqa.settings import Settings
from citeqa.text import has_cjk

_TRIM = "；;，,、：: "
# Words that shape a question but name nothing the answer must contain (folded to Simplified).
QUESTION_WORDS = frozenset(
    "哪个 哪一 哪里 哪儿 哪位 哪家 哪条 哪项 哪国 哪些 什么 为何 为什么 多久 多高 多长 多大 多远 是谁 谁 "  # noqa: SIM905 - reads as a word list
    "叫 名称 名字 请问 哪 几 多少 何时 何处 如何 怎么 怎样 是否 有没有 吗 呢 分别 各 那 这 那个 这个 "
    "一共 总共 大约 左右 之前 之后 以后 以前 曾经 哪年 哪月 哪天 几月 几年 几天 几次 几位 几个".split()
)
_ENDS = "。！？!?"


@dataclass(frozen=True)
class AnswerSettings:
    """Weights of the sentence score (calibrated on the dev split; see README)."""

    top_k: int = 5
    max_quotes: int = 2
    second_quote_margin: float = 0.03  # a second quote must score within this of the best
    w_lexical: float = 0.05
    w_type: float = 0.04
    w_rank: float = 0.02
    abstain: AbstainSettings = field(default_factory=AbstainSettings)

    @classmethod
    def of(cls, settings: Settings) -> AnswerSettings:
        """The answerer's share of the settings: default top-k and any thresholds configured."""
        return cls(top_k=settings.top_k, abstain=AbstainSettings.configured(
            threshold=settings.abstain_threshold, answer_threshold=settings.answer_threshold))


@dataclass(frozen=True)
class _Candidate:
    hit_rank: int
    hit: Hit
    start: int
    end: int
    cosine: float
    coverage: float | None
    has_slot: bool  # holds the kind of answer asked for (a count, a date…)
    score: float


@dataclass(frozen=True)
class ExtractiveAnswerer:
    """Answers from an index (local or Milvus). Thread-safe: it holds no per-question state."""

    index: SearchIndex
    embedder: Embedder
    retriever: Retriever
    settings: AnswerSettings
    background: Background | None = None  # the generic text a question is compared with (qa.relevance)
    replies: Replies | None = None  # what conversation turns get (qa.turns)

    def answer(
        self,
        question: str,
        k: int | None = None,
        *,
        retrieval_query: str | None = None,
        sources: frozenset[str] | None = None,
        abstain: AbstainSettings | None = None,
    ) -> Answer:
        """Answer ``question``; ``retrieval_query`` (e.g. with the previous turn) is used to retrieve."""
        explained = self.explain(question, k, retrieval_query=retrieval_query, sources=sources)
        return explained.verdict(abstain or self.settings.abstain, self.replies)

    def explain(
        self,
        question: str,
        k: int | None = None,
        *,
        retrieval_query: str | None = None,
        sources: frozenset[str] | None = None,
    ) -> Explanation:
        """Retrieve, score every sentence of the hits, and gather the evidence and the quote.

        Calibration (``citeqa eval --calibrate``) reads the evidence of every dev question here.
        """
        query = retrieval_query or question
        hits = self.retriever.search(query, k or self.settings.top_k, sources)
        qtype = question_type(question)
        weights = self._term_weights(query) if hits else None
        cands = self._candidates(query, hits, qtype, weights)
        # A follow-up with nothing of its own to ask (那他們呢) asks about the question it follows.
        terms = content_terms(question, self.index.tokenizer, QUESTION_WORDS) or (
            content_terms(retrieval_query, self.index.tokenizer, QUESTION_WORDS) if retrieval_query else [])
        known = self.index.idf_for(terms)
        content_free = nothing_to_search(terms, known)
        if not cands:
            return Explanation(question, tuple(hits), content_free=content_free)
        best = cands[0]
        others = [
            c for c in cands[1 : self.settings.max_quotes * 4]
            if c.score >= best.score - self.settings.second_quote_margin
            and (c.hit.id, c.start) != (best.hit.id, best.start)
        ]
        chosen = [best, *others[: self.settings.max_quotes - 1]]
        quoted = " ".join(c.hit.passage.text[c.start : c.end] for c in chosen)
        evidence = Evidence(
            sentence_cosine=best.cosine,
            cross_lingual=weights is None,
            slot_gap=_slot_gap(cands) if qtype.kind != "any" or qtype.list else None,
            numbers_quoted=self._numbers_quoted(question, quoted),
        )
        if self.background is not None:
            chat, generic, passage = self.background.closest(self.embedder.encode_queries([query])[0])
            evidence = replace(evidence, chat_cosine=chat, generic_cosine=generic, background_cosine=passage)
        return Explanation(question, tuple(hits), evidence, _compose(question, chosen), content_free)

    def _candidates(
        self, query: str, hits: list[Hit], qtype: QuestionType, weights: dict[str, float] | None
    ) -> list[_Candidate]:
        """Every sentence of the hits, scored, best first."""
        if not hits:
            return []
        qvec = self.embedder.encode_queries([query])[0]
        st = self.settings
        cands: list[_Candidate] = []
        sentences = self.index.sentences_for([h.id for h in hits])
        for rank, hit in enumerate(hits):
            for sv in sentences.get(hit.id, ()):
                text = hit.passage.text[sv.start : sv.end]
                cosine = float(np.dot(sv.vector, qvec))
                coverage = _coverage(weights, self.index.tokenizer.document_terms(text))
                has_slot = qtype.satisfied_by(text)
                score = cosine + st.w_lexical * (coverage or 0.0) + st.w_type * has_slot + st.w_rank / (1 + rank)
                cands.append(_Candidate(rank, hit, sv.start, sv.end, cosine, coverage, has_slot, score))
        return sorted(cands, key=lambda c: -c.score)

    def _numbers_quoted(self, question: str, quoted: str) -> bool | None:
        """Whether the quote holds every number the question names; False for a year the documents never use."""
        years = question_years(question)
        if years and len(self.index.idf_for(years)) < len(years):
            return False  # a year the documents never mention: whatever is quoted is about another
        return numbers_found(question, quoted)

    def _term_weights(self, query: str) -> dict[str, float] | None:
        """The idf weight of each key term of a Chinese question.

        Terms the corpus never uses weigh the most (a question about 處長 or 規費 is not answered by
        a passage that lacks them). None for a question with no Chinese: its terms cannot match the
        text lexically.
        """
        if not has_cjk(query):
            return None
        terms = set(self.index.tokenizer(query)) - QUESTION_WORDS
        idf = self.index.idf_for(terms)
        top = self.index.max_idf
        weights = {}
        for t in terms:
            if t in idf:
                weights[t] = max(idf[t], 0.0)
            elif len(t) >= 2 and not t.isdigit():
                weights[t] = top
        return weights


def _coverage(weights: dict[str, float] | None, tokens: AbstractSet[str]) -> float | None:
    if weights is None:
        return None
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in tokens) / total if total > 0 else 0.0


def _slot_gap(cands: list[_Candidate]) -> float:
    """How much less of the question's key terms the best typed sentence has than the best-anchored one.

    The answer must stand where the question's subject is: a date in another paragraph does not
    say when *this* office opened. Without a lexical signal (no Chinese) the best sentence decides.
    """
    if cands[0].coverage is None:
        return 0.0 if cands[0].has_slot else 1.0
    typed = [c.coverage or 0.0 for c in cands if c.has_slot]
    return max(c.coverage or 0.0 for c in cands) - max(typed) if typed else 1.0


def _compose(question: str, chosen: list[_Candidate]) -> Answer:
    """Quote each chosen sentence verbatim with its marker before the closing mark ("……19 次[1]。").

    Marker n cites citations[n-1]; two sentences of one paragraph share its marker, and its quote
    span covers both, so the same paragraph is never listed twice.
    """
    parts: list[str] = []
    citations: list[Hit] = []
    for c in chosen:
        text = c.hit.passage.text
        start, end = c.start, c.end
        while end > start and text[end - 1] in _TRIM:
            end -= 1
        quote = text[start:end]
        same = [i for i, h in enumerate(citations) if h.passage.id == c.hit.passage.id]
        if same:
            old = citations[same[0]]
            assert old.quote_start is not None and old.quote_end is not None  # set below
            citations[same[0]] = Hit(old.passage, old.score, min(start, old.quote_start), max(end, old.quote_end))
            n = same[0] + 1
        else:
            citations.append(Hit(c.hit.passage, c.hit.score, start, end))
            n = len(citations)
        body, close = (quote[:-1], quote[-1]) if quote.endswith(tuple(_ENDS)) else (quote, "。")
        parts.append(f"{body}[{n}]{close}")
    return Answer(question, "".join(parts), True, tuple(citations))
