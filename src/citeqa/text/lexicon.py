"""Lexical tokens for BM25: jieba words over Simplified-folded, lower-cased text (``text.fold``)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache

from citeqa.text.fold import fold
from citeqa.text.questions import QUESTION_WORDS_ZH

# Sentences whose terms are remembered: every question re-reads the sentences of its top passages,
# and a deployment's hot passages number in the thousands, not millions (~1 KiB each).
_DOCUMENT_TEXTS = 16384
_QUOTED = re.compile(r"「([^「」]{2,12})」")
_WORD = re.compile(r"\w", re.UNICODE)
# Function words that carry no topic. Kept short: over-pruning hurts recall on short questions.
# The Chinese question words come from ``text.questions``; of the English ones, "who" stays a term
# (lower-cased, it is also the WHO).
STOPWORDS = frozenset(
    "的 了 及 与 和 在 是 我 等 之 其 并 也 或 对 为 于 将 以 由 向 与 共 各 该 此 本 有 中 从 被 把 已 均 "  # noqa: SIM905 - reads as a word list
    "么 请问 请 这 那 个 年 月 日 "
    "the a an of to in on for and or is are was were what which when where how does did".split()
) | frozenset(QUESTION_WORDS_ZH)


def quoted_terms(texts: Iterable[str]) -> list[str]:
    """Terms the document quotes as 「…」: names of plans, forums, laws — good dictionary words."""
    terms = {m.group(1).strip() for t in texts for m in _QUOTED.finditer(t)}
    return sorted(t for t in terms if t and " " not in t)


@lru_cache(maxsize=1)
def _default_dictionary() -> tuple[dict[str, int], int]:
    """Jieba's default dictionary, read once per process (~1 s): every tokenizer starts from a copy."""
    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    base = jieba.Tokenizer()
    base.initialize()
    return base.FREQ, base.total


class Tokenizer:
    """A jieba tokenizer with its own dictionary (no global jieba state is touched)."""

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        import jieba

        freq, total = _default_dictionary()
        self._jieba = jieba.Tokenizer()
        # A copy of the dictionary read once, the state jieba's own initialize() leaves: add_word
        # below changes this tokenizer's copy only.
        self._jieba.FREQ, self._jieba.total, self._jieba.initialized = dict(freq), total, True
        self._lock = threading.Lock()  # jieba initialises lazily and is not thread-safe while doing it
        self.user_words = tuple(sorted({fold(w) for w in user_words}))
        for word in self.user_words:
            self._jieba.add_word(word, freq=2000)
        self._document_terms: Callable[[str], frozenset[str]] = lru_cache(maxsize=_DOCUMENT_TEXTS)(
            lambda text: frozenset(self(text))
        )

    def document_terms(self, text: str) -> frozenset[str]:
        """The set of terms of a document's text, remembered per text.

        For the documents' own sentences only: answering tokenises the sentences of every retrieved
        passage (~15 ms a question with jieba), and the same passages come back question after
        question. Questions go through ``__call__``, never remembered.
        """
        return self._document_terms(text)

    def __call__(self, text: str) -> list[str]:
        """``"台美經濟繁榮夥伴對話"`` → ``["台美", "经济", "繁荣", "伙伴", "对话"]`` (folded, no stopwords)."""
        folded = fold(text)
        with self._lock:
            words = list(self._jieba.cut_for_search(folded))
        return [w for w in (x.strip() for x in words) if w and _WORD.search(w) and w not in STOPWORDS]
