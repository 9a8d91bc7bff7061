"""Parse document text into headings and paragraphs, with character offsets into the text.

Handles what PDF-extracted reports do to text: running page headers between (and inside)
paragraphs, paragraphs split by a page break, headings broken across two lines, Markdown bold
and list dashes on headings. Markdown ``#`` headings and Chinese numbering share one model.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

# Heading patterns, outermost first. Levels: 1 一、 / 結語, 2 (一), 3 "1." item titles.
_CN_NUM = "一二三四五六七八九十百"
_LEVEL1 = re.compile(rf"^[{_CN_NUM}]+、")
_LEVEL2 = re.compile(rf"^[(（][{_CN_NUM}]+[)）]")
_LEVEL3 = re.compile(r"^\d{1,2}[.．、]\s*\S")
_MARKDOWN = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_STANDALONE = frozenset({"結語", "結論", "前言", "摘要", "附錄", "序言", "總結"})
_DECOR = re.compile(r"^(?:[-*+]\s+)?(?:\*\*|__)?(.*?)(?:\*\*|__)?\s*$")
_SENTENCE_END = "。！？!?."
_CLOSERS = "」』”’）)】》"
_MAX_HEADING = 60  # longer lines are body text even when they start with a number
_MAX_ITEM_TITLE = 40


@dataclass(frozen=True)
class Block:
    """A heading or a paragraph. ``spans`` are the (start, end) pieces of the source it came from."""

    kind: Literal["heading", "paragraph"]
    level: int
    text: str
    spans: tuple[tuple[int, int], ...]

    @property
    def start(self) -> int:
        """Source offset where the block's first piece starts."""
        return self.spans[0][0]

    @property
    def end(self) -> int:
        """Source offset where the block's last piece ends."""
        return self.spans[-1][1]


@dataclass(frozen=True)
class ParseSettings:
    """How running headers are recognised: short lines repeated at least this often."""

    header_min_repeats: int = 3
    header_max_chars: int = 30


@dataclass(frozen=True)
class _Line:
    text: str  # stripped
    start: int
    end: int


def parse_blocks(text: str, settings: ParseSettings | None = None) -> list[Block]:
    r"""Split ``text`` into headings and paragraphs.

    Example: ``"一、總論\n\n1. 要點。\n\n內文甲\n\n頁首\n\n內文乙。"`` with ``頁首`` repeated as a
    running header gives heading(1, 一、總論), heading(3, 1. 要點。), paragraph(內文甲內文乙。).
    """
    settings = settings or ParseSettings()
    groups = _line_groups(text)
    headers = running_headers(groups, settings)
    groups = [g for g in groups if not (len(g) == 1 and g[0].text in headers)]
    blocks: list[Block] = []
    pending_join = False  # the last paragraph ended mid-sentence (a page break split it)
    continuable = False  # the last block is a heading that may go on in the next line
    for gi, group in enumerate(groups):
        next_is_heading = gi + 1 == len(groups) or heading_level(groups[gi + 1][0].text) is not None
        for i, line in enumerate(group):
            # A lone first line is the title only when text follows: a one-line note is its own paragraph.
            level = heading_level(line.text, first_line=gi == 0 and len(group) == 1 and len(groups) > 1)
            if level is not None:
                blocks.append(Block("heading", level, clean_heading(line.text), ((line.start, line.end),)))
                pending_join = False
                continuable = not _MARKDOWN.match(line.text)
                continue
            prev = blocks[-1] if blocks else None
            # A heading broken across lines: its tail is a short line standing alone before the next heading.
            if (
                prev is not None
                and prev.kind == "heading"
                and continuable
                and len(group) == 1
                and next_is_heading
                and _heading_continues(prev, line)
            ):
                blocks[-1] = Block(
                    "heading", prev.level, prev.text + clean_heading(line.text), (*prev.spans, (line.start, line.end))
                )
                continuable = False
                continue
            continuable = False
            joins_soft_wrap = i > 0 and prev is not None and prev.kind == "paragraph"
            if prev is not None and prev.kind == "paragraph" and (pending_join or joins_soft_wrap):
                blocks[-1] = Block(
                    "paragraph", 0, _join(prev.text, line.text), (*prev.spans, (line.start, line.end))
                )
            else:
                blocks.append(Block("paragraph", 0, line.text, ((line.start, line.end),)))
            pending_join = not ends_sentence(blocks[-1].text)
    return blocks


def running_headers(groups: list[list[_Line]], settings: ParseSettings) -> frozenset[str]:
    # Only one-line paragraphs count: a header stands between paragraphs on its own.
    """Short one-line paragraphs that repeat: page headers/footers left by PDF extraction."""
    counts = Counter(g[0].text for g in groups if len(g) == 1 and len(g[0].text) <= settings.header_max_chars)
    return frozenset(
        t for t, n in counts.items() if n >= settings.header_min_repeats and heading_level(t) is None
    )


def heading_level(line: str, *, first_line: bool = False) -> int | None:
    """The heading level of a line, or None for body text."""
    md = _MARKDOWN.match(line)
    if md:
        return len(md.group(1))
    core = clean_heading(line)
    if not core or len(core) > _MAX_HEADING:
        return None
    if _LEVEL1.match(core) or core in _STANDALONE:
        return 1
    if _LEVEL2.match(core):
        return 2
    if _LEVEL3.match(core) and len(core) <= _MAX_ITEM_TITLE and core.count("。") <= 1:
        return 3
    # A short first line without sentence punctuation is the document's title.
    if first_line and len(core) <= _MAX_ITEM_TITLE and not ends_sentence(core) and "，" not in core:
        return 1
    return None


def clean_heading(line: str) -> str:
    """Strip Markdown ``#``, list dashes and bold markers; keep brackets and spacing as published."""
    md = _MARKDOWN.match(line)
    core = md.group(2) if md else line
    m = _DECOR.match(core.strip())
    core = m.group(1) if m else core
    return core.replace("**", "").strip()


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends at a sentence end (closing quotes and brackets allowed after it)."""
    t = text.rstrip().rstrip(_CLOSERS)
    return bool(t) and t[-1] in _SENTENCE_END


def _heading_continues(heading: Block, line: _Line) -> bool:
    """A heading broken across lines: it has no end punctuation and the next short line neither."""
    return (
        heading.level <= 2
        and len(heading.spans) == 1
        and not ends_sentence(heading.text)
        and not heading.text.endswith(("：", ":"))
        and len(line.text) <= _MAX_ITEM_TITLE
        and not ends_sentence(line.text)
    )


def _join(left: str, right: str) -> str:
    """Join two pieces of one paragraph: no space between CJK characters, one between Latin words."""
    if (
        left
        and right
        and left[-1].isascii()
        and right[0].isascii()
        and right[0].isalnum()
        and (left[-1].isalnum() or left[-1] in ",.;:!?)]\"'")
    ):
        return f"{left} {right}"
    return left + right


def _line_groups(text: str) -> list[list[_Line]]:
    """Non-empty lines with their offsets, grouped by blank lines."""
    groups: list[list[_Line]] = []
    current: list[_Line] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        stripped = body.strip()
        if stripped:
            lead = len(body) - len(body.lstrip())
            current.append(_Line(stripped, pos + lead, pos + lead + len(stripped)))
        elif current:
            groups.append(current)
            current = []
        pos += len(raw)
    if current:
        groups.append(current)
    return groups
