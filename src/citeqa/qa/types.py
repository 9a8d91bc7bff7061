"""The frozen result types of retrieval and answering."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from citeqa.corpus import Passage


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its score; ``quote_*`` mark the cited sentence inside ``text``."""

    passage: Passage
    score: float
    quote_start: int | None = None
    quote_end: int | None = None

    @property
    def id(self) -> str:
        """The cited passage's id, the key that fusion and citations deduplicate on."""
        return self.passage.id

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: id, section, label, text, score, source, start, end (+ page, quote span)."""
        p = self.passage
        d: dict[str, Any] = {
            "id": p.id,
            "section": list(p.section),
            "label": p.label,
            "text": p.text,
            "score": round(float(self.score), 6),
            "source": p.source,
            "start": p.start,
            "end": p.end,
        }
        if p.page is not None:
            d["page"] = p.page
        if self.quote_start is not None:
            d["quote_start"] = self.quote_start
            d["quote_end"] = self.quote_end
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hit:
        """The inverse of ``to_dict`` (the score as rounded there): a hit kept as JSON, read back."""
        passage = Passage(
            id=str(d["id"]), source=str(d["source"]), section=tuple(str(s) for s in d["section"]),
            label=str(d["label"]), text=str(d["text"]), start=int(d["start"]), end=int(d["end"]),
            page=None if d.get("page") is None else int(d["page"]),
        )
        start, end = d.get("quote_start"), d.get("quote_end")
        return cls(passage, float(d["score"]), None if start is None else int(start), None if end is None else int(end))


class Outcome(enum.StrEnum):
    """What a question got: an answer, an uncertain quote, "the documents do not say", or a reply."""

    ANSWERED = "answered"
    UNCERTAIN = "uncertain"  # related text is quoted and cited, said first to possibly not answer this
    NOT_FOUND = "not_found"
    CONVERSATION = "conversation"


@dataclass(frozen=True)
class Answer:
    """An answer with inline ``[n]`` markers; marker n points at ``citations[n-1]``.

    ``grounded`` is true exactly when ``outcome`` is answered (left out, the outcome follows from it).
    ``confidence`` (0–1) is how likely the quoted answer is right; None where nothing was scored.
    ``question`` is the text the user typed; ``resolved`` the standalone question that was answered
    instead, for a follow-up read with the previous one (那荷蘭呢？ → 駐荷蘭辦事處何時揭牌？).
    ``id`` names this one answer (a random 32-hex token the engine gives every answer it returns):
    the key a client rates it by (``POST /api/feedback``) and the question log keeps it under.
    None only for answers made outside the engine (tests, answers stored before ids existed).
    """

    question: str
    answer: str
    grounded: bool
    citations: tuple[Hit, ...]
    outcome: Outcome | None = None
    confidence: float | None = None
    resolved: str | None = None
    follows: bool = False  # read with the previous question (a follow-up); not part of the JSON contract
    # Not compared: the same answer given twice is equal, whatever each delivery was labelled.
    id: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.outcome is None:
            object.__setattr__(self, "outcome", Outcome.ANSWERED if self.grounded else Outcome.NOT_FOUND)
        if self.grounded != (self.outcome is Outcome.ANSWERED):
            raise ValueError(f"grounded={self.grounded} contradicts outcome {self.outcome}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: id, question, answer, grounded, citations, outcome, confidence, resolved.

        ``id`` and ``confidence`` are always there (null where there is none); ``resolved`` only for a follow-up.
        """
        d: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "grounded": self.grounded,
            "citations": [h.to_dict() for h in self.citations],
            "outcome": str(self.outcome),
            "confidence": self.confidence,
        }
        if self.resolved is not None:
            d["resolved"] = self.resolved
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Answer:
        """The inverse of ``to_dict``; ``follows``, outside the contract, is read when the dict has it."""
        confidence = d.get("confidence")
        resolved = d.get("resolved")
        answer_id = d.get("id")
        return cls(
            question=str(d["question"]), answer=str(d["answer"]), grounded=bool(d["grounded"]),
            citations=tuple(Hit.from_dict(h) for h in d["citations"]), outcome=Outcome(d["outcome"]),
            confidence=None if confidence is None else float(confidence),
            resolved=None if resolved is None else str(resolved), follows=bool(d.get("follows", False)),
            id=None if answer_id is None else str(answer_id),
        )
