"""Word documents (.docx) via python-docx: heading styles give the sections, other paragraphs the text.

The document's ``text`` is its paragraphs and table rows (cells joined by `` | ``), in order,
separated by blank lines; passage offsets index that string. Paragraphs styled Title or Heading N
(or 標題 / 標題 N / 标题 N, or a style based on one of them) are headings of level N (Title: 1).
A document that uses no heading style at all is parsed from its text like a text file, so numbered
headings typed as plain paragraphs (一、 (一) 1.) still make sections.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from citeqa.corpus.model import Document
from citeqa.corpus.parse import Block, ParseSettings, _join, parse_blocks
from citeqa.errors import InputError

_HEADING_STYLE = re.compile(r"^(?:heading|標題|标题)\s*(\d)$")
_TITLE_STYLES = frozenset({"title", "標題", "标题"})
_CELL_SEPARATOR = " | "


def read_docx(raw: bytes, *, name: str, source: str, settings: ParseSettings | None = None) -> Document:
    """A .docx file's text and blocks. Raises InputError for files that are not Word documents."""
    from docx import Document as open_docx

    try:
        items = list(_items(open_docx(io.BytesIO(raw))))
    except Exception as exc:  # a damaged package surfaces as zip, XML or key errors
        raise InputError(f"{name}: not a readable Word document ({type(exc).__name__}: {exc})") from exc
    text = ""
    blocks: list[Block] = []
    for level, content in items:
        lines = [line.strip() for line in content.split("\n") if line.strip()]
        if not lines:
            continue
        text += "\n\n" if text else ""
        spans: list[tuple[int, int]] = []
        joined = ""
        for n, line in enumerate(lines):
            text += "\n" if n else ""
            spans.append((len(text), len(text) + len(line)))
            text += line
            joined = _join(joined, line) if joined else line
        if level is None:
            blocks.append(Block("paragraph", 0, joined, tuple(spans)))
        else:
            blocks.append(Block("heading", level, joined, tuple(spans)))
    if not text.strip():
        raise InputError(f"{name}: the document is empty")
    if not any(b.kind == "heading" for b in blocks):
        blocks = parse_blocks(text, settings)
    return Document(source, text, "docx", blocks=tuple(blocks))


def _items(document: Any) -> Iterator[tuple[int | None, str]]:
    """(heading level or None, text) of each body paragraph and table row, in document order."""
    from docx.table import Table

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells: list[str] = []
                seen: list[Any] = []
                for cell in row.cells:  # a merged cell is listed once per grid column it spans
                    if any(cell._tc is tc for tc in seen) or not cell.text.strip():
                        continue
                    seen.append(cell._tc)
                    cells.append(" ".join(cell.text.split()))
                yield None, _CELL_SEPARATOR.join(cells)
        else:
            yield heading_style_level(item.style), item.text


def heading_style_level(style: Any) -> int | None:
    """Level of a paragraph style: Heading 2 → 2, 標題 1 → 1, Title → 1, Normal → None.

    Styles based on a heading style (``base_style``) count as that heading.
    """
    for _ in range(10):  # base styles chain; a cycle in a damaged file must not hang
        if style is None:
            return None
        name = (style.name or "").strip().lower()
        if name in _TITLE_STYLES:
            return 1
        m = _HEADING_STYLE.match(name)
        if m and int(m.group(1)) > 0:
            return int(m.group(1))
        style = style.base_style
    return None
