"""What kind of answer a question expects, and whether a sentence can supply it.

Only the types a sentence can be checked for are modelled: a count (幾度, 多少名, how many) needs
a number — with the asked-for unit when there is one —, a date (何時, 哪一年, when) needs a
year, month or day, a person (誰, 哪位, who) needs a title or a romanised name, an amount of
money (預算, 金額) a currency, a measure (多高, 多遠) a unit of length or weight, and a rate a
percentage. Other questions are ``any``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citeqa.index.tokenize import fold

_NUM = r"(?:\d[\d,.]*|[一二两三四五六七八九十百千万亿]+)"  # matched on folded (Simplified) text
_COUNT = re.compile(r"(?:幾|几|多少)\s*([^\s，。？?、的是]?)|how (?:many|much)|what number|number of", re.I)
_DATE = re.compile(
    r"何時|何时|什麼時候|什么时候|哪一?年|哪一?個?月|哪一?个?月|幾月|几月|哪一?天|哪個時間|"
    r"when\b|what (?:month|year|date)|which (?:month|year)",
    re.I,
)
_DATE_IN_TEXT = re.compile(rf"{_NUM}\s*[年月日]|本年|同月|今年|去年|明年|迄今")
_DIGIT = re.compile(_NUM)
# Case matters: "WHO" is the World Health Organization, not "who" (checked before folding).
_PERSON_Q = re.compile(r"誰|谁|哪一?位|\b[Ww]ho(?:m|se)?\b")
# A sentence that names a person carries a title (部长, 议员…) or a romanised name in brackets.
_PERSON_IN_TEXT = re.compile(
    r"总统|部长|次长|议长|议员|首相|大臣|主席|总理|大使|秘书长|院长|州长|代表|团长|党魁|国王|教宗|总主教|执秘|国务卿|"
    r"[(（][a-zà-ž]+(?:[ .-][a-zà-ž.,]+)+[)）]"  # matched on folded (lower-cased) text
)
# Amounts of money, physical measures and rates each need their own kind of number.
_MONEY_Q = re.compile(
    r"多少钱|金额|费用|规费|预算|经费|资金|捐了多少|投资了?多少|援助了?多少|how much (?:money|funding|aid)|"
    r"\bbudget|\bcost|\bfees?\b|\bamount", re.I
)
_MONEY_IN_TEXT = re.compile(r"\d[\d,.]*\s*(?:亿|万|千|百)?\s*(?:美元|元|欧元|日圆|新台币|台币)|us\$|nt\$|\$\s*\d")
_MEASURE_Q = re.compile(
    r"多高|多长|多远|多重|多深|多宽|how (?:tall|high|long|far|big|deep|wide)\b|\bheight|\blength", re.I
)
_MEASURE_IN_TEXT = re.compile(r"\d[\d,.]*\s*(?:公尺|公里|米|英尺|公斤|吨|平方公里|公顷|m\b|km\b|kg\b)")
_RATE_Q = re.compile(r"百分之|比率|比例|成长率|增长率|\bpercent|\bpercentage|\brate\b", re.I)
_RATE_IN_TEXT = re.compile(r"%|％|百分之|成")
_TEXT_CHECKS = {"money": _MONEY_IN_TEXT, "measure": _MEASURE_IN_TEXT, "rate": _RATE_IN_TEXT}
# Measure words worth checking (folded to Simplified); 个 is generic and checks only for a number.
_UNITS = frozenset("次度回趟名位人员项件国团场天届倍岁家艘架本条号元亿万公里")
# Measure words a document may use for the one the question uses (幾次 → "19 度").
_SYNONYMS = ("次度回趟", "名位人员", "项件", "天日")


@dataclass(frozen=True)
class QuestionType:
    """The kind of answer a question asks for, with the measure word of a count (幾次 → 次)."""

    kind: str  # "count", "date", "person", "money", "measure", "rate" or "any"
    unit: str = ""

    def satisfied_by(self, sentence: str) -> bool:
        """True when ``sentence`` holds this kind of answer (a date, a title, a number with the unit)."""
        sentence = fold(sentence)
        if self.kind == "date":
            return bool(_DATE_IN_TEXT.search(sentence))
        if self.kind == "person":
            return bool(_PERSON_IN_TEXT.search(sentence))
        if self.kind in _TEXT_CHECKS:
            return bool(_TEXT_CHECKS[self.kind].search(sentence))
        if self.kind == "count":
            if self.unit:
                units = next((g for g in _SYNONYMS if self.unit in g), self.unit)
                return bool(re.search(rf"{_NUM}\s*(?:多|餘|余)?\s*[{re.escape(units)}]", sentence))
            return bool(_DIGIT.search(sentence))
        return True


def question_type(question: str) -> QuestionType:
    """``"拜登政府宣布對台軍售幾次？"`` → count of 次; ``"何時揭牌？"`` → date."""
    person = bool(_PERSON_Q.search(question))
    question = fold(question)
    if _DATE.search(question):
        return QuestionType("date")
    if person:
        return QuestionType("person")
    for kind, pattern in (("money", _MONEY_Q), ("measure", _MEASURE_Q), ("rate", _RATE_Q)):
        if pattern.search(question):
            return QuestionType(kind)
    m = _COUNT.search(question)
    if m:
        unit = (m.group(1) or "") if m.lastindex else ""
        return QuestionType("count", unit if unit in _UNITS else "")
    return QuestionType("any")
