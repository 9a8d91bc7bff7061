"""What kind of answer a question expects, and whether a sentence can supply it.

Only the types a sentence can be checked for are modelled: a count (幾度, 多少名, how many) needs
a number — with the asked-for unit when there is one —, a date (何時, 哪一年, when) needs a
year, month or day, a person (誰, 哪位, who) needs a title or a romanised name, an amount of
money (預算, 金額) a currency, a measure (多高, 多遠, 多少攝氏度) a unit of length, weight or
temperature, an institution (哪一所大學) a name of that class, and a rate a percentage. Other
questions are ``any``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from citeqa.text import fold, has_cjk

_NUM = r"(?:\d[\d,.]*|[一二两三四五六七八九十百千万亿]+)"  # matched on folded (Simplified) text
_COUNT = re.compile(r"(?<!哪)(?:幾|几|多少)\s*([^\s，。？?、的是]?)|how (?:many|much)|what number|number of", re.I)
_DATE = re.compile(
    r"何時|何时|什麼時候|什么时候|哪一?年|哪一?個?月|哪一?个?月|幾月|几月|哪一?天|哪個時間|"
    r"when\b|what (?:month|year|date)|which (?:month|year)",
    re.I,
)
_DATE_IN_TEXT = re.compile(rf"{_NUM}\s*[年月日]|本年|同月|今年|去年|明年|迄今")
_DIGIT = re.compile(_NUM)
# Case matters: "WHO" is the World Health Organization, not "who" (checked before folding).
_PERSON_Q = re.compile(r"誰|谁|哪[一兩两幾几]?位|哪些(?:官員|官员|人士|議員|议员|政要)|\b[Ww]ho(?:m|se)?\b")
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
    r"多高|多长|多远|多重|多深|多宽|多少摄氏度|温度|沸点|熔点|how (?:tall|high|long|far|big|deep|wide|hot|cold)\b|"
    r"\bheight|\blength|\btemperature|boiling point|melting point", re.I
)
_MEASURE_IN_TEXT = re.compile(r"\d[\d,.]*\s*(?:公尺|公里|米|英尺|公斤|吨|平方公里|公顷|摄氏|华氏|°|℃|m\b|km\b|kg\b)")
_RATE_Q = re.compile(r"百分之|比率|比例|成长率|增长率|\bpercent|\bpercentage|\brate\b", re.I)
_RATE_IN_TEXT = re.compile(r"%|％|百分之|成")
# Finer slots than "a date": a day needs a day of the month, a year needs a year, a place a place
# name, a name a quoted or bracketed name. Matched on folded text.
_MONTH_Q = re.compile(r"哪一?个?月|几月|which month|what month|in what month", re.I)
_MONTH_IN_TEXT = re.compile(rf"{_NUM}\s*月|同月|本月")
_DAY_Q = re.compile(
    rf"哪一?天|几月几[日号]|{_NUM}\s*月\s*几[日号]|何日|(?<!第)几号|what date|which day|on what day", re.I
)
_YEAR_Q = re.compile(r"哪一?年|what year|which year|in what year", re.I)
_DAY_IN_TEXT = re.compile(rf"{_NUM}\s*[日号]")
_YEAR_IN_TEXT = re.compile(r"(?:19|20)\d\d\s*年|本年|今年|去年|明年|前年|民国\s*\d+")
_PLACE_Q = re.compile(
    r"哪[个些座]?城市|哪[个些]?县市|哪里|哪儿|何处|哪[个些]?地方|"
    r"\bwhere\b|(?:which|what)(?: \w+)? (?:city|town|place)\b",
    re.I,
)
_PLACE_IN_TEXT = re.compile(r"[\u4e00-\u9fff]{1,6}[市县州省]")
_NAME_Q = re.compile(r"叫什么|什么名字|名称是|what is the name|\bcalled\b|\bnamed\b", re.I)
_NAME_IN_TEXT = re.compile(r"「[^」]*[^」□][^」]*」|《[^》]*[^》□][^》]*》|“[^”]*[^”□][^”]*”|[(（][a-z][^)）]{2,}[)）]")
# 哪一所大學 / which university: the answer names an institution of that class (臺灣大學), not the
# question's own one. Each asked class noun maps to the nouns that can end such a name.
_SCHOOLS = "大学|学院|学校|中学|高中|国中|小学|女中"
_INSTITUTION_Q = (
    (re.compile(r"哪一?[所间个]?\s*(?:大学|学校|学院|中学|高中)|which (?:university|school|college)", re.I), _SCHOOLS),
    (re.compile(r"哪一?[家间个]?\s*(?:公司|企业)|which (?:company|firm)", re.I), "公司|企业|集团"),
    (re.compile(r"哪一?[家间个]?\s*医院|which hospital", re.I), "医院"),
    (re.compile(r"哪一?[家间个]?\s*银行|which bank", re.I), "银行"),
)
_LATIN_INSTITUTION = re.compile(
    r"[(（][^)）]*\b(?:university|college|school|academy|hospital|bank|company|inc|ltd|corp)\b", re.I
)
# Slots a question's own words could fill (its 總統, its place names): checked on the rest of the sentence.
_NAMED = frozenset({"person", "place", "name"})
# A question with two question marks asks two things; its slots are not checked against one sentence.
_CLAUSES = re.compile(r"[？?]")
# Words that ask (folded): a message with two of them in different clauses asks two things, whether
# or not it has question marks ("第幾屆 在哪裡開的").
_ASKING = re.compile(r"几|多少|哪|谁|什么|何时|如何|怎么|是否|吗|呢|\b(?:how|what|which|who|when|where|why)\b", re.I)
_CLAUSE_BREAK = re.compile(r"[？?，,；;。！!\s]+")
_TEXT_CHECKS = {"money": _MONEY_IN_TEXT, "measure": _MEASURE_IN_TEXT, "rate": _RATE_IN_TEXT}
# Measure words worth checking (folded to Simplified); 个 is generic and checks only for a number.
_UNITS = frozenset("次度回趟名位人员项件国团场天届倍岁家艘架本条号元亿万公里面座所份张枚颗篇笔批部支队")
# English counted nouns and the Chinese measure words that count them (how many students → 名).
_EN_UNITS = (
    (re.compile(r"\b(?:people|persons|members|officials|delegates|diplomats|lawmakers|legislators|students|"
                r"scholars|experts|journalists|reporters|participants|visitors|tourists|volunteers|workers|"
                r"residents|citizens|nationals|athletes|followers|recipients|applicants|graduates|teachers|doctors|"
                r"nurses|soldiers|victims|ambassadors)\b"), "名"),
    (re.compile(r"\btimes\b"), "次"),
    (re.compile(r"\bmedals\b"), "面"),
    (re.compile(r"\bpassports\b"), "本"),
    (re.compile(r"\b(?:ships|vessels|warships)\b"), "艘"),
    (re.compile(r"\b(?:aircraft|planes|jets)\b"), "架"),
    (re.compile(r"\b(?:companies|firms|businesses)\b"), "家"),
    (re.compile(r"\b(?:resolutions|bills|agreements|projects|proposals)\b"), "项"),
    (re.compile(r"\b(?:countries|nations)\b"), "国"),
    (re.compile(r"\bdays\b"), "天"),
)
# Measure words a document may use for the one the question uses (幾次 → "19 度").
_SYNONYMS = ("次度回趟", "名位人员", "项件", "天日")


@dataclass(frozen=True)
class QuestionType:
    """The kind of answer a question asks for, with a ``unit``.

    ``unit`` is the measure word of a count (幾次 → 次) or, for an institution, the nouns that can
    end its name (哪一所大學 → 大學|學院|…).
    ``question`` (folded) is kept so that the question's own words cannot supply the answer: in
    "賴總統過境關島時和哪位美國官員見面？" the 總統 of 賴總統 is not the official asked for.
    """

    kind: str  # count, date, day, month, year, person, place, name, institution, money, measure, rate or any
    unit: str = ""
    question: str = ""

    def satisfied_by(self, sentence: str) -> bool:
        """True when ``sentence`` holds this kind of answer (a date, a title, a number with the unit)."""
        sentence = fold(sentence)
        if self.kind in _NAMED:
            sentence = _without(sentence, self.question)
        if self.kind == "date":
            return bool(_DATE_IN_TEXT.search(sentence))
        if self.kind == "day":
            return bool(_DAY_IN_TEXT.search(sentence))
        if self.kind == "year":
            return bool(_YEAR_IN_TEXT.search(sentence))
        if self.kind == "month":
            return bool(_MONTH_IN_TEXT.search(sentence))
        if self.kind == "person":
            return bool(_PERSON_IN_TEXT.search(sentence))
        if self.kind == "place":
            return bool(_PLACE_IN_TEXT.search(sentence)) or _has_place_name(sentence)
        if self.kind == "name":
            return bool(_NAME_IN_TEXT.search(sentence))
        if self.kind == "institution":
            return _names_institution(sentence, self.unit, self.question)
        if self.kind in _TEXT_CHECKS:
            return bool(_TEXT_CHECKS[self.kind].search(sentence))
        if self.kind == "count":
            if self.unit:
                units = next((g for g in _SYNONYMS if self.unit in g), self.unit)
                return bool(re.search(rf"{_NUM}\s*(?:多|餘|余)?\s*[{re.escape(units)}]", sentence))
            return bool(_DIGIT.search(sentence))
        return True


def question_type(question: str) -> QuestionType:
    """``"拜登政府宣布對台軍售幾次？"`` → count of 次; ``"何時揭牌？"`` → date; ``"哪一天？"`` → day."""
    person = bool(_PERSON_Q.search(question))
    if _asks_twice(question):  # two questions in one: only the coarse type, on the whole
        return _coarse(fold(question), person, "")
    folded = fold(question)
    for kind, pattern in (("day", _DAY_Q), ("year", _YEAR_Q), ("month", _MONTH_Q)):
        if pattern.search(folded):
            return QuestionType(kind, question=folded)
    if _DATE.search(folded):
        return QuestionType("date", question=folded)
    if person:
        return QuestionType("person", question=folded)
    for kind, pattern in (("place", _PLACE_Q), ("name", _NAME_Q)):
        if pattern.search(folded):
            return QuestionType(kind, question=folded)
    for pattern, nouns in _INSTITUTION_Q:
        if pattern.search(folded):
            return QuestionType("institution", nouns, folded)
    return _coarse(folded, person, folded)


def _coarse(folded: str, person: bool, question: str) -> QuestionType:
    if _DATE.search(folded):
        return QuestionType("date", question=question)
    if person:
        return QuestionType("person", question=question)
    for kind, pattern in (("money", _MONEY_Q), ("measure", _MEASURE_Q), ("rate", _RATE_Q)):
        if pattern.search(folded):
            return QuestionType(kind, question=question)
    m = _COUNT.search(folded)
    if m:
        unit = (m.group(1) or "") if m.lastindex else ""
        return QuestionType("count", unit if unit in _UNITS else _english_unit(folded), question)
    return QuestionType("any", question=question)


def _without(sentence: str, question: str, longest: int = 12) -> str:
    """``sentence`` with every run of two or more characters it shares with ``question`` blanked (□)."""
    if not question:
        return sentence
    for n in range(min(len(question), longest), 1, -1):
        for i in range(len(question) - n + 1):
            part = question[i : i + n]
            if part.strip() and part in sentence:
                sentence = sentence.replace(part, "□")
    return sentence


def _names_institution(sentence: str, nouns: str, question: str) -> bool:
    """A name ending in one of ``nouns`` whose first characters are not the question's (臺灣大學, not 該大學)."""
    if _LATIN_INSTITUTION.search(sentence):
        return True
    for m in re.finditer(rf"([\u4e00-\u9fff]{{2}})(?:{nouns})(?!生)", sentence):  # 高中生 are students
        if m.group(1) not in question and not m.group(1).endswith(("该", "这", "那", "各", "一", "所", "家")):
            return True
    return False


_POS_LOCK = threading.Lock()


@lru_cache(maxsize=16384)  # called on the documents' sentences, which recur question after question
def _has_place_name(sentence: str) -> bool:
    """The part-of-speech tagger of jieba finds a place name (``ns``) of two or more characters."""
    with _POS_LOCK:  # jieba loads its dictionary lazily and is not thread-safe while doing it
        return any(flag == "ns" and len(word) >= 2 for word, flag in _posseg().cut(sentence))


@lru_cache(maxsize=1)
def _posseg() -> Any:
    import jieba.posseg

    return jieba.posseg.POSTokenizer(jieba.Tokenizer())


_QUESTION_NUMBER = re.compile(r"(?<![\d.])(\d+)(?![\d.])")
_DATE_NUMBER = re.compile(r"(?<![\d.])(\d{1,2})\s*(?:月|日|號|号)")


def _asks_twice(question: str) -> bool:
    """Two question marks, or two clauses that each hold a question word: ``"第幾屆 在哪裡開的"``."""
    if len(_CLAUSES.findall(question)) > 1:
        return True
    return sum(1 for clause in _CLAUSE_BREAK.split(fold(question)) if _ASKING.search(clause)) > 1


def numbers_found(question: str, sentence: str) -> bool | None:
    """Whether every number a Chinese question names (第 53 屆, 3 項) is in ``sentence``.

    None when there is none to check. A question about the 53rd session is not answered by a
    sentence about the 52nd.
    """
    if not has_cjk(question):
        return None  # an English "US$100 million" is "1 億美元" in the text: numbers do not carry over
    # A date in the question says when, not which: the text often writes it apart from the fact
    # asked (本年, 去年, the month a sentence earlier), so years and the numbers of months and days
    # are not required.
    dates = set(_DATE_NUMBER.findall(question))
    wanted = {n for n in _QUESTION_NUMBER.findall(question) if not re.fullmatch(r"(?:19|20)\d\d", n) and n not in dates}
    if not wanted:
        return None
    return wanted <= set(_QUESTION_NUMBER.findall(sentence))


_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


def question_years(question: str) -> list[str]:
    """The years a question names (``fiscal year 2023`` → ``["2023"]``), checked against the index."""
    return sorted(set(_YEAR.findall(question)))


# What "how many" counts: the words after it, up to the verb or preposition that ends the noun phrase.
_EN_COUNTED = re.compile(
    r"how many ((?:(?!(?:did|does|do|were|was|are|is|has|have|had|will|with|in|of|to|for|at|on|by|from|that|"
    r"who|which)\b)[\w'-]+\s*){1,4})",
    re.I,
)


def _english_unit(question: str) -> str:
    """The measure word for an English count ("how many students" → 名), or "" when none is known.

    Only the counted noun phrase is read: "how many allies … submitted proposals" counts allies.
    """
    m = _EN_COUNTED.search(question)
    phrase = m.group(1) if m else ""
    return next((unit for pattern, unit in _EN_UNITS if pattern.search(phrase)), "")
