"""Frozen result types of the corpus stage."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from citeqa.corpus.parse import Block


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
        """A JSON-ready dict: ``section`` as a list, ``page`` left out for non-PDF passages."""
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
    """A document read from disk, decoded to text.

    ``encoding`` is the text encoding found (``utf-8``, ``cp950``, …), or ``pdf`` / ``docx`` for text
    extracted from those formats. ``pages`` holds the offset in ``text`` where each page starts
    (PDFs only; empty otherwise). ``blocks`` is the structure found while reading (PDF layout with
    running headers removed, DOCX heading styles); None for plain text, which is parsed from ``text``.
    """

    source: str
    text: str
    encoding: str
    pages: tuple[int, ...] = ()
    blocks: tuple[Block, ...] | None = field(default=None, compare=False, repr=False)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding ``offset`` of ``text``, or None for a document without pages."""
        if not self.pages:
            return None
        return max(1, bisect_right(self.pages, offset))


@dataclass(frozen=True)
class Skipped:
    """A file found in a folder that could not be read, and why (the reason names the file)."""

    path: str
    reason: str
