"""Chunk parsed blocks into passages: by section, one paragraph per passage.

A paragraph longer than ``max_chars`` is split at sentence ends; its pieces keep the paragraph's
id with a ``.k`` suffix, so ids stay stable across runs and edits elsewhere in the document.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from citeqa.corpus.model import Passage
from citeqa.corpus.parse import Block
from citeqa.errors import InputError
from citeqa.text.sentences import SENTENCE

_NUMBERING = re.compile(r"^([一二三四五六七八九十百]+、|[(（][一二三四五六七八九十百]+[)）]|\d{1,2}[.．、])\s*")
_LABEL_TAIL = 24  # characters of the innermost heading shown in a label


@dataclass(frozen=True)
class ChunkSettings:
    """Passage size limit in characters; longer paragraphs are split at sentence ends."""

    max_chars: int = 500

    def __post_init__(self) -> None:
        if self.max_chars < 20:
            raise InputError(f"max_chars must be at least 20, got {self.max_chars}")


def chunk_blocks(blocks: list[Block], source: str, settings: ChunkSettings | None = None) -> list[Passage]:
    """Turn headings + paragraphs into passages carrying their heading path.

    Headings never become passages; they travel in ``section`` (for embedding and display).
    """
    settings = settings or ChunkSettings()
    stack: list[tuple[int, str]] = []
    ordinal = 0
    seen_keys: dict[str, int] = {}
    key = _section_key(())
    passages: list[Passage] = []
    for block in blocks:
        if block.kind == "heading":
            stack = [(lvl, t) for lvl, t in stack if lvl < block.level]
            stack.append((block.level, block.text))
            section = tuple(t for _, t in stack)
            base = _section_key(section)
            n = seen_keys.get(base, 0)
            seen_keys[base] = n + 1
            key = base if n == 0 else f"{base}~{n}"  # a repeated heading path gets its own key
            ordinal = 0
            continue
        ordinal += 1
        section = tuple(t for _, t in stack)
        pid = f"{source}#{key}-p{ordinal}"
        label = f"{section_label(section)} ¶{ordinal}".strip()
        pieces = split_long(block.text, settings.max_chars)
        for k, (offset, piece) in enumerate(pieces, start=1):
            suffix = f".{k}" if len(pieces) > 1 else ""
            start, end = _piece_span(block, offset, len(piece))
            passages.append(Passage(f"{pid}{suffix}", source, section, f"{label}{suffix}", piece, start, end))
    return passages


def section_label(section: tuple[str, ...]) -> str:
    """A short citation: the numbering of each outer heading, then the innermost heading.

    ``("一、以民主為基礎…", "(一) 邦誼穩固，互惠共榮", "1. 高層互訪，成效斐然。")``
    → ``一、(一) 1. 高層互訪，成效斐然``.
    """
    if not section:
        return ""
    parts = []
    for heading in section[:-1]:
        m = _NUMBERING.match(heading)
        if m:
            parts.append(m.group(1))
    last = section[-1].rstrip("。.")
    m = _NUMBERING.match(last)
    if m:
        parts.append(m.group(1))
        last = last[m.end() :]
    if len(last) > _LABEL_TAIL:
        last = last[:_LABEL_TAIL] + "…"
    prefix = "".join(p if not p[0].isdigit() else f" {p} " for p in parts).strip()
    return f"{prefix} {last}".strip() if prefix else last


def label_with_page(label: str, page: int) -> str:
    """A PDF passage's label names the page it starts on: ``"一、(一) ¶2"``, 3 → ``"一、(一) ¶2 p.3"``."""
    return f"{label} p.{page}".strip()


def split_long(text: str, max_chars: int) -> list[tuple[int, str]]:
    """Pack whole sentences into pieces of at most ``max_chars``; returns (offset, piece) pairs."""
    if len(text) <= max_chars:
        return [(0, text)]
    pieces: list[tuple[int, str]] = []
    start = 0
    cur = 0
    for m in SENTENCE.finditer(text):
        e = m.end()
        if e - start > max_chars and cur > start:
            pieces.append((start, text[start:cur]))
            start = cur
        while e - start > max_chars:  # one sentence longer than the limit: cut it hard
            pieces.append((start, text[start : start + max_chars]))
            start += max_chars
        cur = e
    if start < len(text):
        pieces.append((start, text[start:]))
    return pieces


def _piece_span(block: Block, offset: int, length: int) -> tuple[int, int]:
    """Map a character range of the (joined) paragraph text back to source offsets."""
    if len(block.spans) == 1:
        return block.start + offset, block.start + offset + length
    return _map(block, offset), _map(block, offset + length, end=True)


def _map(block: Block, pos: int, *, end: bool = False) -> int:
    consumed = 0
    for s, e in block.spans:
        n = e - s
        if pos < consumed + n or (end and pos == consumed + n):
            return s + (pos - consumed)
        consumed += n
        if _joined_with_space(block, consumed):
            consumed += 1
    return block.end


def _joined_with_space(block: Block, consumed: int) -> bool:
    return consumed < len(block.text) and block.text[consumed] == " "


def _section_key(section: tuple[str, ...]) -> str:
    digest = hashlib.blake2b("\x1f".join(section).encode("utf-8"), digest_size=4).hexdigest()
    return digest
