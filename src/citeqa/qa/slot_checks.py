"""Whether a sentence holds an answer of a kind: a date, a place, a person, an organisation, a reason.

Each check reads folded text (``text.fold``) with the question's own words blanked where the
question could fill the slot itself (``without``): in 「賴總統過境關島時和哪位美國官員見面？」 the 總統 of
賴總統 is not the official asked for. ``count`` says how many distinct items a sentence holds, so a
question asking for a list (哪些州, 哪幾國) needs more than one.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from citeqa.text.questions import MEASURE_SYNONYMS

NUM = r"(?:\d[\d,.]*|[一二两三四五六七八九十百千万亿]+)"
_DATE = re.compile(rf"{NUM}\s*[年月日]|本年|同月|今年|去年|明年|迄今")
_DAY = re.compile(rf"{NUM}\s*[日号]")
_YEAR = re.compile(r"(?:19|20)\d\d\s*年|本年|今年|去年|明年|前年|民国\s*\d+")
_MONTH = re.compile(rf"{NUM}\s*月|同月|本月")
# A span of time: a number of days, weeks, months or years (停留 90 天, 延長為 1 年).
_DURATION = re.compile(
    rf"{NUM}\s*(?:个|個)?\s*(?:天|日|周|週|星期|个月|月|年|小时|分钟)|半年|\d+\s*(?:days?|weeks?|months?|years?)"
)
# A person: a title (部长, 议员…) or a romanised name in brackets (matched on lower-cased text).
_PERSON = re.compile(
    r"总统|部长|次长|议长|议员|首相|大臣|主席|总理|大使|秘书长|院长|州长|代表|团长|党魁|国王|教宗|总主教|执秘|国务卿|"
    r"[(（][a-zà-ž]+(?:[ .-][a-zà-ž.,]+)+[)）]"
)
_MONEY = re.compile(r"\d[\d,.]*\s*(?:亿|万|千|百)?\s*(?:美元|元|欧元|日圆|新台币|台币)|us\$|nt\$|\$\s*\d")
_MEASURE = re.compile(r"\d[\d,.]*\s*(?:公尺|公里|米|英尺|公斤|吨|平方公里|公顷|摄氏|华氏|°|℃|m\b|km\b|kg\b)")
_RATE = re.compile(r"%|％|百分之|成")
_NAME = re.compile(r"「[^」]*[^」□][^」]*」|《[^》]*[^》□][^》]*》|“[^”]*[^”□][^”]*”|[(（][a-z][^)）]{2,}[)）]")
# A place named with its class: 台北市, 亚利桑那州 (not 4 位州长: a measure word is no name).
_PLACE_SUFFIXED = re.compile(r"(?<![位个各该全每本多两几\d])([\u4e00-\u9fff]{1,5}[市县州省])(?!长|议|政府|立)")
_STATE = re.compile(r"(?<![位个各该全每本多两几\d])([\u4e00-\u9fff]{1,5}州)(?!长|议|政府|立)")
# An organisation: a name ending in a body's class noun (生产促进局, 国际刑警组织), or one in Latin letters.
_ORG = re.compile(
    r"([\u4e00-\u9fff]{2,10}(?:委员会|基金会|协会|组织|机构|中心|研究院|部|署|局|处|会|院|厅|银行|公司|大学|联盟))"
    r"|[(（][a-z][\w .&-]{2,}[)）]"
    r"|\b[a-z]{2,}(?:[ -][a-z]+)* (?:agency|organi[sz]ation|institute|ministry|department|council)\b"
)
# A reason: the clause that says why (因, 由于, 为了, 旨在…) or its English words.
_REASON = re.compile(
    r"因为|由于|为了|鉴于|基于|旨在|以利|以便|因此|所以|因而|原因|because|due to|in order to|so that|since"
)
# An enumeration: A、B、C, or A 及 B (two items joined).
_ENUMERATION = re.compile(
    r"[、，,]\s*[^、，,]{1,20}(?:[、，,]|及|与|和|以及|and\b)|[^\s、，,]{1,20}\s*(?:及|与|和|以及)\s*\S"
)
_SCHOOL_LATIN = re.compile(
    r"[(（][^)）]*\b(?:university|college|school|academy|hospital|bank|company|inc|ltd|corp)\b", re.I
)

_POS_LOCK = threading.Lock()


def without(sentence: str, question: str, longest: int = 12) -> str:
    """``sentence`` with every run of two or more characters it shares with ``question`` blanked (□)."""
    if not question:
        return sentence
    for n in range(min(len(question), longest), 1, -1):
        for i in range(len(question) - n + 1):
            part = question[i : i + n]
            if part.strip() and part in sentence:
                sentence = sentence.replace(part, "□")
    return sentence


# Kinds the question's own words could fill (its 總統, its place names): read with them blanked.
NAMED = frozenset({"person", "place", "city", "country", "state", "organisation", "name"})


def count(kind: str, sentence: str, question: str = "", unit: str = "") -> int:
    """How many distinct answers of ``kind`` the folded ``sentence`` holds that the folded ``question`` does not."""
    text = _Text(sentence, without(sentence, question) if kind in NAMED else sentence, question)
    return len(set(_FINDERS[kind](text, unit)))


class _Text:
    """A sentence as read by a check: folded, with the question's words blanked, and the question."""

    __slots__ = ("blanked", "folded", "question")

    def __init__(self, folded: str, blanked: str, question: str) -> None:
        self.folded, self.blanked, self.question = folded, blanked, question

    def tagged(self, flag: str) -> list[str]:
        """Words jieba tags ``flag`` (ns place, nr person, nt organisation), the question's own left out.

        Tagged on the whole sentence (remembered per sentence), so a question costs no tagging.
        """
        q = self.question
        own = lambda w: any(w[i : i + 2] in q for i in range(len(w) - 1))  # noqa: E731 - shares two characters
        return [w for w, f in _tagged_all(self.folded) if f == flag and not own(w)]


def _matches(pattern: re.Pattern[str]) -> Any:
    return lambda text, unit: [m.group(0) for m in pattern.finditer(text.blanked)]


def _places(text: _Text, unit: str) -> list[str]:
    """Place names: ones written with their class (台北市) and ones jieba tags ``ns``."""
    named = [m.group(1) for m in _PLACE_SUFFIXED.finditer(text.blanked) if "□" not in m.group(1)]
    return named + text.tagged("ns") + text.tagged("nr")  # jieba tags places as persons too (檀香山)


def _states(text: _Text, unit: str) -> list[str]:
    named = [m.group(1) for m in _STATE.finditer(text.blanked) if "□" not in m.group(1)]
    return named + [w for w in text.tagged("ns") if w.endswith("州")]


def _organisations(text: _Text, unit: str) -> list[str]:
    return [m.group(0) for m in _ORG.finditer(text.blanked) if "□" not in m.group(0)] + text.tagged("nt")


def _institutions(text: _Text, unit: str) -> list[str]:
    """A name ending in one of ``unit``'s nouns whose first characters are not blanked (臺灣大學, not 該大學)."""
    found = [m.group(0) for m in _SCHOOL_LATIN.finditer(text.blanked)]
    for m in re.finditer(rf"([\u4e00-\u9fff]{{2}})(?:{unit})(?!生)", text.blanked):  # 高中生 are students
        if m.group(1) not in text.question and not m.group(1).endswith(("该", "这", "那", "各", "一", "所", "家")):
            found.append(m.group(0))
    return found


def _counts(text: _Text, unit: str) -> list[str]:
    if unit:
        units = next((g for g in MEASURE_SYNONYMS if unit in g), unit)
        return re.findall(rf"{NUM}\s*(?:多|餘|余)?\s*[{re.escape(units)}]", text.blanked)
    return re.findall(NUM, text.blanked)


def _items(text: _Text, unit: str) -> list[str]:
    """Any answer: a list asked for needs an enumeration (A、B 及 C); one item counts once."""
    return ["list", "items"] if _ENUMERATION.search(text.blanked) else ["one"]


@lru_cache(maxsize=16384)  # called on the documents' sentences, which recur question after question
def _tagged_all(sentence: str) -> tuple[tuple[str, str], ...]:
    with _POS_LOCK:  # jieba loads its dictionary lazily and is not thread-safe while doing it
        return tuple((w, f) for w, f in _posseg().cut(sentence) if f in ("ns", "nt", "nr") and len(w) >= 2)


@lru_cache(maxsize=1)
def _posseg() -> Any:
    import jieba.posseg

    return jieba.posseg.POSTokenizer(jieba.Tokenizer())


_FINDERS = {
    "date": _matches(_DATE),
    "day": _matches(_DAY),
    "year": _matches(_YEAR),
    "month": _matches(_MONTH),
    "duration": _matches(_DURATION),
    "person": _matches(_PERSON),
    "money": _matches(_MONEY),
    "measure": _matches(_MEASURE),
    "rate": _matches(_RATE),
    "name": _matches(_NAME),
    "reason": _matches(_REASON),
    "place": _places,
    "city": _places,
    "country": _places,
    "state": _states,
    "organisation": _organisations,
    "institution": _institutions,
    "count": _counts,
    "any": _items,
}
KINDS = frozenset(_FINDERS)
