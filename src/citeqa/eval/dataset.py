"""The known-fact evaluation set: questions about the bundled corpus, with evidence spans and answers.

The set is stored as JSON Lines, one question per line::

    {"id": "q001", "question": "…", "kind": "fact", "split": "dev",
     "evidence": ["exact substring of the document"], "answers": ["short answer"]}

A follow-up (kind ``followup``) also carries ``"previous"``: the question asked just before it, which
the follow-up leans on ("那荷蘭呢？" after "駐孟買辦事處何時揭牌？").

A line whose only key is ``_comment`` is a note for people (a drafted set says it is a draft to
review) and is skipped. ``load_eval_set`` validates every other line and raises
:class:`citeqa.errors.InputError` naming the file and line of the first problem it finds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

from citeqa.errors import InputError

KINDS: Final[tuple[str, ...]] = (
    "fact", "paraphrase", "simplified", "english", "multi", "user", "followup", "unanswerable", "offtopic",
    "conversation",
)
"""Question kinds: close wording, paraphrase, Simplified Chinese, English, two paragraphs, typed as users
type (colloquial, typos, mixed languages), a follow-up asked after ``previous``; and three that the
documents do not answer: on-topic near misses, off-topic questions, and conversation turns (greetings,
thanks, "who are you")."""

SPLITS: Final[tuple[str, ...]] = ("dev", "test")
"""``dev`` is for tuning and calibration; ``test`` is only reported."""

UNANSWERABLE: Final[str] = "unanswerable"
OFFTOPIC: Final[str] = "offtopic"
CONVERSATION: Final[str] = "conversation"
FOLLOWUP: Final[str] = "followup"
NOT_ANSWERABLE: Final[frozenset[str]] = frozenset({UNANSWERABLE, OFFTOPIC, CONVERSATION})

BUNDLED_EVAL_SET: Final[Traversable] = files("citeqa.eval").joinpath("data", "mofa-2024.jsonl")
"""The eval set for the bundled corpus ``mofa-2024-review.zh-TW.txt`` (package data)."""

_FIELDS: Final[tuple[str, ...]] = ("id", "question", "kind", "split", "evidence", "answers")
# batch: who wrote it, for reporting held-out batches apart; previous: what a follow-up leans on.
_OPTIONAL: Final[tuple[str, ...]] = ("batch", "previous", "answers_all")


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    """One evaluation question with the document spans that support its answer."""

    id: str
    question: str
    kind: str
    split: str
    evidence: tuple[str, ...]
    answers: tuple[str, ...]
    batch: str = ""
    previous: str = ""  # the question asked just before, for a follow-up; "" for one that stands alone
    # A list asked for (哪些…): a right answer holds every one of these, not just one of ``answers``.
    answers_all: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """Whether the document contains the answer (not an unanswerable, off-topic or conversation kind)."""
        return self.kind not in NOT_ANSWERABLE

    def answered_by(self, text: str) -> bool:
        """Whether ``text`` holds the answer: all of ``answers_all`` when given, else one of ``answers``."""
        from citeqa.eval.metrics import answer_correct

        return self.answerable and answer_correct(text, self.answers, self.answers_all)


def load_eval_set(path: Path | Traversable | None = None, split: str | None = None) -> list[EvalQuestion]:
    """Read and validate an eval set (the bundled one by default), optionally keeping one split.

    Raises:
        InputError: the file is missing or unreadable, a line is malformed, or ``split`` is unknown.

    """
    if split is not None and split not in SPLITS:
        raise InputError(f"Unknown split {split!r}: use one of {', '.join(SPLITS)}.")
    source = BUNDLED_EVAL_SET if path is None else path
    name = source.name
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"Eval set {name} not found: {source}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"Eval set {name} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise InputError(f"Cannot read eval set {name}: {exc}") from exc

    questions: list[EvalQuestion] = []
    first_line_of: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or _is_comment(line):
            continue
        question = _parse_line(line, f"{name}, line {lineno}")
        if question.id in first_line_of:
            raise InputError(
                f"{name}, line {lineno}: duplicate id {question.id!r} (first used on line "
                f"{first_line_of[question.id]})."
            )
        first_line_of[question.id] = lineno
        questions.append(question)
    if not questions:
        raise InputError(f"Eval set {name} contains no questions.")
    if split is not None:
        questions = [q for q in questions if q.split == split]
    return questions


def _is_comment(line: str) -> bool:
    """A line whose only key is ``_comment`` (JSON Lines has no comments): ``{"_comment": "draft: review"}``."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError:
        return False  # reported as bad JSON by _parse_line
    return isinstance(raw, dict) and set(raw) == {"_comment"} and isinstance(raw["_comment"], str)


def _parse_line(line: str, where: str) -> EvalQuestion:
    """Turn one JSON line into an :class:`EvalQuestion`, or raise :class:`InputError` saying why not."""
    try:
        raw: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: bad JSON ({exc.msg} at column {exc.colno}).") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(raw).__name__}.")
    missing = [f for f in _FIELDS if f not in raw]
    if missing:
        raise InputError(f"{where}: missing field(s) {', '.join(missing)}.")
    unknown = sorted(set(raw) - set(_FIELDS) - set(_OPTIONAL))
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(unknown)}.")

    qid = _text(raw, "id", where)
    question = _text(raw, "question", where)
    kind = _text(raw, "kind", where)
    split = _text(raw, "split", where)
    if kind not in KINDS:
        raise InputError(f"{where}: unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
    if split not in SPLITS:
        raise InputError(f"{where}: unknown split {split!r}; use one of {', '.join(SPLITS)}.")
    evidence = _texts(raw, "evidence", where)
    answers = _texts(raw, "answers", where)
    answers_all = _texts(raw, "answers_all", where) if "answers_all" in raw else ()
    if answers_all and kind in NOT_ANSWERABLE:
        raise InputError(f"{where}: a question of kind {kind} has no answers_all.")

    if kind in NOT_ANSWERABLE:
        if evidence or answers:
            raise InputError(f"{where}: a question of kind {kind} must have empty evidence and answers.")
    else:
        if not evidence:
            raise InputError(f"{where}: an answerable question ({kind}) needs at least one evidence span.")
        if not answers:
            raise InputError(f"{where}: an answerable question ({kind}) needs at least one answer.")
        if kind == "multi" and len(evidence) < 2:
            raise InputError(f"{where}: a multi question needs evidence spans from two paragraphs.")
        for answer in answers + answers_all:
            if not any(answer in span for span in evidence):
                raise InputError(f"{where}: answer {answer!r} is not inside any of its evidence spans.")
    batch = raw.get("batch", "")
    if not isinstance(batch, str):
        raise InputError(f"{where}: field 'batch' must be a string.")
    previous = _previous(raw, kind, question, where)
    return EvalQuestion(qid, question, kind, split, evidence, answers, batch, previous, answers_all)


def _previous(raw: dict[str, Any], kind: str, question: str, where: str) -> str:
    """The optional ``previous`` question: required for a follow-up, never the question itself."""
    if "previous" not in raw:
        if kind == FOLLOWUP:
            raise InputError(f"{where}: a followup question needs the 'previous' question it follows.")
        return ""
    previous = _text(raw, "previous", where)
    if previous.strip() == question.strip():
        raise InputError(f"{where}: field 'previous' repeats the question itself.")
    return previous


def _text(raw: dict[str, Any], field: str, where: str) -> str:
    """Return a required non-empty string field."""
    value = raw[field]
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: field {field!r} must be a non-empty string.")
    return value


def _texts(raw: dict[str, Any], field: str, where: str) -> tuple[str, ...]:
    """Return a required list-of-non-empty-strings field as a tuple."""
    value = raw[field]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(f"{where}: field {field!r} must be a list of non-empty strings.")
    return tuple(value)


__all__ = ["BUNDLED_EVAL_SET", "FOLLOWUP", "KINDS", "SPLITS", "EvalQuestion", "load_eval_set"]
