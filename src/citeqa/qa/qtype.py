"""What kind of answer a question expects, and whether a sentence can supply it.

Only the types a sentence can be checked for are modelled: a count (幾度, 多少名, how many) needs
a number — with the asked-for unit when there is one — and a date (何時, 哪一年, when) needs a
year, month or day. Other questions are ``any``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citeqa.index.tokenize import fold

_NUM = r"(?:\d[\d,.]*|[一二兩三四五六七八九十百千萬億]+)"
_COUNT = re.compile(r"(?:幾|几|多少)\s*([^\s，。？?、的是]?)|how (?:many|much)|what number|number of", re.I)
_DATE = re.compile(
    r"何時|何时|什麼時候|什么时候|哪一?年|哪一?個?月|哪一?个?月|幾月|几月|哪一?天|哪個時間|when\b|what (?:month|year|date)|which (?:month|year)",
    re.I,
)
_DATE_IN_TEXT = re.compile(rf"{_NUM}\s*[年月日]|本年|同月|今年|去年|明年|迄今")
_DIGIT = re.compile(_NUM)
# Measure words worth checking (folded to Simplified); 个 is generic and checks only for a number.
_UNITS = frozenset("次度回趟名位人员项件国团场天届倍岁家艘架本条号元亿万公里")
# Measure words a document may use for the one the question uses (幾次 → "19 度").
_SYNONYMS = ("次度回趟", "名位人员", "项件", "天日")


@dataclass(frozen=True)
class QuestionType:
    kind: str  # "count", "date" or "any"
    unit: str = ""

    def satisfied_by(self, sentence: str) -> bool:
        sentence = fold(sentence)
        if self.kind == "date":
            return bool(_DATE_IN_TEXT.search(sentence))
        if self.kind == "count":
            if self.unit:
                units = next((g for g in _SYNONYMS if self.unit in g), self.unit)
                return bool(re.search(rf"{_NUM}\s*(?:多|餘|余)?\s*[{re.escape(units)}]", sentence))
            return bool(_DIGIT.search(sentence))
        return True


def question_type(question: str) -> QuestionType:
    """``"拜登政府宣布對台軍售幾次？"`` → count of 次; ``"何時揭牌？"`` → date."""
    question = fold(question)
    if _DATE.search(question):
        return QuestionType("date")
    m = _COUNT.search(question)
    if m:
        unit = (m.group(1) or "") if m.lastindex else ""
        return QuestionType("count", unit if unit in _UNITS else "")
    return QuestionType("any")
