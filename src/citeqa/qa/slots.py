"""What kind of answer a question asks for: an ordered table of rules, read top to bottom.

The first rule whose words the question uses gives the kind; ``qa.slot_checks`` says whether a
sentence holds an answer of that kind. Only kinds a sentence can be checked for are listed: a day,
year, month or date; a span of time; a person; a state, country or other place; a name; an
organisation or an institution of a class (哪一所大學); a reason; an amount of money, a measure, a
rate; a count with its measure word. Other questions are ``any``. A question that asks for a list
(哪些, 哪幾, 分別) needs more than one item of its kind in one sentence: the 4 位州長 of a sentence that
names no state does not say which states they came from. The question's own words never fill its
slot (``slot_checks.without``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citeqa.qa import slot_checks
from citeqa.text import fold, has_cjk
from citeqa.text.questions import ASKING, ENGLISH_COUNTED, MEASURE_WORDS

_DAY = re.compile(
    rf"哪一?天|几月几[日号]|{slot_checks.NUM}\s*月\s*几[日号]|何日|(?<!第)几号|what date|which day|on what day", re.I
)
_YEAR = re.compile(r"哪一?年|what year|which year|in what year", re.I)
_MONTH = re.compile(r"哪一?个?月|几月|which month|what month|in what month", re.I)
_DATE = re.compile(
    r"何时|什么时候|哪个时间|哪时候|哪一?年|哪一?个?月|几月|哪一?天|"
    r"when\b|what (?:month|year|date)|which (?:month|year)",
    re.I,
)
_DURATION = re.compile(r"多久|多长时间|多少天|how long (?:did|does|do|will|can|could|may|has|have|is it|was it)", re.I)
# Case matters: "WHO" is the World Health Organization, not "who" (read before folding).
_PERSON = re.compile(r"誰|谁|哪[一兩两幾几]?位|哪些(?:官員|官员|人士|議員|议员|政要)|\b[Ww]ho(?:m|se)?\b")
_STATE = re.compile(r"哪[一个些几两三四五六七八九十]*个?州|which (?:us )?states?\b", re.I)
_COUNTRY = re.compile(
    r"哪[一个些几两三四五六七八九十]*个?(?:国家|国)(?![际会防内旗歌])|which countr(?:y|ies)|what countr(?:y|ies)", re.I
)
_PLACE = re.compile(
    r"哪[个些座]?城市|哪[个些]?县市|哪里|哪儿|何处|哪[个些]?地方|"
    r"\bwhere\b|(?:which|what)(?: \w+)? (?:city|town|place)\b",
    re.I,
)
_NAME = re.compile(r"叫什么|什么名字|名称是|what is the name|\bcalled\b|\bnamed\b", re.I)
_ORGANISATION = re.compile(
    r"哪[一个家些几]*个?(?:机构|机关|组织|单位|部门|团体|部会|协会|基金会)|"
    r"which (?:agency|agencies|organi[sz]ations?|institutions?|bod(?:y|ies)|ministry|department)", re.I
)
_SCHOOLS = "大学|学院|学校|中学|高中|国中|小学|女中"
_INSTITUTIONS = (
    (re.compile(r"哪[一几些]*[所间个]?\s*(?:大学|学校|学院|中学|高中)|which (?:university|school|college)", re.I),
     _SCHOOLS),
    (re.compile(r"哪[一几些]*[家间个]?\s*(?:公司|企业)|which (?:company|firm)", re.I), "公司|企业|集团"),
    (re.compile(r"哪[一几些]*[家间个]?\s*医院|which hospital", re.I), "医院"),
    (re.compile(r"哪[一几些]*[家间个]?\s*银行|which bank", re.I), "银行"),
)
_REASON = re.compile(r"为什么|为何|什么原因|原因是什么|\bwhy\b", re.I)
_MONEY = re.compile(
    r"多少钱|金额|费用|规费|预算|经费|资金|捐了多少|投资了?多少|援助了?多少|how much (?:money|funding|aid)|"
    r"\bbudget|\bcost|\bfees?\b|\bamount", re.I
)
_MEASURE = re.compile(
    r"多高|多长|多远|多重|多深|多宽|多少摄氏度|温度|沸点|熔点|how (?:tall|high|long|far|big|deep|wide|hot|cold)\b|"
    r"\bheight|\blength|\btemperature|boiling point|melting point", re.I
)
_RATE = re.compile(r"百分之|比率|比例|成长率|增长率|\bpercent|\bpercentage|\brate\b", re.I)
_COUNT = re.compile(r"(?<!哪)(?:幾|几|多少)\s*([^\s，。？?、的是]?)|how (?:many|much)|what number|number of", re.I)
# A list asked for: 哪些, 哪幾, 哪三國, 分別, "which … and which".
_LIST = re.compile(r"哪些|哪几|哪[两二三四五六七八九十]|分别|有哪")


@dataclass(frozen=True)
class Rule:
    """Questions using ``asks`` (folded text; the original text when ``raw``) expect a ``kind`` of answer.

    ``coarse`` rules still apply to a message that asks two things (their kind holds for both).
    """

    kind: str
    asks: re.Pattern[str]
    coarse: bool = False
    raw: bool = False
    unit: str = ""


# Finer kinds first: 哪一天 is a day before it is a date; 哪個州 a state before a place.
RULES = (
    Rule("day", _DAY),
    Rule("year", _YEAR),
    Rule("month", _MONTH),
    Rule("date", _DATE, coarse=True),
    Rule("duration", _DURATION),
    Rule("person", _PERSON, coarse=True, raw=True),
    Rule("state", _STATE),
    Rule("country", _COUNTRY),
    Rule("place", _PLACE),
    Rule("name", _NAME),
    Rule("organisation", _ORGANISATION),
    *(Rule("institution", pattern, unit=nouns) for pattern, nouns in _INSTITUTIONS),
    Rule("reason", _REASON),
    Rule("money", _MONEY, coarse=True),
    Rule("measure", _MEASURE, coarse=True),
    Rule("rate", _RATE, coarse=True),
    Rule("count", _COUNT, coarse=True),
)
# Kinds that name things, of which a list can be asked (哪些州); counts and dates are never lists.
_LISTABLE = frozenset({"person", "state", "country", "place", "name", "organisation", "institution", "any"})


@dataclass(frozen=True)
class QuestionType:
    """The kind of answer a question asks for, with a ``unit`` and whether it asks for a ``list``.

    ``unit`` is the measure word of a count (幾次 → 次) or, for an institution, the nouns that can
    end its name (哪一所大學 → 大學|學院|…). ``question`` (folded) is kept so that the question's own
    words cannot supply the answer.
    """

    kind: str  # a Rule's kind, or "any"
    unit: str = ""
    question: str = ""
    list: bool = False

    def satisfied_by(self, sentence: str) -> bool:
        """True when ``sentence`` holds this kind of answer (two or more of them for a list)."""
        if self.kind == "any" and not self.list:
            return True
        return slot_checks.count(self.kind, fold(sentence), self.question, self.unit) >= (2 if self.list else 1)


def question_type(question: str) -> QuestionType:
    """``"拜登政府宣布對台軍售幾次？"`` → count of 次; ``"何時揭牌？"`` → date; ``"哪些州？"`` → a list of states."""
    folded = fold(question)
    twice = _asks_twice(question)
    for rule in RULES:
        if twice and not rule.coarse:
            continue  # two questions in one: only a kind that holds for both, on the whole
        m = rule.asks.search(question if rule.raw else folded)
        if m is None:
            continue
        unit = rule.unit
        if rule.kind == "count":
            unit = (m.group(1) or "") if m.lastindex else ""
            unit = unit if unit in MEASURE_WORDS else _english_unit(folded)
        listed = rule.kind in _LISTABLE and bool(_LIST.search(folded)) and not twice
        return QuestionType(rule.kind, unit, "" if twice else folded, listed)
    listed = bool(_LIST.search(folded)) and not twice
    return QuestionType("any", question="" if twice else folded, list=listed)


_CLAUSES = re.compile(r"[？?]")
_CLAUSE_BREAK = re.compile(r"[？?，,；;。！!\s]+")


def _asks_twice(question: str) -> bool:
    """Two question marks, or two clauses that each hold a question word: ``"第幾屆 在哪裡開的"``."""
    if len(_CLAUSES.findall(question)) > 1:
        return True
    return sum(1 for clause in _CLAUSE_BREAK.split(fold(question)) if ASKING.search(clause)) > 1


_QUESTION_NUMBER = re.compile(r"(?<![\d.])(\d+)(?![\d.])")
_DATE_NUMBER = re.compile(r"(?<![\d.])(\d{1,2})\s*(?:月|日|號|号)")


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


_YEAR_NUMBER = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


def question_years(question: str) -> list[str]:
    """The years a question names (``fiscal year 2023`` → ``["2023"]``), checked against the index."""
    return sorted(set(_YEAR_NUMBER.findall(question)))


# What "how many" counts: the words after it, up to the verb or preposition that ends the noun phrase.
_EN_COUNTED = re.compile(
    r"how many ((?:(?!(?:did|does|do|were|was|are|is|has|have|had|will|with|in|of|to|for|at|on|by|from|that|"
    r"who|which)\b)[\w'-]+\s*){1,4})",
    re.I,
)
_EN_UNITS = tuple((re.compile(rf"\b(?:{nouns})\b"), unit) for nouns, unit in ENGLISH_COUNTED)


def _english_unit(question: str) -> str:
    """The measure word for an English count ("how many students" → 名), or "" when none is known.

    Only the counted noun phrase is read: "how many allies … submitted proposals" counts allies.
    """
    m = _EN_COUNTED.search(question)
    phrase = m.group(1) if m else ""
    return next((unit for pattern, unit in _EN_UNITS if pattern.search(phrase)), "")
