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

from citeqa.corpus.limits import DEFAULT_MAX_DOC_BYTES, Budget, unpacked_zip
from citeqa.corpus.model import Document
from citeqa.corpus.parse import Block, ParseSettings, _join, parse_blocks
from citeqa.errors import InputError

_HEADING_STYLE = re.compile(r"^(?:heading|標題|标题)\s*(\d)$")
_TITLE_STYLES = frozenset({"title", "標題", "标题"})
_CELL_SEPARATOR = " | "


def read_docx(
    raw: bytes,
    *,
    name: str,
    source: str,
    settings: ParseSettings | None = None,
    max_bytes: int = DEFAULT_MAX_DOC_BYTES,
) -> Document:
    """A .docx file's text and blocks.

    Raises InputError for files that are not Word documents, and for those whose zip members or
    text come to more than ``max_bytes`` (see ``limits``).
    """
    from docx import Document as open_docx

    text_budget = Budget(name, max_bytes, "its text is", "characters")
    items: list[tuple[int | None, str]] = []
    try:
        package = unpacked_zip(raw, name=name, max_bytes=max_bytes)
        for level, content in _items(open_docx(io.BytesIO(package))):
            text_budget.add(len(content))
            items.append((level, content))
    except InputError:
        raise
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
            for row in _table_rows(item):
                yield None, row
        else:
            yield heading_style_level(item.style), item.text


def _table_rows(table: Any) -> Iterator[str]:
    """Each row's cells joined by `` | ``: a merged cell once, and again in each row it spans down.

    Read from the row's ``w:tc`` elements rather than python-docx's ``row.cells``, which lists a
    cell once per grid column it spans: a cell declaring a span of 10^9 would build a tuple that long.
    """
    from docx.table import _Cell

    above: dict[int, Any] = {}  # grid column → the cell whose text stands there in the row above
    for tr in table._tbl.tr_lst:
        here: dict[int, Any] = {}
        row: dict[int, Any] = {}  # by id: a damaged merge could name one cell twice; its text once
        column = tr.grid_before
        for tc in tr.tc_lst:
            # Further rows of a vertical merge show its first cell's text, as row.cells does.
            cell = above.get(column, tc) if tc.vMerge == "continue" else tc
            here[column] = cell
            column += tc.grid_span
            row.setdefault(id(cell), cell)
        above = here
        texts = (" ".join(_Cell(tc, table).text.split()) for tc in row.values())
        yield _CELL_SEPARATOR.join(t for t in texts if t)


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
