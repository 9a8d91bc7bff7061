r"""PDF documents: per-page text via pypdf, running headers and page numbers removed, paragraphs rebuilt.

The document's ``text`` is the extracted text of every page, pages separated by ``"\n\f\n"``;
passage offsets (``start``/``end``) index that string and ``Document.pages`` holds the offset where
each page starts. Within a page the lines come in pypdf's reading order, with a blank line put
between paragraphs, which are found from the layout (``paragraph_breaks``: a vertical gap wider
than the line pitch, a first-line indent, a short line that ends a sentence, …).

Running headers and footers (lines at the top or bottom of many pages, the same apart from a page
number at either end) and page numbers ("3", "- 3 -", "第 3 頁", "Page 3 of 9") stay in ``text``
but not in the blocks, so a paragraph split by a page break is joined again exactly as the text
parser joins one split by a running header (it did not end a sentence, the next line is no heading).
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from statistics import median
from typing import Any

from citeqa.corpus.limits import DEFAULT_MAX_DOC_BYTES, PdfCounts, pypdf_configuration
from citeqa.corpus.model import Document
from citeqa.corpus.parse import ParseSettings, ends_sentence, heading_level, parse_blocks
from citeqa.errors import InputError

PAGE_BREAK = "\n\f\n"
_NUMBER_EDGE = 2  # page numbers are looked for in this many lines at the top and bottom of a page
_HEADER_EDGE = 3  # running headers/footers in this many
_CN = "〇零一二三四五六七八九十百"
# One page-number token: 3 · Page 3 · p. 3 · 3 / 9 · Page 3 of 9 · 第 3 頁 · 第3頁，共9頁 · iv
_PAGE_TOKEN = (
    rf"(?:(?:page|p\.)\s*)?\d+(?:\s*(?:/|／|of)\s*\d+)?"
    rf"|第\s*[\d{_CN}]+\s*[頁页](?:\s*[,，/／]?\s*共\s*[\d{_CN}]+\s*[頁页])?"
    r"|(?=[ivx])x{0,3}(?:ix|iv|v?i{0,3})"
)
_SEP = r"[\s\-–—~·•|]"
_PAGE_NUMBER = re.compile(rf"^{_SEP}*(?:{_PAGE_TOKEN}){_SEP}*$", re.IGNORECASE)
_LEADING_NUMBER = re.compile(rf"^{_SEP}*(?:{_PAGE_TOKEN}){_SEP}+(?=\S)", re.IGNORECASE)
_TRAILING_NUMBER = re.compile(rf"(?<=\S){_SEP}+(?:{_PAGE_TOKEN}){_SEP}*$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class PdfLine:
    """One line of a page: its text (stripped) and where it starts, in PDF units (y grows upwards)."""

    text: str
    x: float
    y: float
    size: float


def read_pdf(
    raw: bytes,
    *,
    name: str,
    source: str,
    settings: ParseSettings | None = None,
    max_bytes: int = DEFAULT_MAX_DOC_BYTES,
) -> Document:
    """A PDF's text, page offsets and blocks.

    Raises InputError for damaged, encrypted or image-only files, and for those that unpack to
    more than ``max_bytes`` (see ``extract_lines``).
    """
    settings = settings or ParseSettings()
    pages = extract_lines(raw, name=name, max_bytes=max_bytes)
    if not any(line.text for page in pages for line in page):
        raise InputError(f"{name}: the PDF has no text layer (a scan or images only); run OCR on it first")
    running = running_lines(pages, settings)
    body = [[ln for li, ln in enumerate(page) if (pi, li) not in running] for pi, page in enumerate(pages)]
    layout = Layout.of(body)
    text: list[str] = []
    masked: list[str] = []
    starts: list[int] = []
    pos = 0
    for pi, page in enumerate(pages):
        if pi:
            text.append(PAGE_BREAK)
            masked.append(PAGE_BREAK)
            pos += len(PAGE_BREAK)
        starts.append(pos)
        page_text, page_masked = _lay_out(page, {li for p, li in running if p == pi}, layout, pi)
        text.append(page_text)
        masked.append(page_masked)
        pos += len(page_text)
    blocks = parse_blocks("".join(masked), settings)
    return Document(source, "".join(text), "pdf", pages=tuple(starts), blocks=tuple(blocks))


def extract_lines(raw: bytes, *, name: str, max_bytes: int = DEFAULT_MAX_DOC_BYTES) -> list[list[PdfLine]]:
    """The lines of every page, in pypdf's reading order, with their positions.

    A compressed stream can inflate a thousandfold, so what the PDF unpacks to is held to
    ``max_bytes``: no one stream may inflate past it (pypdf's own limits), the page and form
    XObject streams extracted come to at most that much in all (a form counted each time it is
    drawn), and so does the text.
    """
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files log a warning per object
    counts = PdfCounts.of(name, max_bytes)
    try:
        with apply_configuration(pypdf_configuration(max_bytes)):
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted and not reader.decrypt(""):
                raise InputError(
                    f"{name}: the PDF is encrypted with a password; save an unprotected copy to index it"
                )
            return [_page_lines(page, counts) for page in reader.pages]
    except InputError:
        raise
    except LimitReachedError as exc:
        raise InputError(
            f"{name}: the PDF is over a limit while unpacking ({exc}); a stream may unpack to at most "
            f"{max_bytes:,} bytes (set CITEQA_MAX_DOC_BYTES to raise it)"
        ) from exc
    except Exception as exc:  # pypdf raises many different errors on damaged files
        raise InputError(f"{name}: not a readable PDF ({type(exc).__name__}: {exc})") from exc


def running_lines(pages: Sequence[Sequence[PdfLine]], settings: ParseSettings) -> set[tuple[int, int]]:
    """(page index, line index) of page numbers and running headers/footers.

    Near the top or bottom of a page: a line that is only a page number; a line whose text, a page
    number at either end taken off, is near the top or bottom of at least ``header_min_repeats``
    pages (at least 2, at most half the pages of a short document); and a line that ends (or starts)
    with the page's printed number, where that many pages print their number at the same offset
    from the page index (a chapter's running title on only two pages: ``"Chapter 2: Usage 3"``)
    on a page without a line that is only its number.
    """
    edges = [_edge_lines(page) for page in pages]
    need = max(2, min(settings.header_min_repeats, math.ceil(len(pages) / 2)))
    keys = Counter(k for pi, page in enumerate(pages) for k in {_key(page[li].text) for li in edges[pi][1]})
    offsets = Counter(
        o
        for pi, page in enumerate(pages)
        for o in {n - pi for li in edges[pi][0] for n in _page_numbers(page[li].text)}
    )
    offset, count = offsets.most_common(1)[0] if offsets else (0, 0)
    out: set[tuple[int, int]] = set()
    for pi, (number_edge, header_edge) in enumerate(edges):
        bare = {li for li in number_edge if _PAGE_NUMBER.match(pages[pi][li].text)}
        out.update((pi, li) for li in bare)
        for li in number_edge - bare if not bare and count >= need else ():  # a page prints its number once
            line = pages[pi][li].text
            if pi + offset in _page_numbers(line) and heading_level(line) is None:
                out.add((pi, li))
        for li in header_edge:
            line = pages[pi][li].text
            if keys[_key(line)] >= need and heading_level(line) is None:
                out.add((pi, li))
    return out


def _edge_lines(page: Sequence[PdfLine]) -> tuple[set[int], set[int]]:
    """Indices of the lines nearest the top and bottom of ``page``: (for page numbers, for headers)."""
    by_height = sorted(range(len(page)), key=lambda i: -page[i].y)
    near = {*by_height[:_NUMBER_EDGE], *by_height[-_NUMBER_EDGE:]}
    wider = {*by_height[:_HEADER_EDGE], *by_height[-_HEADER_EDGE:]}
    return near, wider


def _key(line: str) -> str:
    """A header's text without the page number at either end, marked as having had one.

    ``"外交工作回顧 - 3 -"`` → ``"外交工作回顧 #"``: a running header prints the page number on
    every page or on none, so a chapter's heading never shares the key of its running title.
    """
    core = _TRAILING_NUMBER.sub("", _LEADING_NUMBER.sub("", line))
    core = " ".join(core.split())
    return f"{core} #" if core != " ".join(line.split()) else core


@dataclass(frozen=True)
class Layout:
    """What a body line usually looks like in this document: the yardsticks of ``paragraph_breaks``.

    ``left`` is the left margin of odd and of even pages (mirrored margins differ): the smallest line
    start shared by several lines (one line further out, a hanging bullet, does not move it),
    ``pitch`` the usual distance between lines, ``width`` a full line's length in characters.
    """

    left: tuple[float | None, float | None]
    pitch: float | None
    width: int

    @classmethod
    def of(cls, pages: Sequence[Sequence[PdfLine]]) -> Layout:
        """Measure the body lines of every page."""
        lefts: tuple[Counter[int], Counter[int]] = (Counter(), Counter())
        steps: list[float] = []
        lengths: list[int] = []
        for pi, page in enumerate(pages):
            lefts[pi % 2].update(round(line.x) for line in page)
            lengths.extend(len(line.text) for line in page)
            steps.extend(a.y - b.y for a, b in pairwise(page) if 0 < a.y - b.y < 3 * b.size)
        width = sorted(lengths)[int(0.9 * (len(lengths) - 1))] if lengths else 0
        return cls((_margin(lefts[0]), _margin(lefts[1])), median(steps) if steps else None, width)


def _margin(starts: Counter[int]) -> float | None:
    if not starts:
        return None
    need = max(2, sum(starts.values()) // 20)
    shared = [x for x, n in starts.items() if n >= need]
    return float(min(shared or starts))


def _page_numbers(line: str) -> set[int]:
    """The numbers printed as a page number at either end of ``line``: ``"Page 3 of 9"`` → {3}."""
    found = set()
    for pattern in (_PAGE_NUMBER, _LEADING_NUMBER, _TRAILING_NUMBER):
        m = pattern.search(line)
        digits = _DIGITS.search(m.group()) if m else None
        if digits:
            found.add(int(digits.group()))
    return found


def _lay_out(lines: Sequence[PdfLine], running: set[int], layout: Layout, page_index: int) -> tuple[str, str]:
    """A page's text with blank lines between paragraphs, and the same with running lines blanked."""
    body = [i for i in range(len(lines)) if i not in running]
    breaks = paragraph_breaks([lines[i] for i in body], layout, page_index)
    starts = {i for i, brk in zip(body, breaks, strict=True) if brk}
    text: list[str] = []
    masked: list[str] = []
    prev: int | None = None
    for i, line in enumerate(lines):
        if prev is not None:
            sep = "\n\n" if i in running or prev in running or i in starts else "\n"
            text.append(sep)
            masked.append(sep)
        text.append(line.text)
        masked.append(" " * len(line.text) if i in running else line.text)
        prev = i
    return "".join(text), "".join(masked)


def paragraph_breaks(lines: Sequence[PdfLine], layout: Layout, page_index: int = 0) -> list[bool]:
    """For each body line of a page, whether a new paragraph starts there.

    Signals, any one enough: a vertical gap 1.4 times the usual line pitch (or over twice the font
    size), a move up the page (a new column), another font size, a start indented from the page's
    left margin, a line above that ends a sentence well short of a full line, or a heading line
    (一、, (一), 1. …) on either side, which then stands alone as in a text file. A break put in by
    mistake in mid-sentence costs nothing: the parser joins a paragraph that does not end a sentence.
    """
    left = layout.left[page_index % 2]
    out = [True] if lines else []
    for prev, cur in pairwise(lines):
        dy = prev.y - cur.y
        gap = dy > 2.2 * cur.size or (layout.pitch is not None and dy > 1.4 * layout.pitch)
        up = dy < -0.5 * cur.size
        resized = abs(cur.size - prev.size) > 0.15 * max(cur.size, prev.size)
        indent = left is not None and cur.x > left + 0.8 * cur.size
        short_end = layout.width >= 10 and ends_sentence(prev.text) and len(prev.text) < 0.8 * layout.width
        heading = heading_level(prev.text) is not None or heading_level(cur.text) is not None
        out.append(gap or up or resized or indent or short_end or heading)
    return out


def _page_lines(page: Any, counts: PdfCounts) -> list[PdfLine]:
    """Lines from pypdf's text pieces; each piece comes with the text and page matrices where it starts."""
    pieces: list[tuple[str, float, float, float]] = []

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], _font: Any, size: float) -> None:
        counts.text.add(len(text))
        if text:
            m = _times(tm, cm)
            pieces.append((text, m[4], m[5], float(size or 1.0) * (math.hypot(m[2], m[3]) or 1.0)))

    def before(operator: bytes, operands: Any, _cm: Any, _tm: Any) -> None:
        drawn = counts.form_size(page, operands[0]) if operator == b"Do" and operands else 0
        counts.streams.add(drawn)  # also stops the page at once when a form went over

    contents = page.get_contents()
    counts.streams.add(len(contents.get_data()) if contents is not None else 0)
    page.extract_text(visitor_text=visit, visitor_operand_before=before)
    counts.streams.add()  # pypdf drops an error raised inside a form XObject; raise it here
    lines: list[PdfLine] = []
    buf: list[str] = []
    where: tuple[float, float, float] | None = None

    def flush() -> None:
        nonlocal where
        text = "".join(buf).strip()
        if text and where is not None:
            lines.append(PdfLine(text, *where))
        buf.clear()
        where = None

    for text, x, y, size in pieces:
        for n, part in enumerate(text.split("\n")):
            if n:
                flush()
            if part.strip() and where is None:
                where = (x, y, size)
            buf.append(part)
    flush()
    return lines


def _times(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """The product of two PDF matrices ``[a b c d e f]`` (text matrix times transformation matrix)."""
    return [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
