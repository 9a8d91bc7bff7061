"""Document files the tests write: PDFs by reportlab, DOCX by python-docx, text in legacy encodings.

reportlab draws Chinese in its built-in Adobe CID font, so no font file is needed.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import Path

import pytest

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


def bad_files(root: Path) -> dict[str, str]:
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


