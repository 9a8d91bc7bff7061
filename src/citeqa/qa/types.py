"""The frozen result types of retrieval and answering."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Answer:
    """An answer with inline ``[n]`` markers; marker n points at ``citations[n-1]``."""

    question: str
    answer: str
    grounded: bool
    citations: tuple[Hit, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: question, answer, grounded, and citations as ``Hit.to_dict`` objects."""
        return {
            "question": self.question,
            "answer": self.answer,
            "grounded": self.grounded,
            "citations": [h.to_dict() for h in self.citations],
        }
