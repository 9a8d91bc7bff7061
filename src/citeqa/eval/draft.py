"""Draft an eval set from documents, offline: a starting point for a person to review, not a finished set.

Each sentence with an answer of a known kind alone in it (a date, a count with its measure word, a
place, a person, an organisation, a quoted name: ``eval.draft_spans``) gives a question: that answer is
replaced by its question word, the sentence is cut after the clause that holds it, and the heading's
subject is put in front when the question does not name it::

    特別休假 / 員工到職滿6個月者，享有3天特別休假。
    → 員工到職滿6個月者，享有幾天特別休假？   evidence: the sentence, answers: ["3天"]

A near miss asks the same question with another span of the question (not the answer) swapped for one of
the same kind that the documents use elsewhere but never with this question's words, so no sentence
answers it: 員工到職滿3個月者，享有幾天特別休假？ (kind ``unanswerable``, no evidence).

No model and no word list fitted to a corpus: the same documents give the same rows, in the same order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from citeqa.corpus import Document, Passage
from citeqa.eval.dataset import UNANSWERABLE
from citeqa.eval.draft_spans import Span, find_spans
from citeqa.text import fold, sentence_spans

SPLIT: Final[str] = "test"
"""Drafted rows are measured, never tuned on: ``dev`` is for calibration, which should learn from the
questions people really ask (``citeqa gaps --export-eval``), not from sentences turned round."""

# Which answer a sentence is asked about first: the kinds a person asks by name before the numbers.
_ORDER: Final = ("person", "name", "organisation", "place", "date", "count")
_END_MARKS: Final = "。！？；!?;"
_CLAUSE_MARKS: Final = "，,：:"
_CONNECTORS: Final = ("此外，", "另外，", "並且", "並", "且", "另", "而", "但")
_COPULA: Final = "为是"
# A clause ending so does not end a question: a condition or a topic (到職滿6個月者, 出差結束後).
_OPEN_ENDS: Final = ("者", "时", "后", "前", "如")
_LONG_LEAD: Final = 40  # a question whose clauses before the answer run longer starts at the answer's clause


@dataclass(frozen=True)
class DraftSettings:
    """Limits that keep a draft readable: sentence length, questions per sentence and per passage."""

    min_sentence_chars: int = 10
    max_sentence_chars: int = 150
    max_question_chars: int = 70
    per_sentence: int = 2
    per_passage: int = 4
    near_misses: bool = True


@dataclass(frozen=True)
class DraftRow:
    """One drafted eval row; ``slot`` (the answer's kind) and ``source`` are for the summary, not the file."""

    id: str
    question: str
    kind: str
    split: str
    evidence: tuple[str, ...]
    answers: tuple[str, ...]
    batch: str
    slot: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        """The row as ``load_eval_set`` reads it."""
        return {
            "id": self.id, "question": self.question, "kind": self.kind, "split": self.split,
            "evidence": list(self.evidence), "answers": list(self.answers), "batch": self.batch,
        }


@dataclass(frozen=True)
class _Asked:
    """A drafted question before it is numbered, with what a near miss needs to vary it."""

    question: str
    sentence: str
    span: Span
    others: tuple[str, ...]  # the other typed spans' texts that the question still holds
    source: str


def draft_eval_set(
    passages: Sequence[Passage],
    documents: Sequence[Document],
    *,
    day: date,
    settings: DraftSettings | None = None,
) -> list[DraftRow]:
    """Questions with their evidence sentence and answer, each followed by its near miss where one exists.

    A sentence is used only when it occurs exactly in its document's text (``documents``), so every
    evidence span can be found again. Ids run ``draft-0001``…; the batch is ``draft-YYYY-MM-DD``.
    """
    settings = settings or DraftSettings()
    texts = {d.source: d.text for d in documents}
    asked: list[_Asked] = []
    pool: dict[tuple[str, str], list[str]] = {}  # every span's text by kind, for near misses
    seen: set[str] = set()
    for passage in passages:
        found = 0
        for sentence, folded, spans in _sentences(passage, texts.get(passage.source, ""), settings):
            for span in spans:
                pool.setdefault((span.kind, span.key), []).append(sentence[span.start : span.end])
            for item in _questions(sentence, folded, spans, _subject(passage.section), passage.source, settings):
                if found >= settings.per_passage or fold(item.question) in seen:
                    continue
                seen.add(fold(item.question))
                asked.append(item)
                found += 1
    corpus = [fold(s) for d in documents for s in _all_sentences(d.text)]
    batch = f"draft-{day.isoformat()}"
    rows: list[DraftRow] = []
    for item in asked:
        rows.append(_row(len(rows) + 1, item.question, "fact", (item.sentence,), (item.span.answer,), batch, item))
        miss = _near_miss(item, pool, corpus, seen) if settings.near_misses else None
        if miss is not None:
            seen.add(fold(miss))
            rows.append(_row(len(rows) + 1, miss, UNANSWERABLE, (), (), batch, item))
    return rows


def draft_jsonl(rows: Sequence[DraftRow], *, day: date, documents: int) -> str:
    """The file's text: a first ``_comment`` line saying it is a draft to review, then one row a line."""
    facts = sum(1 for r in rows if r.kind != UNANSWERABLE)
    note = (
        f"DRAFT for a person to review, made by `citeqa eval --draft` on {day.isoformat()} from {documents} "
        f"document(s): {facts} questions with evidence and {len(rows) - facts} near misses (unanswerable). "
        "Read every row; fix or delete the ones a person would not ask or whose answer is wrong before "
        "quoting any figure. `citeqa eval --set FILE` skips this line."
    )
    lines = [json.dumps({"_comment": note}, ensure_ascii=False)]
    lines += [json.dumps(r.to_dict(), ensure_ascii=False) for r in rows]
    return "\n".join(lines) + "\n"


def _row(n: int, question: str, kind: str, evidence: tuple[str, ...], answers: tuple[str, ...], batch: str,
         item: _Asked) -> DraftRow:
    return DraftRow(f"draft-{n:04d}", question, kind, SPLIT, evidence, answers, batch, item.span.kind, item.source)


def _sentences(passage: Passage, document: str, settings: DraftSettings) -> list[tuple[str, str, list[Span]]]:
    """The passage's usable sentences: of a fair length, found in the document, folded char for char."""
    out = []
    for s, e in sentence_spans(passage.text):
        sentence = passage.text[s:e]
        if not settings.min_sentence_chars <= len(sentence) <= settings.max_sentence_chars:
            continue
        folded = fold(sentence)
        if sentence not in document or len(folded) != len(sentence):
            continue  # an offset in the folded text must be the same offset in the sentence
        out.append((sentence, folded, find_spans(sentence, folded)))
    return out


def _all_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def _questions(
    sentence: str, folded: str, spans: list[Span], subject: str, source: str, settings: DraftSettings
) -> list[_Asked]:
    """Up to ``per_sentence`` questions of different kinds, each about a span alone of its kind here."""
    alone = [s for s in spans if sum(1 for o in spans if (o.kind, o.key) == (s.kind, s.key)) == 1]
    # Of one kind, the last first: a Chinese sentence puts its condition before the fact it conditions
    # (到職滿6個月者，享有3天特別休假: the 3天 is what is asked for).
    alone.sort(key=lambda s: (_ORDER.index(s.kind), -s.start))
    out: list[_Asked] = []
    for span in alone:
        if len(out) >= settings.per_sentence or any(a.span.kind == span.kind for a in out):
            continue
        question = _question(sentence, folded, span, subject)
        if question is None or len(question) > settings.max_question_chars:
            continue
        others = tuple(
            t for o in spans if o is not span and (t := sentence[o.start : o.end]) in question and len(t) >= 2
        )
        out.append(_Asked(question, sentence, span, others, source))
    return out


def _question(sentence: str, folded: str, span: Span, subject: str) -> str | None:
    """The sentence asked about ``span``: cut after its clause, the answer replaced by its question word.

    ``資訊安全長為陳柏翰副總經理，重大資安事件…`` → ``資訊安全長為誰？`` (a person after 為/是 is asked
    as 為誰, the title and body in between dropped); None when the result still holds the answer.
    """
    body = sentence.rstrip(_END_MARKS)
    if span.end > len(body):
        return None
    marks = [i for i, ch in enumerate(body) if ch in _CLAUSE_MARKS]
    end = next((i for i in marks if i >= span.end), len(body))
    while end < len(body) and fold(body[:end]).endswith(_OPEN_ENDS):  # 到職滿6個月者，[享有…]: say what follows
        end = next((i for i in marks if i > end), len(body))
    start = 0
    if span.start > _LONG_LEAD:
        start = next((i + 1 for i in reversed(marks) if i < span.start), 0)
    lead = body[start : span.start]
    copula = max((i for i, ch in enumerate(folded[start : span.start]) if ch in _COPULA), default=-1)
    if span.kind == "person" and copula >= 0 and _is_cjk(folded[start + copula + 1 : span.start]):
        core = lead[: copula + 1] + span.ask  # 消防安全管理人為總務處經理吳國華 → 消防安全管理人為誰
    else:
        core = lead + span.ask + body[span.end : end]
    for word in _CONNECTORS:
        if core.startswith(word) and len(core) > len(word) + 4:
            core = core[len(word) :]
            break
    if subject and not _shares(subject, core):
        core = f"關於{subject}，{core}"
    question = core + "？"
    if fold(span.answer) in fold(question) or sum(1 for ch in core if _is_cjk(ch)) < len(span.ask) + 4:
        return None
    return question


_CN: Final = "一二三四五六七八九十百"
_NUMBERING: Final = re.compile(rf"^(?:[{_CN}]+、|[(（][{_CN}]+[)）]|\d+(?:\.\d+)*[.、．]?)\s*")


def _subject(section: Sequence[str]) -> str:
    """The last heading without its numbering and end mark: ``("員工請假辦法", "二、 特別休假：")`` → 特別休假."""
    if not section:
        return ""
    return _NUMBERING.sub("", section[-1]).strip().rstrip("：:。").strip()


def _shares(subject: str, text: str) -> bool:
    """Whether ``text`` already names the subject: holds any two characters of it in a row (script folded)."""
    s, t = fold(subject), fold(text)
    return any(s[i : i + 2] in t for i in range(len(s) - 1)) if len(s) > 1 else s in t


def _near_miss(item: _Asked, pool: dict[tuple[str, str], list[str]], corpus: list[str], seen: set[str]) -> str | None:
    """The question with one of its other spans swapped for a same-kind one the documents never pair with it.

    Names (places, bodies, people, quoted names) and dates are swapped before counts: a changed number
    too often asks about a case the rule covers all the same (滿3年 covers 滿5年).

    "Never pair": no sentence of the documents holds the new span together with half or more of the
    question's other two-character pieces, so no sentence answers the varied question.
    """
    for old in sorted(item.others, key=lambda t: next((k for (k, _), ts in pool.items() if t in ts), "") == "count"):
        kind = next(((k, key) for (k, key), texts in pool.items() if old in texts), None)
        if kind is None:
            continue
        rest = _bigrams(fold(item.question.replace(old, "").replace(item.span.ask, "")))
        choices = sorted(set(pool[kind]) - {old}, key=lambda t: hashlib.sha1((item.question + t).encode()).hexdigest())
        for new in choices:
            question = item.question.replace(old, new, 1)
            if new in item.question or fold(question) in seen:
                continue
            if not any(fold(new) in s and len(rest & _bigrams(s)) * 2 >= len(rest) for s in corpus):
                return question
    return None


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1) if _is_cjk(text[i : i + 2])}


def _is_cjk(text: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" for ch in text)


__all__ = ["SPLIT", "DraftRow", "DraftSettings", "draft_eval_set", "draft_jsonl"]
