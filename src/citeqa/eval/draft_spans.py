"""Answer spans of a known kind in one sentence, for drafting questions (``eval.draft``).

The patterns are the answer-slot checks' own (``qa.slot_checks``: dates, counts, money, persons,
organisations, places, quoted names), read on folded text as they are there. Those checks only count
matches, so a loose edge does not matter to them; a drafted answer must be an exact span, so here each
match is trimmed to jieba's word boundaries and kept only where it stands alone in its sentence.

Folding (``text.fold``) maps character to character here; a sentence whose folded form differs in length
is skipped by the caller, so an offset in the folded text is the same offset in the original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from citeqa.qa.slot_checks import (  # the answer slot's own finders: one definition of each kind
    _DATE,
    _DURATION,
    _MEASURE,
    _MONEY,
    _NAME,
    _ORG,
    _PERSON,
    _PLACE_SUFFIXED,
    _POS_LOCK,
    NUM,
    _posseg,
)
from citeqa.text.questions import MEASURE_WORDS

# Counted things: a number and a measure word (19 度, 4 位, 12 個字元). 个 asks only for a number (幾個).
_COUNT: Final = re.compile(rf"{NUM}\s*(?:多|余)?\s*(?:个月|个|[{''.join(sorted(MEASURE_WORDS))}层间])")
# Titles a name stands beside (處長周婉婷, 陳柏翰副總經理): a general list, not one fitted to a corpus.
_TITLE: Final = re.compile(
    r"(?:副)?(?:总经理|经理|主任|主管|工程师|顾问|教授|博士|医师|律师|老师|专员|秘书|董事长|董事|先生|女士|[\u4e00-\u9fff]长)"
)
# An address goes on after the place that starts it (高雄市 前鎮區成功二路88號).
_ADDRESS: Final = re.compile(r"(?:[\u4e00-\u9fff\d]{1,5}?[区乡镇里路街段巷弄号楼])+")
_NOUNISH: Final = frozenset({"n", "nr", "nrfg", "nrt", "ns", "nt", "nz", "j", "an", "vn", "ng", "l"})
_DETERMINERS: Final = tuple("该本此各全每其这那")
# Characters that join words and almost never stand inside a body's name.
_FUNCTION_CHARS: Final = frozenset("为是于在向的与和及或由将被把从对")
# Words after which a two-character word jieba tags as a place is one (前往台北); alone it is often not (長度).
_TO_PLACE: Final = ("在", "于", "到", "往", "至", "赴", "位于", "前往", "来自", "设于")
_UNIT_BODIES: Final = ("处", "部", "署", "局", "室", "组", "科", "课", "中心")


@dataclass(frozen=True)
class Span:
    """An answer found in a sentence: ``[start, end)`` is replaced by ``ask``; ``answer`` is what is expected.

    ``answer`` lies inside ``[start, end)`` (a quoted name without its brackets); ``key`` tells two answers
    of one kind apart (the measure word of a count), so "the only one of its kind" can be checked.
    """

    kind: str
    start: int
    end: int
    answer: str
    ask: str
    key: str = ""


def find_spans(sentence: str, folded: str) -> list[Span]:
    """Every typed span of ``sentence`` (``folded`` is its folded form, of the same length), overlaps removed.

    The longer span wins an overlap (高雄市前鎮區成功二路88號 is a place, not the count 88號); of two as long,
    the kind found first (money before a count: 2,400元 is asked as 多少元).
    """
    words = _words(folded)
    found = [
        *_quoted(sentence, folded),
        *_persons(sentence, folded, words),
        *_dates(sentence, folded),
        *_counts(sentence, folded),
        *_organisations(sentence, folded, words),
        *_places(sentence, folded, words),
    ]
    kept: list[Span] = []
    for span in sorted(found, key=lambda s: s.start - s.end):  # stable: the longer wins, then the earlier kind
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def _words(folded: str) -> list[tuple[int, int, str]]:
    """The words jieba cuts, with their offsets and part-of-speech flags."""
    with _POS_LOCK:
        pairs = list(_posseg().cut(folded))
    out, at = [], 0
    for word, flag in pairs:
        out.append((at, at + len(word), flag))
        at += len(word)
    return out


def _quoted(sentence: str, folded: str) -> list[Span]:
    """「臨時人員管理要點」, 《…》: the name inside is the answer, the whole quote is asked as 什麼."""
    spans = []
    for m in _NAME.finditer(folded):
        inner = sentence[m.start() + 1 : m.end() - 1].strip()
        if 2 <= len(inner) <= 20 and not m.group(0).startswith(("(", "（")):
            spans.append(Span("name", m.start(), m.end(), inner, "什麼", inner))
    return spans


def _persons(sentence: str, folded: str, words: list[tuple[int, int, str]]) -> list[Span]:
    """A name jieba tags as a person with a title beside it, or a romanised name in brackets."""
    spans = []
    for s, e, flag in words:
        if not flag.startswith("nr") or not 2 <= e - s <= 4 or not _cjk(folded[s:e]):
            continue
        before = _ends_with(_TITLE, folded[:s])
        after = _TITLE.match(folded, e)
        if before is None and after is None:
            continue
        start = s if after else before or s
        spans.append(Span("person", start, after.end() if after else e, sentence[s:e], "誰"))
    for m in _PERSON.finditer(folded):
        if m.group(0)[0] in "(（" and len(m.group(0)) > 4:
            spans.append(Span("person", m.start(), m.end(), sentence[m.start() + 1 : m.end() - 1], "誰"))
    return spans


def _dates(sentence: str, folded: str) -> list[Span]:
    """A calendar date (2025年1月1日, 6月30日) asks 何時; a day of the month or a span (15日內) asks 幾日."""
    spans: list[Span] = []
    for m in _DATE.finditer(folded):
        if not m.group(0)[0].isdigit() and not re.match(NUM, m.group(0)):
            continue  # 本年, 今年: no answer to ask for
        prev = spans[-1] if spans else None
        if prev and prev.kind == "date" and not folded[prev.end : m.start()].strip():
            spans[-1] = Span("date", prev.start, m.end(), sentence[prev.start : m.end()], "何時")
        else:
            start = m.start() - 2 if folded[max(0, m.start() - 2) : m.start()] == "民国" else m.start()
            spans.append(Span("date", start, m.end(), sentence[start : m.end()], "何時"))
    out = []
    for span in spans:
        text = folded[span.start : span.end]
        if "月" in text or "民国" in text or re.match(r"(?:19|20)\d\d\s*年", text):
            out.append(span)
        elif text.endswith(("日", "号")) and re.fullmatch(r"\d+\s*[日号]", text):
            out.append(Span("count", span.start, span.end, span.answer, _how_many(text) + "日", "日"))
    return out


def _counts(sentence: str, folded: str) -> list[Span]:
    """Money (多少元), a measure (多少公里), a span of time (幾天) or a count with its measure word (幾次)."""
    spans = []
    for pattern in (_MONEY, _MEASURE, _DURATION, _COUNT):
        for m in pattern.finditer(folded):
            text = m.group(0)
            number = re.match(NUM, text)
            if number is None or number.group(0) == "一":  # 統一, 一律: 一 alone is rarely a count
                continue
            unit = text[number.end() :].strip().lstrip("多余").strip()
            if not unit or unit.isdigit():
                continue
            how = "多少" if pattern is _MONEY or pattern is _MEASURE else _how_many(number.group(0))
            ask = how + sentence[m.end() - len(unit) : m.end()]
            # 個 counts anything: 3個工作天 and 120個停車位 are told apart by the word after it.
            key = unit + folded[m.end() : m.end() + 1] if unit == "个" else unit
            spans.append(Span("count", m.start(), m.end(), sentence[m.start() : m.end()], ask, key))
    return spans


def _organisations(sentence: str, folded: str, words: list[tuple[int, int, str]]) -> list[Span]:
    """A body's name (財務處, 北辰資安顧問股份有限公司), trimmed to the nouns that end in its class noun."""
    spans = []
    for m in _ORG.finditer(folded):
        start = _noun_run_start(words, m.start(), m.end())
        if start is None:
            continue
        # 管理人為總務處: jieba read 人为 as one word; a name starts after the last joining character.
        start += 1 + max((i for i, ch in enumerate(folded[start : m.end()]) if ch in _FUNCTION_CHARS), default=-1)
        if m.end() - start < 3 or folded[start:].startswith(_DETERMINERS):
            continue
        if _generic(words, start, m.end()):
            continue
        name = folded[start : m.end()]
        ask = "哪個單位" if name.endswith(_UNIT_BODIES) else "哪家公司" if name.endswith("公司") else "哪個機構"
        spans.append(Span("organisation", start, m.end(), sentence[start : m.end()], ask, ask))  # 公司 ≠ 單位
    return spans


def _places(sentence: str, folded: str, words: list[tuple[int, int, str]]) -> list[Span]:
    """A place with its class (高雄市) or one jieba tags ``ns``, with the address that follows it."""
    found: list[tuple[int, int]] = []
    for m in _PLACE_SUFFIXED.finditer(folded):
        start = _noun_run_start(words, m.start(1), m.end(1))
        if start is not None and m.end(1) - start >= 2:
            found.append((start, m.end(1)))
    found += [
        (s, e) for s, e, flag in words
        if flag == "ns" and _cjk(folded[s:e]) and (e - s >= 3 or (e - s == 2 and folded[:s].endswith(_TO_PLACE)))
    ]
    spans = []
    for s, e in sorted(set(found)):
        address = _ADDRESS.match(folded, e)
        end = address.end() if address else e
        spans.append(Span("place", s, end, sentence[s:end], "哪裡"))
    return spans


def _noun_run_start(words: list[tuple[int, int, str]], start: int, end: int) -> int | None:
    """Where the run of noun words that ends exactly at ``end`` begins (no earlier than ``start``).

    None where no word ends at ``end``: the pattern cut a word in two (處處長), so its edge is not a name's.
    """
    ends = [i for i, (_, e, _) in enumerate(words) if e == end]
    if not ends:
        return None
    i = ends[0]
    begin = None
    while i >= 0 and words[i][0] >= start and words[i][2] in _NOUNISH:
        begin = words[i][0]
        i -= 1
    return begin


def _generic(words: list[tuple[int, int, str]], start: int, end: int) -> bool:
    """A single common noun (顧問公司, 機會) names a class, not a body: jieba would tag a body ``nt``."""
    inside = [w for w in words if start <= w[0] and w[1] <= end]
    return len(inside) == 1 and inside[0][2] != "nt"


def _ends_with(pattern: re.Pattern[str], text: str) -> int | None:
    """Where the longest match of ``pattern`` that ends exactly at the end of ``text`` starts."""
    for start in range(max(0, len(text) - 6), len(text)):
        if pattern.fullmatch(text, start):
            return start
    return None


def _how_many(number: str) -> str:
    """幾 for a small count (14天 → 幾天), 多少 for a large one (120個 → 多少個)."""
    digits = re.sub(r"[^\d]", "", number)
    return "多少" if digits and int(digits) >= 100 else "幾"


def _cjk(text: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" for ch in text)


__all__ = ["Span", "find_spans"]
