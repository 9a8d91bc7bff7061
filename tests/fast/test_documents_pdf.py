"""PDFs of your own: paragraphs without running headers or page numbers, pages on every passage.

The PDFs are written by reportlab (tests/documents.py).
"""

from __future__ import annotations

import pytest

from citeqa.corpus import load_corpus
from citeqa.corpus.formats.pdf import Layout, PdfLine, paragraph_breaks, running_lines
from citeqa.corpus.parse import ParseSettings
from documents import FOOTERS, HEADER, REPORT_PAGES, REPORT_PAGES_OF, REPORT_PARAGRAPHS, write_pdf


@pytest.mark.parametrize("footer", list(FOOTERS))
@pytest.mark.parametrize("style", ["indent", "gap"])
def test_pdf_paragraphs_without_running_header_or_page_numbers(tmp_path, footer, style):
    pdf = write_pdf(tmp_path / "report.pdf", footer=FOOTERS[footer], style=style)
    corpus = load_corpus([pdf])
    assert [p.text for p in corpus.passages] == REPORT_PARAGRAPHS
    assert [p.page for p in corpus.passages] == REPORT_PAGES_OF
    doc = corpus.documents[0]
    assert doc.encoding == "pdf" and len(doc.pages) == 4
    assert doc.text.count(HEADER) == 4  # the extracted text keeps them; the passages do not
    assert FOOTERS[footer](3, 4) in doc.text


def test_pdf_sections_labels_and_offsets(tmp_path):
    corpus = load_corpus([write_pdf(tmp_path / "report.pdf")])
    doc = corpus.documents[0]
    by_text = {p.text: p for p in corpus.passages}
    drone = by_text[REPORT_PARAGRAPHS[3]]
    assert drone.section == ("三、國防與科技",)
    assert drone.label.endswith(" p.3") and drone.to_dict()["page"] == 3
    assert by_text[REPORT_PARAGRAPHS[5]].section == ("結語",)
    for p in corpus.passages:
        # Offsets index the extracted text of the whole document; a page's passages lie on it.
        piece = doc.text[p.start : p.end]
        assert piece.startswith(p.text[:6]) and piece.endswith(p.text[-3:])
        page_end = doc.pages[p.page] if p.page < len(doc.pages) else len(doc.text)
        assert doc.pages[p.page - 1] <= p.start < page_end
    split = by_text[REPORT_PARAGRAPHS[1]]  # begins on page 1, ends on page 2
    assert split.page == 1 and split.end > doc.pages[1]


def test_pdf_single_page_keeps_a_lone_repeated_line(tmp_path):
    pdf = write_pdf(tmp_path / "one.pdf", pages=[REPORT_PAGES[2]], footer=None)
    assert [p.text for p in load_corpus([pdf]).passages] == REPORT_PARAGRAPHS[3:5]


def _page(*texts, top=800.0):
    return [PdfLine(t, 72.0, top - 20 * i, 10.0) for i, t in enumerate(texts)]


def _body(n: int, page: int) -> list[str]:
    return [f"body text line {chr(97 + i)} of page {chr(97 + page)}" for i in range(n)]


def test_running_lines_page_numbers_and_chapter_titles():
    pages = [
        _page("Chapter 1: Start 1", *_body(6, 0), "the end"),
        _page("Chapter 1: Start 2", *_body(6, 1), "the end 9"),  # 9 is not this page's number
        _page("Chapter 2: Next", *_body(6, 2), "3"),  # a chapter's first page: heading, number at the foot
        _page("Chapter 2: Next 4", *_body(6, 3), "the end"),  # the chapter's running title, on one page only
    ]
    found = {(pi, pages[pi][li].text) for pi, li in running_lines(pages, ParseSettings())}
    assert found == {
        (0, "Chapter 1: Start 1"), (1, "Chapter 1: Start 2"), (2, "3"), (3, "Chapter 2: Next 4"),
        (0, "the end"), (3, "the end"),  # the same footer on 2 of 4 pages
    }


def test_running_header_needs_enough_pages():
    pages = [_page("Report", *_body(6, i)) for i in range(6)]
    pages[3][0] = PdfLine("Other", 72.0, 800.0, 10.0)
    pages[4][0] = PdfLine("Other", 72.0, 800.0, 10.0)
    found = {pages[pi][li].text for pi, li in running_lines(pages, ParseSettings())}
    assert found == {"Report"}  # 4 of 6 pages; "Other" is on 2, fewer than 3


@pytest.mark.parametrize("number", ["7", "- 7 -", "— 7 —", "第 7 頁", "第7页", "Page 7 of 9", "7 / 9", "vii"])
def test_page_number_forms(number):
    pages = [_page("標題", "正文甲。", "正文乙。", number)]
    assert {pages[0][li].text for _, li in running_lines(pages, ParseSettings())} == {number}


@pytest.mark.parametrize("line", ["7. 總論", "第七章", "2024 年外交工作回顧", "mix"])
def test_not_page_numbers(line):
    pages = [_page("正文甲。", "正文乙。", "正文丙。", line)]
    assert running_lines(pages, ParseSettings()) == set()


def test_paragraph_breaks_by_gap_indent_and_short_line():
    lines = [
        PdfLine("一二三四五六七八九十一二三四五六七八九十", 72, 700, 12),
        PdfLine("一二三四五六七八九十一二三四五六七八九十", 72, 682, 12),  # same paragraph
        PdfLine("短句結束。", 72, 664, 12),
        PdfLine("新段落在短句之後一二三四五六七八九十一二", 72, 646, 12),  # after a short sentence end
        PdfLine("一二三四五六七八九十一二三四五六七八九十", 72, 610, 12),  # after a gap
        PdfLine("縮排的段落一二三四五六七八九十一二三四五", 96, 592, 12),  # indented
    ]
    assert paragraph_breaks(lines, Layout.of([lines])) == [True, False, False, True, True, True]
