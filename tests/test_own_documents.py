"""Your own documents: PDF, DOCX, Big5 and UTF-16 text in folders; incremental indexing; --source.

Fixtures are real files written by the tests: PDFs by reportlab (Chinese text in its built-in
Adobe CID font, so no font file is needed), DOCX by python-docx, text encoded here.
"""

from __future__ import annotations

import codecs
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from citeqa.corpus import ChunkSettings, CorpusSettings, load_corpus
from citeqa.corpus.formats.pdf import Layout, PdfLine, paragraph_breaks, running_lines
from citeqa.corpus.loader import path_selected
from citeqa.corpus.parse import ParseSettings
from citeqa.errors import InputError
from citeqa.index import build_index, open_index
from citeqa.index.local.store import read_generation
from citeqa.qa.engine import Engine
from citeqa.settings import Settings

HEADER = "2024 年外交工作回顧"
# Pages of the report PDF: "  " starts an indented first line; "" is an extra gap. The paragraph
# at the end of page 1 goes on at the top of page 2.
REPORT_PAGES = [
    [
        "外交工作年度報告",
        "一、總論",
        "  外交部持續推動榮邦計畫，與友邦合作",
        "參與世界衛生組織，深化實質合作。",
        "  第二段說明與友邦的醫療合作，包括",
        "教育與農業等領域，",
    ],
    [
        "持續深化夥伴關係。",
        "二、經貿合作",
        "  駐孟買辦事處十月正式揭牌對外運作，",
        "促進台印經貿交流。",
    ],
    [
        "三、國防與科技",
        "  台灣與立陶宛合作發展無人機產業，",
        "強化供應鏈韌性。",
        "  第五段很短。",
    ],
    [
        "結語",
        "  展望未來，外交部將持續努力。",
    ],
]
REPORT_PARAGRAPHS = [
    "外交部持續推動榮邦計畫，與友邦合作參與世界衛生組織，深化實質合作。",
    "第二段說明與友邦的醫療合作，包括教育與農業等領域，持續深化夥伴關係。",
    "駐孟買辦事處十月正式揭牌對外運作，促進台印經貿交流。",
    "台灣與立陶宛合作發展無人機產業，強化供應鏈韌性。",
    "第五段很短。",
    "展望未來，外交部將持續努力。",
]
REPORT_PAGES_OF = [1, 1, 2, 3, 3, 4]
FOOTERS = {
    "dashes": lambda n, total: f"- {n} -",
    "chinese": lambda n, total: f"第 {n} 頁",
    "of-total": lambda n, total: f"Page {n} of {total}",
    "bare": lambda n, total: str(n),
}

DOCX_TEXT = {
    "intro": "本報告說明年度外交重點。",
    "general": "總論段落談到太平洋友邦的援助計畫。",
    "trade": "經貿段落提及半導體供應鏈合作。",
    "end": "結論段落感謝各界支持。",
}
MD_TEXT = "# 海洋政策\n\n海巡署加強巡護南海海域，維護漁民安全。\n\n## 氣候\n\n推動淨零排放與綠能轉型。\n"
TXT_TEXT = "一、文化交流\n\n故宮文物赴歐洲巡迴展覽，吸引大批觀眾。\n"


# --------------------------------------------------------------------------- fixture writers


def write_pdf(path: Path, pages=REPORT_PAGES, *, header: str | None = HEADER, footer=FOOTERS["dashes"],
              style: str = "indent") -> Path:
    """A PDF like a printed report: running header, page numbers, paragraphs by indent or gap."""
    pytest.importorskip("reportlab", reason="reportlab (the [test] extra) writes the PDF fixtures")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("MSung-Light"))  # Adobe CNS1, not embedded: no font file needed
    c = canvas.Canvas(str(path), pagesize=(595, 842), invariant=1)
    for n, lines in enumerate(pages, start=1):
        if header:
            c.setFont("MSung-Light", 9)
            c.drawString(72, 800, header)
        y = 760.0
        for line in lines:
            first = line.startswith("  ")
            if style == "gap" and first and y < 760:
                y -= 14
            c.setFont("MSung-Light", 12)
            c.drawString(96 if first and style == "indent" else 72, y, line.strip())
            y -= 18
        if footer:
            c.setFont("MSung-Light", 9)
            c.drawCentredString(297, 40, footer(n, len(pages)))
        c.showPage()
    c.save()
    return path


def write_docx(path: Path, *, styled: bool = True) -> Path:
    from docx import Document as new_docx
    from docx.enum.style import WD_STYLE_TYPE

    d = new_docx()
    if not styled:
        for text in ("一、總論", DOCX_TEXT["general"], "二、結論", DOCX_TEXT["end"]):
            d.add_paragraph(text)
        d.save(str(path))
        return path
    d.add_heading("年度報告", level=0)  # Title
    d.add_paragraph(DOCX_TEXT["intro"])
    d.add_heading("一、總論", level=1)
    d.add_paragraph(DOCX_TEXT["general"])
    based = d.styles.add_style("Sub Heading", WD_STYLE_TYPE.PARAGRAPH)
    based.base_style = d.styles["Heading 2"]
    d.add_paragraph("(一) 經貿", style="Sub Heading")
    p = d.add_paragraph("經貿段落提及半導體")
    p.add_run().add_break()
    p.add_run("供應鏈合作。")
    d.styles.add_style("標題 1", WD_STYLE_TYPE.PARAGRAPH)
    d.add_paragraph("二、結論", style="標題 1")
    d.add_paragraph(DOCX_TEXT["end"])
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "國家"
    table.rows[0].cells[1].text = "援助金額"
    d.save(str(path))
    return path


def mixed_folder(root: Path) -> Path:
    """report.pdf, notes.docx, sea.md (UTF-16 with BOM), sub/culture.txt (Big5)."""
    (root / "sub").mkdir(parents=True)
    write_pdf(root / "report.pdf")
    write_docx(root / "notes.docx")
    (root / "sea.md").write_bytes(codecs.BOM_UTF16_LE + MD_TEXT.encode("utf-16-le"))
    (root / "sub" / "culture.txt").write_bytes(TXT_TEXT.encode("big5"))
    return root


class CountingEmbedder:
    """Wraps the fake embedder and records every text it is asked to embed."""

    def __init__(self, inner, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.dim, self.fingerprint = inner.dim, inner.fingerprint
        self.texts: list[str] = []

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, *, progress=False):
        self.texts.extend(texts)
        return self.inner.encode_passages(texts)


def _index(paths, embedder, index_dir, settings=None, **kw):
    settings = settings or CorpusSettings()
    log: list[str] = []
    corpus = load_corpus(paths, settings)
    built = build_index(corpus, embedder, index_dir, corpus_settings=settings,
                        progress=False, log=log.append, **kw)
    return built, log


def _engine(index_dir, embedder, tmp_path):
    settings = Settings.from_env({}, index_dir=index_dir, cache_dir=tmp_path / "cache")
    index = open_index(index_dir, embedder, corpus_settings=CorpusSettings())
    return Engine.assemble(settings, embedder, index)


# --------------------------------------------------------------------------- PDF


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


# --------------------------------------------------------------------------- DOCX


def test_docx_heading_styles_make_sections(tmp_path):
    corpus = load_corpus([write_docx(tmp_path / "notes.docx")])
    got = [(p.section, p.text) for p in corpus.passages]
    assert got == [
        (("年度報告",), DOCX_TEXT["intro"]),
        (("一、總論",), DOCX_TEXT["general"]),
        (("一、總論", "(一) 經貿"), DOCX_TEXT["trade"]),  # the line break inside the paragraph is joined
        (("二、結論",), DOCX_TEXT["end"]),
        (("二、結論",), "國家 | 援助金額"),
    ]
    doc = corpus.documents[0]
    assert doc.encoding == "docx" and all(p.page is None for p in corpus.passages)
    assert all(doc.text[p.start : p.end].replace("\n", "") == p.text for p in corpus.passages)


def test_docx_without_heading_styles_is_parsed_like_text(tmp_path):
    corpus = load_corpus([write_docx(tmp_path / "plain.docx", styled=False)])
    assert [(p.section, p.text) for p in corpus.passages] == [
        (("一、總論",), DOCX_TEXT["general"]),
        (("二、結論",), DOCX_TEXT["end"]),
    ]


# --------------------------------------------------------------------------- a mixed folder


def test_mixed_folder_of_four_formats(tmp_path):
    corpus = load_corpus([mixed_folder(tmp_path / "docs")])
    assert [d.source for d in corpus.documents] == ["notes.docx", "report.pdf", "sea.md", "sub/culture.txt"]
    assert [d.encoding for d in corpus.documents][2:] == ["utf-16", "cp950"]
    assert corpus.skipped == ()
    assert corpus.paths["sub/culture.txt"] == tmp_path / "docs" / "sub" / "culture.txt"
    texts = {p.text for p in corpus.passages}
    assert "故宮文物赴歐洲巡迴展覽，吸引大批觀眾。" in texts and "推動淨零排放與綠能轉型。" in texts


@pytest.fixture(scope="module")
def mixed_engine(tmp_path_factory, fake_embedder) -> Engine:
    base = tmp_path_factory.mktemp("mixed")
    _index([mixed_folder(base / "docs")], fake_embedder, base / "idx")
    return _engine(base / "idx", fake_embedder, base)


@pytest.mark.parametrize(
    ("query", "source", "page"),
    [
        ("立陶宛無人機產業", "report.pdf", 3),
        ("駐孟買辦事處揭牌", "report.pdf", 2),
        ("半導體供應鏈合作", "notes.docx", None),
        ("海巡署巡護南海", "sea.md", None),
        ("故宮文物巡迴展覽", "sub/culture.txt", None),
    ],
)
def test_mixed_folder_is_searched_and_cited_per_file_and_page(mixed_engine, query, source, page):
    top = mixed_engine.search(query, 3)[0].to_dict()
    assert top["source"] == source
    assert top.get("page") == page
    assert top["label"].endswith(f" p.{page}") == (page is not None)


# --------------------------------------------------------------------------- bad files


def _encrypted_pdf(good: Path, path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter(clone_from=PdfReader(good))
    w.encrypt("secret", algorithm="RC4-128")
    with open(path, "wb") as f:
        w.write(f)


def _image_only_pdf(path: Path) -> None:
    pytest.importorskip("reportlab", reason="reportlab (the [test] extra) writes the PDF fixtures")
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), invariant=1)
    c.rect(100, 100, 300, 400, fill=1)  # a "scan": marks, no text
    c.showPage()
    c.save()


def _bad_files(root: Path) -> dict[str, str]:
    """Write unreadable files into ``root``; returns name → words the skip reason must contain."""
    good = write_pdf(root / "report.pdf")
    (root / "corrupt.pdf").write_bytes(good.read_bytes()[:400])
    _encrypted_pdf(good, root / "locked.pdf")
    _image_only_pdf(root / "scan.pdf")
    (root / "notzip.docx").write_text("這不是 Word 文件", encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a docx")
    (root / "otherzip.docx").write_bytes(buf.getvalue())
    return {
        "corrupt.pdf": "not a readable PDF",
        "locked.pdf": "encrypted",
        "scan.pdf": "no text layer",
        "notzip.docx": "not a readable Word document",
        "otherzip.docx": "not a readable Word document",
    }


def test_unreadable_files_in_a_folder_are_skipped_with_the_reason(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    reasons = _bad_files(root)
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["report.pdf"]
    skipped = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert set(skipped) == set(reasons)
    for name, words in reasons.items():
        assert name in skipped[name] and words in skipped[name]


@pytest.mark.parametrize("name", ["corrupt.pdf", "locked.pdf", "scan.pdf", "notzip.docx"])
def test_unreadable_file_named_directly_is_an_error(tmp_path, name):
    root = tmp_path / "docs"
    root.mkdir()
    _bad_files(root)
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        load_corpus([root / name])


def test_cli_index_of_an_unreadable_file_is_a_one_line_error(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    _bad_files(root)
    cmd = [sys.executable, "-m", "citeqa", "index", str(root / "locked.pdf"), "--index", str(tmp_path / "i")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("citeqa: error: ") and "locked.pdf" in r.stderr
    assert not (tmp_path / "i" / "CURRENT").exists()


def test_cli_chunks_of_a_pdf_has_pages(tmp_path):
    pdf = write_pdf(tmp_path / "report.pdf")
    r = subprocess.run([sys.executable, "-m", "citeqa", "chunks", str(pdf), "--json"],
                       capture_output=True, text=True, timeout=120, check=True)
    passages = json.loads(r.stdout)["passages"]
    assert [p["page"] for p in passages] == REPORT_PAGES_OF
    assert passages[3]["label"].endswith(" p.3")


# --------------------------------------------------------------------------- --include / --exclude


@pytest.mark.parametrize(
    ("rel", "include", "exclude", "selected"),
    [
        ("a.md", [], [], True),
        ("a.md", ["*.md"], [], True),
        ("sub/a.md", ["*.md"], [], True),  # * crosses folders, like fnmatch
        ("a.pdf", ["*.md"], [], False),
        ("a.pdf", ["*.md", "*.pdf"], [], True),
        ("drafts/x/a.md", [], ["drafts"], False),  # a folder excludes what is below it
        ("drafts/a.md", [], ["drafts/"], False),
        ("notes/drafts.md", [], ["drafts"], True),
        ("a.md", ["**/a.md"], [], True),
        ("deep/er/a.md", ["**/a.md"], [], True),
        ("sub/a.md", ["*.md"], ["sub/*"], False),  # exclude wins
        ("A.MD", ["*.md"], [], False),  # case-sensitive
    ],
)
def test_path_selected(rel, include, exclude, selected):
    assert path_selected(rel, include, exclude) is selected


def test_include_and_exclude_through_load_corpus(tmp_path):
    root = mixed_folder(tmp_path / "docs")
    def sources(**kw):
        return [d.source for d in load_corpus([root], **kw).documents]

    assert sources(include=["*.pdf", "*.docx"]) == ["notes.docx", "report.pdf"]
    assert sources(exclude=["sub", "*.pdf"]) == ["notes.docx", "sea.md"]
    assert sources(include=["sub/*"]) == ["sub/culture.txt"]
    with pytest.raises(InputError, match="no matching documents"):
        load_corpus([root], include=["*.rtf"])
    single = root / "sea.md"  # a file named directly is always read
    assert [d.source for d in load_corpus([single], exclude=["*"]).documents] == ["sea.md"]


# --------------------------------------------------------------------------- incremental indexing


def _stored(index_dir: Path):
    return read_generation(index_dir)


def _assert_same_index(a: Path, b: Path) -> None:
    x, y = _stored(a), _stored(b)
    assert x.passages == y.passages
    assert x.tokens == y.tokens
    np.testing.assert_allclose(x.vectors, y.vectors, atol=1e-6)
    np.testing.assert_array_equal(x.sentences, y.sentences)
    np.testing.assert_allclose(x.sentence_vectors, y.sentence_vectors, atol=1e-6)
    assert x.manifest["user_words"] == y.manifest["user_words"]
    assert x.manifest["sources"] == y.manifest["sources"]


def test_incremental_add_change_remove_equals_a_fresh_build(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    _index([root], fake_embedder, tmp_path / "inc")
    (root / "sea.md").write_text(MD_TEXT + "\n「藍色經濟」計畫推動海洋產業。\n", encoding="utf-8")  # changed
    (root / "sub" / "culture.txt").unlink()  # removed
    (root / "new.txt").write_text("二、新增文件\n\n新南向政策深化區域連結。\n", encoding="utf-8")  # added
    counting = CountingEmbedder(fake_embedder)
    _, log = _index([root], counting, tmp_path / "inc")
    assert "unchanged: 2 files" in log
    assert "re-embedding 1 changed file: sea.md" in log
    assert "embedding 1 added file: new.txt" in log
    assert "removed: sub/culture.txt" in log
    _index([root], fake_embedder, tmp_path / "fresh", incremental=False)
    _assert_same_index(tmp_path / "inc", tmp_path / "fresh")
    embedded = {p.embed_text for p in _stored(tmp_path / "inc").passages if p.source in ("sea.md", "new.txt")}
    assert embedded <= set(counting.texts)
    assert not any("榮邦計畫" in t or "半導體" in t for t in counting.texts)  # report.pdf, notes.docx reused
    assert len(list((tmp_path / "inc").glob("gen-*"))) == 1


def test_second_run_after_editing_one_file_embeds_only_that_file(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    _index([root], fake_embedder, tmp_path / "idx")
    (root / "sub" / "culture.txt").write_bytes((TXT_TEXT + "\n國家交響樂團赴美演出。\n").encode("big5"))
    counting = CountingEmbedder(fake_embedder)
    built, log = _index([root], counting, tmp_path / "idx")
    assert log[:2] == ["unchanged: 3 files", "re-embedding 1 changed file: sub/culture.txt"]
    mine = [p for p in built.passages if p.source == "sub/culture.txt"]
    sentences = [p.text for p in mine]  # each paragraph here is one sentence
    assert counting.texts == [p.embed_text for p in mine] + sentences
    assert f"embedding {len(mine)} passages with {fake_embedder.name} …" in log
    _index([root], fake_embedder, tmp_path / "fresh", incremental=False)
    _assert_same_index(tmp_path / "idx", tmp_path / "fresh")


def test_nothing_changed_embeds_nothing(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    first, _ = _index([root], fake_embedder, tmp_path / "idx")
    counting = CountingEmbedder(fake_embedder)
    again, log = _index([root], counting, tmp_path / "idx")
    assert counting.texts == []
    assert "unchanged: 4 files" in log and "no document changed: nothing to embed" in log
    assert again.passages == first.passages
    n = first.dense.ntotal
    np.testing.assert_array_equal(again.dense.reconstruct_n(0, n), first.dense.reconstruct_n(0, n))
    np.testing.assert_array_equal(again.sentence_vectors, first.sentence_vectors)


def test_other_model_or_chunking_forces_a_full_rebuild(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    first, _ = _index([root], fake_embedder, tmp_path / "idx")
    other = CountingEmbedder(fake_embedder, name="other-model")
    _, log = _index([root], other, tmp_path / "idx")
    assert any(line.startswith("full rebuild: the model changed") and "other-model" in line for line in log)
    assert len(other.texts) == len(first.passages) + len(first.sentences)
    _index([root], fake_embedder, tmp_path / "idx")
    counting = CountingEmbedder(fake_embedder)
    smaller = CorpusSettings(chunk=ChunkSettings(max_chars=30))
    rechunked, log = _index([root], counting, tmp_path / "idx", settings=smaller)
    assert "full rebuild: the chunking settings changed" in log
    assert "unchanged: 4 files" not in log
    assert len(counting.texts) == len(rechunked.passages) + len(rechunked.sentences)


def test_damaged_previous_index_is_rebuilt_in_full(tmp_path, fake_embedder):
    root = mixed_folder(tmp_path / "docs")
    _index([root], fake_embedder, tmp_path / "idx")
    live = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text().strip()
    (live / "vectors.npy").write_bytes(b"garbage")
    _, log = _index([root], fake_embedder, tmp_path / "idx")
    assert any(line.startswith("full rebuild: the previous index cannot be reused") for line in log)
    _index([root], fake_embedder, tmp_path / "fresh", incremental=False)
    _assert_same_index(tmp_path / "idx", tmp_path / "fresh")


def test_manifest_records_rows_per_source(tmp_path, fake_embedder):
    built, _ = _index([mixed_folder(tmp_path / "docs")], fake_embedder, tmp_path / "idx")
    sources = built.manifest["sources"]
    for src, info in sources.items():
        a, b = info["rows"]
        assert {p.source for p in built.passages[a:b]} == {src}
    assert sum(b - a for a, b in (i["rows"] for i in sources.values())) == len(built.passages)


# --------------------------------------------------------------------------- --source


def test_source_filter_keeps_k_hits_of_matching_documents(mixed_engine):
    engine = mixed_engine
    pdf_passages = sum(p.source == "report.pdf" for p in engine.index.passages)
    for retriever in ("hybrid", "dense"):
        hits = engine.search("半導體供應鏈", 3, retriever, source="*.pdf")
        assert len(hits) == 3 and {h.passage.source for h in hits} == {"report.pdf"}
    everything = engine.search("半導體供應鏈", 100, "dense", source="report.pdf")
    assert len(everything) == pdf_passages  # no more exist
    assert {h.passage.source for h in engine.search("展覽", 5, source="culture.txt")} == {"sub/culture.txt"}
    assert {h.passage.source for h in engine.search("展覽", 5, source="sub/*")} == {"sub/culture.txt"}
    with pytest.raises(InputError, match=r"\*\.rtf"):
        engine.search("展覽", 5, source="*.rtf")
    answer = engine.ask("無人機產業和誰合作？", 3, source="*.pdf")
    assert answer.citations and {h.passage.source for h in answer.citations} == {"report.pdf"}


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_cli_index_search_and_update_with_the_real_model(tmp_path, real_env):
    root = mixed_folder(tmp_path / "docs")
    (root / "drafts").mkdir()
    shutil.copy(root / "sea.md", root / "drafts" / "old.md")
    bad = tmp_path / "bad"
    bad.mkdir()
    _bad_files(bad)
    shutil.copy(bad / "locked.pdf", root / "locked.pdf")
    idx = str(tmp_path / "idx")

    def citeqa(*args):
        return subprocess.run([sys.executable, "-m", "citeqa", *args], env=real_env, capture_output=True,
                              text=True, timeout=900)

    r = citeqa("index", str(root), "--index", idx, "--exclude", "drafts", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "skipped" in r.stderr and "locked.pdf" in r.stderr and "encrypted" in r.stderr
    manifest = _stored(Path(idx)).manifest
    assert sorted(manifest["sources"]) == ["notes.docx", "report.pdf", "sea.md", "sub/culture.txt"]

    r = citeqa("search", "立陶宛無人機", "--index", idx, "--json", "--top-k", "3")
    assert r.returncode == 0, r.stderr
    top = json.loads(r.stdout)["hits"][0]
    assert (top["source"], top["page"]) == ("report.pdf", 3) and top["label"].endswith(" p.3")

    r = citeqa("search", "合作", "--index", idx, "--json", "--top-k", "3", "--source", "*.docx")
    hits = json.loads(r.stdout)["hits"]
    assert len(hits) == 3 and {h["source"] for h in hits} == {"notes.docx"}

    (root / "sea.md").write_text(MD_TEXT + "\n「藍色經濟」計畫推動海洋產業。\n", encoding="utf-8")
    r = citeqa("index", "--index", idx, "--quiet")  # no PATH: the same roots and filters again
    assert r.returncode == 0, r.stderr
    assert "re-embedding 1 changed file: sea.md" in r.stderr and "unchanged: 3 files" in r.stderr
    r = citeqa("search", "藍色經濟", "--index", idx, "--json", "--top-k", "1")
    assert json.loads(r.stdout)["hits"][0]["source"] == "sea.md"
