"""Frozen result types of the corpus stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Passage:
    """One citable unit: a paragraph (or a sentence-aligned piece of a long one) of a source document.

    ``text`` is the paragraph as published, minus running page headers; ``source_text[start:end]``
    contains it, apart from the removed headers and line breaks of a paragraph the PDF split.
    """

    id: str
    source: str
    section: tuple[str, ...]
    label: str
    text: str
    start: int
    end: int
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["section"] = list(self.section)
        if self.page is None:
            del d["page"]
        return d

    @property
    def embed_text(self) -> str:
        """Text used for encoding and lexical matching only: the heading path gives context."""
        heads = " > ".join(self.section)
        return f"{heads}\n{self.text}" if heads else self.text


@dataclass(frozen=True)
class Document:
    """A document read from disk, decoded to text."""

    source: str
    text: str
    encoding: str
