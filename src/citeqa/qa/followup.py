"""Follow-up questions: which lean on the previous one, and the standalone question each one asks.

Two shapes, told apart by properties of the language, never by the documents:

- Elliptical (那荷蘭呢？, 至於日本, what about Japan?): only a new topic is given. It takes the place
  of the previous question's span of the same kind — a proper noun, a time or a counted number —
  so ``駐孟買辦事處何時揭牌？`` + ``那荷蘭呢？`` → ``駐荷蘭辦事處何時揭牌？``, and the answer type of
  the previous question (a date) still applies. Only such a rewrite is a question worth showing the
  user (「理解為」): with no span of the topic's kind, or a topic in another language than the previous
  question (「那 FMF 呢」 after a Chinese one), the follow-up is answered as typed, retrieved with the
  previous question, like a leaning one.
- Leaning (他們簽了什麼？, 那有簽到什麼嗎, 下一屆誰主辦): the follow-up has its own predicate and
  question word but a pronoun or no subject. It is answered as typed, retrieved with the previous one.

A question naming its own topic (台北101有多高？) is not a follow-up. Spans and kinds come from
jieba's part-of-speech tags over Simplified-folded text.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from citeqa.text import fold, has_cjk
from citeqa.text.questions import ASKING  # a topic with a question word is a question of its own

# A follow-up is short: counted in CJK characters plus Latin words (so English is not penalised).
_MAX_UNITS = 20
# Cues that the message continues the last one: a leading 那/還有/至於 (a word of its own: 那霸 is a
# city), a final 呢 or a 呢 that sets a topic before a question, "what about", "and".
_LEAD_WORDS = frozenset("那 那么 还有 另外 而 至于 然后".split())  # noqa: SIM905 - reads as a word list
_CUE = re.compile(r"呢\s*[？?]?\s*$|呢[\s，,、]+\S|^(what|how) about\b|^and\b", re.IGNORECASE)
# Elliptical forms: only a topic X between the cue words. The suffix words (那邊, 方面) point at X.
_ZH_ELLIPSIS = re.compile(
    r"^(?P<lead>那麼|那么|那|而|還有|还有|另外|至於|至于)?\s*(?P<x>.+?)\s*"
    r"(?:的話|的话|的部分|方面|那邊|那边|這邊|这边)?\s*(?P<ne>呢)?\s*[？?。.!！]*$"
)
_EN_ELLIPSIS = re.compile(r"^(?:and\s+(?:(?:what|how)\s+about\s+)?|(?:what|how)\s+about\s+)(?P<x>.+?)\s*[?.!]*$", re.I)
_ARTICLE = re.compile(r"^(?:the|in|on|for|at)\s+", re.IGNORECASE)
# Pronouns that point back (folded), and the same in English; a first or second person talks to us.
_ANAPHORA = frozenset(
    "他 她 它 他们 她们 它们 该 此 这 这个 那个 这些 那些 这次 那次 这项 那项 此次 当时".split()  # noqa: SIM905 - reads as a word list
)
_EN_ANAPHORA = re.compile(r"\b(?:he|she|it|they|them|their|his|her|its|these|those)\b", re.IGNORECASE)
_SPEAKERS = re.compile(r"[你您妳我]|\b(?:you|i|we|me)\b", re.IGNORECASE)
# Part-of-speech tags (jieba) of words that name a topic; a question with none has no subject.
_NOUN_TAGS = ("n", "vn", "an", "j", "l", "eng")
_NAME_TAGS = {"ns": "place", "nr": "person", "nrt": "person", "nrfg": "person", "nt": "organisation", "nz": "other"}
# Times and counted numbers, read on folded text: 2023年12月, 12 月, 第 52 届, 9 个.
_TIME = re.compile(
    r"(?:(?:19|20)\d\d|[一二三四五六七八九十〇零]{2,4})\s*年(?:\s*\d{1,2}\s*月)?(?:\s*\d{1,2}\s*[日号])?"
    r"|\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?|\d{1,2}\s*[日号]|[上下本去今明前]一?(?:年|个?月)"
    r"|\b(?:january|february|march|april|may|june|july|august|september|october|november|december)"
    r"(?:\s+\d{1,2})?(?:,?\s+(?:19|20)\d\d)?\b|\b(?:19|20)\d\d\b"
)
_MEASURES = "个位名人项件次场届国家艘架本条号元亿万天倍岁座所份张篇批部支队度回趟期轮"
_NUMBER = re.compile(rf"第?\s*(?:\d[\d,.]*|[一二两三四五六七八九十百千]+)\s*[{_MEASURES}]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'&.-]*(?:\s+\d+)?")


@dataclass(frozen=True)
class FollowUp:
    """How a follow-up was understood.

    ``resolved`` is the standalone question to answer (the follow-up itself when it has its own
    question word), ``query`` what to retrieve with, ``topic`` the new topic of an elliptical one.
    """

    question: str
    previous: str
    resolved: str
    query: str
    topic: str = ""


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str  # name, time or number
    tag: str = ""  # place, person, organisation or other for a name, when jieba tells


def resolve_follow_up(question: str, previous: str | None) -> FollowUp | None:
    """The follow-up's standalone question, or None when ``question`` stands on its own.

    ``"那荷蘭呢？"`` after ``"駐孟買辦事處何時揭牌？"`` → resolved ``"駐荷蘭辦事處何時揭牌？"``;
    ``"他們簽了什麼？"`` → resolved as typed, queried as ``"<previous> 他們簽了什麼？"``.
    """
    q, prev = question.strip(), (previous or "").strip()
    if not q or not prev or _units(q) > _MAX_UNITS:
        return None
    tokens = _tags(q)
    topic = _ellipsis_topic(q, tokens)
    if topic is not None:
        # The same topic again (那孟買呢 after a question about 孟買) asks the previous question again.
        resolved = prev if fold(topic) in fold(prev) else _substitute(prev, topic)
        if resolved is not None:
            return FollowUp(q, prev, resolved, resolved, topic)
        return FollowUp(q, prev, q, f"{prev} {q}", topic)  # no well-formed rewrite: retrieved with the previous
    if _leans(q, tokens):
        return FollowUp(q, prev, q, f"{prev} {q}")
    return None


def _units(text: str) -> int:
    return sum(1 for ch in text if has_cjk(ch)) + len(_LATIN_WORD.findall(text))


def _ellipsis_topic(question: str, tokens: list[tuple[str, str, int]]) -> str | None:
    """X of 那X呢 / 至於X / what about X, when X is a bare topic (no verb, no question word)."""
    if m := _EN_ELLIPSIS.match(question):  # "what about 荷蘭?" too
        x = m.group("x")
    elif m := _ZH_ELLIPSIS.match(question):
        lead, x = m.group("lead") or "", m.group("x")
        if lead and fold(lead) != tokens[0][0]:  # 那霸呢: 那 is part of the name
            lead, x = "", lead + x
        if not (m.group("ne") or lead):
            return None
    else:
        return None
    x = _ARTICLE.sub("", x.strip(" ，,、"))
    if not x or ASKING.search(fold(x)) or _SPEAKERS.search(x):
        return None
    own = [(w, t) for w, t, _ in _tags(x) if w.strip()]
    verb = len(own) > 1 and any(t.startswith("v") and t != "vn" for _, t in own)  # one word: a noun tagged v (預算)
    if verb or any(w in _ANAPHORA and t == "r" for w, t in own):
        return None  # 那荷蘭派軍艦呢 has a predicate of its own; 那個計畫呢 points back itself
    return x


def _leans(question: str, tokens: list[tuple[str, str, int]]) -> bool:
    """A cue word, a pronoun that points back, or a question with no noun of its own (下一屆誰主辦).

    A message about the speakers with no noun of its own (那你呢, and you?) talks to us: not a follow-up.
    """
    nouns = any(tag.startswith(_NOUN_TAGS) or tag in _NAME_TAGS for _, tag, _ in tokens)
    if _SPEAKERS.search(fold(question)) and not nouns:
        return False
    if _CUE.search(question) or _EN_ANAPHORA.search(question) or tokens[0][0] in _LEAD_WORDS:
        return True
    if any(word in _ANAPHORA and tag == "r" for word, tag, _ in tokens):
        return True
    folded = fold(question)
    if not has_cjk(question) or not ASKING.search(folded) or _SPEAKERS.search(folded):
        return False  # no question word: a conversation turn ("謝謝"); 你/我: about the conversation
    return not nouns


def _substitute(previous: str, topic: str) -> str | None:
    """``previous`` with its span of the topic's kind in focus replaced by ``topic``; None when none can be.

    Jieba's place and person tags are unreliable (立陶宛 is tagged a person), so any name can take a
    name's place; a name of the same sub-kind is preferred.
    """
    if has_cjk(topic) != has_cjk(previous):
        return None  # a Chinese topic in an English question, or the reverse, is no question to show
    kind, tag = _kind_of(topic)
    # A one-character name is a surname before a title (賴總統) or an abbreviation (對台): never replaced.
    spans = [s for s in _spans(previous) if s.kind == kind and s.end - s.start > 1] if kind else []
    same = [s for s in spans if tag and s.tag == tag]
    if not spans:
        return None  # "帛琉，<the previous question>" is not a question a person would write
    s = _in_focus(previous, same or spans)
    rest = fold(previous[: s.start] + " " + previous[s.end :]).lower()
    words = [w.lower() for w in re.findall(r"[A-Za-z]{3,}", topic)] or [fold(topic)]
    if any(re.search(rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w), rest) for w in words):
        return None  # the topic restates the rest of the question ("FMF aid amount" into "…FMF aid…"): no new topic
    return previous[: s.start] + topic + previous[s.end :]


def _in_focus(previous: str, spans: list[_Span]) -> _Span:
    """The span nearest the question word: the asked-about part is what a new topic replaces.

    ``哪些歐洲國家派軍艦通過台灣海峽`` + 荷蘭 replaces 歐洲, ``台灣和日本簽了什麼`` + 韓國 replaces 日本;
    without a question word, the last span (ties go to the later one too).
    """
    words = [m.span() for m in ASKING.finditer(_same_length_fold(previous))]
    if not words:
        return spans[-1]

    def distance(s: _Span) -> int:
        return min(max(a - s.end, s.start - b, 0) for a, b in words)

    return min(reversed(spans), key=distance)


def _kind_of(topic: str) -> tuple[str, str]:
    """``("name", "place")`` for 荷蘭, ``("time", "")`` for 去年 or 2023年, ``("", "")`` for 預算."""
    folded = fold(topic)
    if _TIME.fullmatch(folded.strip()):
        return "time", ""
    if _NUMBER.fullmatch(folded.strip()):
        return "number", ""
    spans = _spans(topic)
    if len(spans) == 1 and spans[0].start == 0 and spans[0].end == len(topic):
        return spans[0].kind, spans[0].tag
    if not has_cjk(topic) and topic[:1].isupper():
        return "name", ""
    return "", ""


def _spans(text: str) -> list[_Span]:
    """Names, times and counted numbers in ``text`` (offsets into ``text``), in order."""
    folded = _same_length_fold(text)
    spans = [_Span(m.start(), m.end(), "time") for m in _TIME.finditer(folded)]
    spans += [_Span(m.start(), m.end(), "number") for m in _NUMBER.finditer(folded)]
    taken = [(s.start, s.end) for s in spans]
    tokens = _tags(text)
    for i, (word, tag, start) in enumerate(tokens):
        end = start + len(word)
        if any(a < end and start < b for a, b in taken):
            continue
        kind = _token_kind(text, word, tag, start, tokens, i)
        if kind:
            spans.append(_Span(start, end, *kind))
    return _merge(sorted(spans, key=lambda s: s.start), text)


def _token_kind(
    text: str, word: str, tag: str, start: int, tokens: list[tuple[str, str, int]], i: int
) -> tuple[str, str] | None:
    """The span kind of one tagged word, or None for a word that names nothing."""
    if tag == "t":
        return "time", ""
    if tag in _NAME_TAGS:
        return "name", _NAME_TAGS[tag]
    if tag == "eng":
        original = text[start : start + len(word)]
        first = not text[:start].strip()
        if (original.isupper() and len(original) > 1) or (original[:1].isupper() and not first):
            return "name", "other"  # an acronym (EPPD) or a capitalised word inside a sentence
        return None
    # A run of single characters the dictionary cannot join is an unknown name (帛琉 → 帛/琉).
    if len(word) == 1 and has_cjk(word) and tag.startswith("n"):
        neighbours = [tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
        if any(len(w) == 1 and has_cjk(w) and t.startswith("n") for w, t, _ in neighbours):
            return "name", ""
    return None


def _merge(spans: list[_Span], text: str) -> list[_Span]:
    """Adjacent spans of one kind become one (帛/琉 → 帛琉; 2023年 12月 → one time)."""
    out: list[_Span] = []
    for s in spans:
        if out and out[-1].kind == s.kind and not text[out[-1].end : s.start].strip():
            last = out.pop()
            s = _Span(last.start, s.end, s.kind, last.tag if last.tag == s.tag else "")
        out.append(s)
    return out


_TAG_LOCK = threading.Lock()


def _same_length_fold(text: str) -> str:
    """``fold(text)``, or only lower case where folding changes the length: offsets must carry over."""
    folded = fold(text)
    return folded if len(folded) == len(text) else text.lower()


def _tags(text: str) -> list[tuple[str, str, int]]:
    """(word, tag, offset) of each word of ``text``, tagged on its folded form; offsets into ``text``."""
    folded = _same_length_fold(text)
    with _TAG_LOCK:  # jieba's tagger is not thread-safe
        pairs = [(p.word, p.flag) for p in _tagger().cut(folded)]
    out, at = [], 0
    for word, tag in pairs:
        out.append((word, tag, at))
        at += len(word)
    return out


@lru_cache(maxsize=1)
def _tagger() -> Any:
    """Jieba's part-of-speech tagger over the dictionary ``text.lexicon`` reads once per process."""
    import jieba
    import jieba.posseg

    from citeqa.text.lexicon import _default_dictionary

    freq, total = _default_dictionary()
    words = jieba.Tokenizer()
    # Never changed here (no add_word), so the dictionary is shared, not copied.
    words.FREQ, words.total, words.initialized = freq, total, True
    return jieba.posseg.POSTokenizer(words)


__all__ = ["FollowUp", "resolve_follow_up"]
