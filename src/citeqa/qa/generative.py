"""Optional generative answers through an OpenAI-compatible chat endpoint (llama.cpp, vLLM, Ollama…).

The model sees the numbered passages and must cite them as ``[n]``. Nothing it says is trusted:
markers that point at no passage are dropped, a sentence is kept only when its cited passage
supports it (its numbers all occur there and most of its key terms do), markers are renumbered in
order of use, and on any error, timeout or unverifiable reply the extractive answer is returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from citeqa.qa.extractive import ExtractiveAnswerer
from citeqa.qa.grounding import AbstainSettings
from citeqa.qa.types import Answer, Hit
from citeqa.qa.verdict import abstained
from citeqa.settings import Settings
from citeqa.text import Tokenizer, has_cjk, sentence_spans

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


@dataclass(frozen=True)
class LLMSettings:
    """Where the chat endpoint is and how long to wait for it."""

    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 20.0
    min_term_support: float = 0.5  # share of a sentence's key terms its cited passage must contain

    @classmethod
    def of(cls, settings: Settings) -> LLMSettings | None:
        """The endpoint the settings name, or None when generative answers are off."""
        if not settings.llm_base_url:
            return None
        return cls(settings.llm_base_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout)


class ChatClient:
    """A minimal OpenAI-compatible ``/chat/completions`` client (httpx, no streaming)."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply text; raises on transport errors, HTTP errors and malformed JSON."""
        import httpx

        headers = {"Authorization": f"Bearer {self.settings.api_key}"} if self.settings.api_key else {}
        r = httpx.post(
            self.settings.base_url.rstrip("/") + "/chat/completions",
            json={"model": self.settings.model, "messages": messages, "temperature": 0},
            headers=headers,
            timeout=self.settings.timeout,
        )
        r.raise_for_status()
        content = r.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise ValueError("the reply has no text content")
        return content


class GenerativeAnswerer:
    """Rewrites the answer with a language model, verified against the passages it cites."""

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
        explained = self.extractive.explain(question, k, retrieval_query=retrieval_query, sources=sources)
        fallback = explained.verdict(abstain or self.extractive.settings.abstain)
        if not fallback.grounded:
            return fallback
        hits = list(explained.hits)
        try:
            reply = self.client.complete(_messages(question, hits))
        except Exception:  # any failure of the optional model falls back to the quote
            return fallback
        if _NOT_FOUND in reply:  # the model read the passages and says they do not answer: believe it
            return abstained(question, hits, fallback.confidence)
        verified = self.verify(question, reply, hits)
        return verified if verified is not None else fallback

    def verify(self, question: str, reply: str, hits: list[Hit]) -> Answer | None:
        """Keep the supported, cited sentences of ``reply``; None when nothing verifiable is left."""
        if not reply.strip():
            return None
        parts: list[str] = []
        citations: list[Hit] = []
        order: dict[int, int] = {}  # passage number in the prompt → marker number in the answer
        for raw in _SENT.findall(reply):
            sentence = _MARK.sub("", raw).strip()
            cited = [int(n) for n in _MARK.findall(raw) if 1 <= int(n) <= len(hits)]
            cited = [n for n in dict.fromkeys(cited) if self._supports(hits[n - 1], sentence)]
            if not sentence or not cited:
                continue
            marks = []
            for n in cited:
                if n not in order:
                    order[n] = len(order) + 1
                    citations.append(self._with_quote(hits[n - 1], sentence))
                marks.append(f"[{order[n]}]")
            parts.append(sentence.rstrip("。.!?！？") + "".join(marks) + ("。" if has_cjk(sentence) else ". "))
        if not parts:
            return None
        return Answer(question, "".join(parts).strip(), True, tuple(citations))

    def _supports(self, hit: Hit, sentence: str) -> bool:
        text = hit.passage.text
        if any(n.rstrip(",.") not in text for n in _NUMBER.findall(sentence)):
            return False  # a number the passage does not have is not supported by it
        terms = {t for t in self.tokenizer(sentence) if len(t) >= 2}
        if not terms:
            return False
        have = set(self.tokenizer(text))
        return len(terms & have) / len(terms) >= self.settings.min_term_support

    def _with_quote(self, hit: Hit, sentence: str) -> Hit:
        """Point the citation at the passage sentence sharing the most terms, so the UI can highlight it."""
        terms = set(self.tokenizer(sentence))
        text = hit.passage.text
        spans = sentence_spans(text) or [(0, len(text))]
        s, e = max(spans, key=lambda sp: len(terms & set(self.tokenizer(text[sp[0] : sp[1]]))))
        return Hit(hit.passage, hit.score, s, e)


def _messages(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    numbered = "\n\n".join(f"[{n}] ({h.passage.label}) {h.passage.text}" for n, h in enumerate(hits, start=1))
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question}"},
    ]
