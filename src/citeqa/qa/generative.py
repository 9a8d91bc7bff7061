"""Optional generative answers through an OpenAI-compatible chat endpoint (llama.cpp, vLLM, Ollama…).

The endpoint is untrusted input. The call has one deadline (connecting and reading the whole reply)
and a size cap. The model sees the numbered passages and must cite them as ``[n]``; markers that
point at no passage are dropped, and a sentence is kept only when its cited passage supports it: its
numbers all occur there, most of its key terms do, and it does not say the opposite of the passage
sentence it restates (``contradicts``). A repeated sentence is dropped, the answer is capped, markers
are renumbered in order of use, and on any error, timeout or unverifiable reply the extractive
answer is returned.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from citeqa.errors import CiteqaError
from citeqa.qa.decision.score import AbstainSettings
from citeqa.qa.decision.verdict import abstained
from citeqa.qa.extractive import ExtractiveAnswerer
from citeqa.qa.types import Answer, Hit
from citeqa.settings import Settings
from citeqa.text import Tokenizer, fold, has_cjk, sentence_spans

_MARK = re.compile(r"\[(\d{1,2})\]")
_SENT = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_NUMBER = re.compile(r"\d[\d,.]*")
_NOT_FOUND = "NOT_IN_DOCUMENTS"
_SYSTEM = (
    "You answer questions using ONLY the numbered passages given. After every sentence put the marker "
    "of the passage that supports it, like [1]. Quote names and numbers exactly as the passages write "
    f"them. Answer in the language of the question, in at most three sentences. If the passages do not "
    f"contain the answer, reply with exactly {_NOT_FOUND}."
)
# Negation, folded to Simplified (``text.fold``): 不 未 無 沒(有) 非 免 毋 勿 and the words built on them
# (不須, 不必, 無須, 不再…), 取消, and English not/no/never/without/n't.
_NEGATION = re.compile(r"[不未无没非免毋勿]|取消|\b(?:not|no|never|without|none|nor|cannot)\b|n['’]t\b")
# Words in which one of those characters does not negate what follows (不斷 "on and on", 非常 "very",
# 未來 "future", 無論 "whatever"); they are taken out before looking for a negation.
_NOT_NEGATION = re.compile(
    "不断|不同|不少|不久|不过|不仅|不但|不只|不论|不管|不止|不错|非常|非凡|非洲|未来|无论|无数|无人机|除非|是非"
)
_NOT_WORD = re.compile(r"[\W_]+")


class EndpointError(CiteqaError):
    """The chat endpoint failed, ran past its deadline, or sent something that is not a chat completion."""


@dataclass(frozen=True)
class LLMSettings:
    """Where the chat endpoint is, how long one call may take, and how much of a reply is believed."""

    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 20.0  # seconds for the whole call: connecting, sending and reading the whole reply
    # A cited three-sentence answer is a few KB of JSON; 256 KiB leaves room for a verbose model, and
    # a larger (or endless) reply is refused while it streams in, never buffered whole.
    max_reply_bytes: int = 256 * 1024
    # A generated sentence restates its passage, so nearly all of its key terms are the passage's
    # own; rewording changes few of them. At 0.5 half a sentence could be new claims; 0.75 leaves
    # one key term in four for rewording (a sentence of three key terms or fewer needs them all).
    min_term_support: float = 0.75
    # The prompt asks for at most three sentences; one more is tolerated (a model may split a list).
    # The rest, and anything past 600 characters, is dropped: a reply that runs on is not answering
    # better, and one repeated or padded sentence must never become a long "verified" answer.
    max_sentences: int = 4
    max_answer_chars: int = 600
    # Sentences of a reply checked at most: each costs a tokenisation, and a reply that needs more
    # than this to say something verifiable is not answering the question.
    max_checked_sentences: int = 32

    @classmethod
    def of(cls, settings: Settings) -> LLMSettings | None:
        """The endpoint the settings name, or None when generative answers are off."""
        if not settings.llm_base_url:
            return None
        return cls(settings.llm_base_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout)


class ChatClient:
    """A minimal OpenAI-compatible ``/chat/completions`` client with one deadline per call.

    httpx's ``timeout`` bounds each read, so an endpoint that sends a byte a second never times out.
    Here the whole call (connect, send, headers, body) runs under ``asyncio.timeout``, and the body
    is read as it streams in, up to ``max_reply_bytes``: a slow or endless reply costs at most
    ``timeout`` seconds and that many bytes.
    """

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply text; ``EndpointError`` on any failure, the deadline or an oversize reply.

        It blocks the calling thread (it runs an event loop of its own): call it from a worker
        thread, never from async code.
        """
        import httpx

        try:
            raw = asyncio.run(self._post(messages))
        except TimeoutError as e:  # the deadline (before OSError: TimeoutError is one)
            raise EndpointError(f"no complete reply within {self.settings.timeout:g} s") from e
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as e:
            raise EndpointError(f"the chat endpoint failed: {type(e).__name__}: {e}") from e
        return _content(raw)

    async def _post(self, messages: list[dict[str, str]]) -> bytes:
        import httpx

        s = self.settings
        headers = {"Accept-Encoding": "identity"}  # the cap counts bytes on the wire: no small compressed bomb
        if s.api_key:
            headers["Authorization"] = f"Bearer {s.api_key}"
        payload = {"model": s.model, "messages": messages, "temperature": 0}
        url = s.base_url.rstrip("/") + "/chat/completions"
        async with (
            asyncio.timeout(s.timeout),
            httpx.AsyncClient(timeout=s.timeout) as client,
            client.stream("POST", url, json=payload, headers=headers) as r,
        ):
            r.raise_for_status()
            body = bytearray()
            async for chunk in r.aiter_raw():
                body += chunk
                if len(body) > s.max_reply_bytes:
                    raise EndpointError(f"the reply is over {s.max_reply_bytes:,} bytes")
            return bytes(body)


def _content(raw: bytes) -> str:
    """The assistant's text of a chat completion body."""
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, LookupError, TypeError) as e:  # not JSON, or not shaped like a completion
        raise EndpointError(f"the reply is not a chat completion: {type(e).__name__}: {e}") from e
    if not isinstance(content, str):
        raise EndpointError("the reply has no text content")
    return content


def negated(text: str) -> bool:
    """Whether ``text`` says no: ``negated("不須檢附收據")`` → True, ``negated("持續不斷")`` → False."""
    return _NEGATION.search(_NOT_NEGATION.sub(" ", fold(text))) is not None


def contradicts(sentence: str, passage_sentence: str) -> bool:
    """Whether one of the two says no where the other does not: opposite polarity.

    ``contradicts("不須檢附收據", "須檢附收據報支")`` → True; ``contradicts("免附收據", "不須檢附收據")``
    → False (both say no). ``passage_sentence`` is the cited passage's sentence that shares the most
    terms with ``sentence``, the one it restates. Coarse on purpose: a sentence that leaves out a
    negated clause of its passage sentence is dropped too, and the user gets the verbatim quote,
    which cannot contradict its passage.
    """
    return negated(sentence) != negated(passage_sentence)


class GenerativeAnswerer:
    """Rewrites the answer with a language model, verified against the passages it cites.

    Two steps, so the network wait can run outside the server's engine slots: ``prepare`` (CPU:
    retrieval, the extractive answer and the abstention decision) and ``rewrite`` (the call and the
    verification). ``answer`` does both.
    """

    def __init__(self, extractive: ExtractiveAnswerer, client: Any, settings: LLMSettings) -> None:
        self.extractive = extractive
        self.client = client
        self.settings = settings

    @property
    def tokenizer(self) -> Tokenizer:
        """The index's tokenizer: a generated sentence's key terms are checked against its passage with it."""
        return self.extractive.index.tokenizer

    def answer(
        self,
        question: str,
        k: int | None = None,
        *,
        retrieval_query: str | None = None,
        sources: frozenset[str] | None = None,
        abstain: AbstainSettings | None = None,
    ) -> Answer:
        """A verified generated answer, else the extractive one; abstention is the extractive decision."""
        decided, hits = self.prepare(question, k, retrieval_query=retrieval_query, sources=sources, abstain=abstain)
        return self.rewrite(decided, hits)

    def prepare(
        self,
        question: str,
        k: int | None = None,
        *,
        retrieval_query: str | None = None,
        sources: frozenset[str] | None = None,
        abstain: AbstainSettings | None = None,
    ) -> tuple[Answer, tuple[Hit, ...]]:
        """The extractive answer (what the user gets unless a rewrite is verified) and the passages to show the model.

        Abstention is decided here, before the model is asked, and exactly as the extractive
        answerer decides it (conversation turns included).
        """
        explained = self.extractive.explain(question, k, retrieval_query=retrieval_query, sources=sources)
        decided = explained.verdict(abstain or self.extractive.settings.abstain, self.extractive.replies)
        return decided, explained.hits

    def rewrite(self, decided: Answer, hits: Sequence[Hit]) -> Answer:
        """Ask the model about a grounded ``decided`` answer: its verified answer, else ``decided`` itself.

        The result carries ``decided.confidence``: the decision to answer was the extractive one.
        """
        if not decided.grounded:
            return decided
        try:
            reply = self.client.complete(_messages(decided.question, hits))
        except EndpointError:  # a failure of the optional model falls back to the quote
            return decided
        if _NOT_FOUND in reply:  # the model read the passages and says they do not answer: believe it
            return abstained(decided.question, list(hits), decided.confidence)
        verified = self.verify(decided.question, reply, hits)
        return decided if verified is None else replace(verified, confidence=decided.confidence)

    def verify(self, question: str, reply: str, hits: Sequence[Hit]) -> Answer | None:
        """Keep the supported, cited sentences of ``reply``, each once, within the caps; None when none is left."""
        st = self.settings
        parts: list[str] = []
        citations: list[Hit] = []
        order: dict[int, int] = {}  # passage number in the prompt → marker number in the answer
        seen: set[str] = set()
        for raw in _SENT.findall(reply)[: st.max_checked_sentences]:
            sentence = _MARK.sub("", raw).strip()
            key = _NOT_WORD.sub("", fold(sentence))  # the same sentence, whatever its spacing and punctuation
            if not key or key in seen:
                continue
            seen.add(key)
            numbers = [int(n) for n in _MARK.findall(raw) if 1 <= int(n) <= len(hits)]
            quotes = {n: q for n in dict.fromkeys(numbers) if (q := self._quote(hits[n - 1], sentence))}
            if not quotes:
                continue
            marks = {**order, **{n: len(order) + i for i, n in enumerate((n for n in quotes if n not in order), 1)}}
            end = "。" if has_cjk(sentence) else ". "
            part = sentence.rstrip("。.!?！？") + "".join(f"[{marks[n]}]" for n in quotes) + end
            if len(parts) == st.max_sentences or sum(map(len, parts)) + len(part) > st.max_answer_chars:
                break
            citations += [quotes[n] for n in quotes if n not in order]
            order = marks
            parts.append(part)
        if not parts:
            return None
        return Answer(question, "".join(parts).strip(), True, tuple(citations))

    def _quote(self, hit: Hit, sentence: str) -> Hit | None:
        """``hit`` quoting the passage sentence that ``sentence`` restates, when it supports it; else None.

        Supported: every number of the sentence occurs in the passage, at least ``min_term_support``
        of its key terms do, and it does not contradict the passage sentence sharing the most terms
        (which the citation quotes, so the UI highlights it).
        """
        text = hit.passage.text
        if any(n.rstrip(",.") not in text for n in _NUMBER.findall(sentence)):
            return None  # a number the passage does not have is not supported by it
        terms = {t for t in self.tokenizer(sentence) if len(t) >= 2}
        if not terms or len(terms & self.tokenizer.document_terms(text)) / len(terms) < self.settings.min_term_support:
            return None
        spans = sentence_spans(text) or [(0, len(text))]
        s, e = max(spans, key=lambda sp: len(terms & self.tokenizer.document_terms(text[sp[0] : sp[1]])))
        if contradicts(sentence, text[s:e]):
            return None
        return Hit(hit.passage, hit.score, s, e)


def _messages(question: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    numbered = "\n\n".join(f"[{n}] ({h.passage.label}) {h.passage.text}" for n, h in enumerate(hits, start=1))
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question}"},
    ]
