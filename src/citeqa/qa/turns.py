"""What the bot says to messages that are not questions about the documents.

A conversation turn (hello, thanks, bye, who are you) gets a short, friendly reply in the user's
language or script that says what the indexed documents cover, from their titles and top-level
sections (``corpus.outline``, recorded in the index manifest), and suggests questions about them.
A message with nothing to search for ("?", "😀", one word the documents never use) gets a request
for a real question. Nothing here is quoted as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from citeqa.corpus.outline import topic
from citeqa.text import fold, has_cjk

_THANKS = re.compile(r"谢|感恩|感谢|3q|\bthx\b|\bthanks?\b|\bty\b|\bthank you\b", re.I)
_BYE = re.compile(r"再见|拜拜|掰|\bbye\b|see (?:you|ya)|晚安|good ?night|下次见|先走了", re.I)


@lru_cache(maxsize=2)
def _opencc(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def language(message: str) -> str:
    """``zh-Hant``, ``zh-Hans`` or ``en``: the script a reply is written in.

    Simplified when the message has characters that only Simplified uses and none that only Traditional
    uses; a message whose characters are the same in both scripts (你好, 台北) is answered in Traditional,
    the chat's own language. (The Hong Kong table: the Taiwan one turns 台 into 臺, which made 台灣 read
    as Simplified.)
    """
    if not has_cjk(message):
        return "en" if re.search(r"[A-Za-z]", message) else "zh-Hant"  # "?" or "😀": the chat's own language
    traditional_only = str(_opencc("t2s").convert(message)) != message
    simplified_only = str(_opencc("s2hk").convert(message)) != message
    return "zh-Hans" if simplified_only and not traditional_only else "zh-Hant"


def content_terms(message: str, tokenizer: Callable[[str], list[str]], question_words: Collection[str]) -> list[str]:
    """The message's terms that could be searched for: not function or question words, numbers, single letters."""
    return [
        t for t in tokenizer(message)
        if t not in question_words and not t.isdigit() and not (t.isascii() and len(t) < 2)
    ]


@dataclass(frozen=True)
class Replies:
    """The replies, written from the outline of the indexed documents."""

    outline: Mapping[str, Mapping[str, Any]]  # source → {"title", "sections"}

    @classmethod
    def of(cls, manifest: Mapping[str, Any], sources: Collection[str]) -> Replies:
        """From the outline an index recorded; an index built before outlines were recorded names its files."""
        recorded = manifest.get("outline")
        if isinstance(recorded, dict) and recorded:
            return cls(recorded)
        return cls({s: {"title": s.rsplit("/", 1)[-1].rsplit(".", 1)[0], "sections": []} for s in sorted(sources)})

    def conversation(self, message: str) -> str:
        """A greeting, thanks or goodbye answered in kind, with what the documents cover and example questions."""
        lang = language(message)
        act = "thanks" if _THANKS.search(fold(message)) else "bye" if _BYE.search(fold(message)) else "hello"
        return _TEMPLATES[lang][act] + _TEMPLATES[lang]["about"].format(
            titles=self._titles(lang), topics=self._topics(lang), examples=self._examples(lang)
        )

    def no_content(self, message: str) -> str:
        """A request for a real question about the documents."""
        lang = language(message)
        return _TEMPLATES[lang]["empty"].format(titles=self._titles(lang), examples=self._examples(lang))

    def _titles(self, lang: str) -> str:
        titles = [str(o.get("title") or s) for s, o in self.outline.items()][:3]
        more = len(self.outline) - len(titles)
        joined = ("、" if lang != "en" else ", ").join(f"《{t}》" if lang != "en" else f"“{t}”" for t in titles)
        if more > 0:
            joined += f"等 {len(self.outline)} 份文件" if lang != "en" else f" and {more} more"
        return joined or ("已索引的文件" if lang != "en" else "the indexed documents")

    def _topics(self, lang: str) -> str:
        topics = [topic(s) for o in self.outline.values() for s in o.get("sections") or []][:4]
        return ("、" if lang != "en" else "; ").join(topics)

    def _examples(self, lang: str) -> str:
        topics = [topic(s) for o in self.outline.values() for s in o.get("sections") or []]
        topics = topics[:2] or [topic(str(o.get("title") or s)) for s, o in self.outline.items()][:2]
        form = _TEMPLATES[lang]["example"]
        return ("或" if lang != "en" else " or ").join(form.format(t) for t in topics)


_TEMPLATES = {
    "zh-Hant": {
        "hello": "您好！",
        "thanks": "不客氣！",
        "bye": "再見，歡迎隨時回來提問！",
        "about": "我是文件問答助理，只根據已索引的文件回答，並為每句答案標出原文出處。"
        "目前的文件是{titles}，內容包括：{topics}。您可以問我，例如{examples}",
        "empty": "請輸入一個關於文件內容的問題。目前的文件是{titles}，例如可以問{examples}",
        "example": "「{}有哪些重點？」",
    },
    "zh-Hans": {
        "hello": "您好！",
        "thanks": "不客气！",
        "bye": "再见，欢迎随时回来提问！",
        "about": "我是文件问答助理，只根据已索引的文件回答，并为每句答案标出原文出处。"
        "目前的文件是{titles}，内容包括：{topics}。您可以问我，例如{examples}",
        "empty": "请输入一个关于文件内容的问题。目前的文件是{titles}，例如可以问{examples}",
        "example": "「{}有哪些重点？」",
    },
    "en": {
        "hello": "Hello! ",
        "thanks": "You're welcome! ",
        "bye": "Goodbye, come back with more questions any time! ",
        "about": "I answer questions from the indexed documents only, and cite the source paragraph for every "
        "claim. The documents: {titles}, covering: {topics}. You could ask, for example, {examples}",
        "empty": "Please ask a question about the documents ({titles}), for example {examples}",
        "example": "“What does it say about {}?”",
    },
}
