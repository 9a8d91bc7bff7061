"""What a .docx may unpack to (decompression bombs): refused before parsing, whatever its zip header claims.

Small limits (``CorpusSettings(max_doc_bytes=...)``) stand in for the 50 MB default, so every
file here is tiny and every test fast.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from citeqa.corpus import CorpusSettings, load_corpus
from citeqa.corpus.limits import MAX_RATIO, RATIO_FLOOR
from citeqa.errors import InputError

GOOD_TEXT = "一、總論\n\n外交部持續推動榮邦計畫。\n"
BOMB_PARAGRAPH = "<w:p><w:r><w:t>" + "炸" * 1000 + "</w:t></w:r></w:p>"


def _settings(limit: int) -> CorpusSettings:
    return CorpusSettings(max_doc_bytes=limit)


def _template() -> bytes:
    from docx import Document as new_docx

    d = new_docx()
    d.add_paragraph("本報告說明年度外交重點。")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _docx(path: Path, body: str = "", *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    """python-docx's blank document with ``body`` (WordprocessingML) put at the start of its body."""
    with zipfile.ZipFile(io.BytesIO(_template())) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                xml = data.decode()
                at = xml.index("<w:body>") + len("<w:body>")
                data = (xml[:at] + body + xml[at:]).encode()
                out.writestr(item.filename, data, compress_type=method)
            else:
                out.writestr(item, data)
    return path


def _unpacked(path: Path) -> int:
    with zipfile.ZipFile(path) as z:
        return sum(i.file_size for i in z.infolist())


def test_docx_that_unpacks_past_the_limit_is_refused_before_parsing(tmp_path):
    bomb = _docx(tmp_path / "bomb.docx", BOMB_PARAGRAPH * 1000)  # 3 MB of XML in about 10 kB
    size = _unpacked(bomb)
    assert bomb.stat().st_size < 50_000 < 2_000_000 < size
    with pytest.raises(InputError) as err:
        load_corpus([bomb], _settings(2_000_000))
    message = str(err.value)
    assert "bomb.docx" in message and f"{size:,} bytes" in message and "2,000,000" in message
    assert "set CITEQA_MAX_DOC_BYTES to raise it" in message
    (tmp_path / "policy.txt").write_text(GOOD_TEXT, encoding="utf-8")  # in a folder: skipped, the rest read
    corpus = load_corpus([tmp_path], _settings(2_000_000))
    assert [d.source for d in corpus.documents] == ["policy.txt"]
    assert [s.reason for s in corpus.skipped] == [message]


def test_docx_under_the_limit_is_read(tmp_path):
    doc = _docx(tmp_path / "small.docx", "<w:p><w:r><w:t>附錄說明。</w:t></w:r></w:p>")
    corpus = load_corpus([doc], _settings(_unpacked(doc)))  # exactly at the limit is fine
    assert [p.text for p in corpus.passages] == ["附錄說明。", "本報告說明年度外交重點。"]


def test_docx_member_with_a_bomb_ratio_is_refused_under_the_default_limit(tmp_path):
    bomb = _docx(tmp_path / "ratio.docx", BOMB_PARAGRAPH * 500)  # 1.5 MB of XML, far below 50 MB
    with zipfile.ZipFile(bomb) as z:
        xml = z.getinfo("word/document.xml")
    assert xml.file_size > RATIO_FLOOR and xml.file_size > MAX_RATIO * xml.compress_size
    with pytest.raises(InputError, match=r"ratio\.docx: word/document\.xml unpacks to .* decompression bomb"):
        load_corpus([bomb])


def test_docx_whose_zip_header_understates_a_size_is_refused(tmp_path):
    """A central directory that claims 1,000 bytes for a 3 MB member gets nothing more past.

    (zipfile itself stops at the size declared and then fails the CRC; the byte count while
    inflating is a second guard, so this test pins the outcome rather than one mechanism.)
    """
    bomb = _docx(tmp_path / "liar.docx", BOMB_PARAGRAPH * 1000)
    raw = bytearray(bomb.read_bytes())
    entry = _central_entry(raw, "word/document.xml")
    struct.pack_into("<I", raw, entry + 24, 1_000)  # uncompressed size
    bomb.write_bytes(bytes(raw))
    assert _unpacked(bomb) < 2_000_000
    with pytest.raises(InputError, match=r"liar\.docx"):
        load_corpus([bomb], _settings(2_000_000))


def _central_entry(raw: bytearray, name: str) -> int:
    """Offset of the central-directory record of ``name``."""
    at = raw.index(b"PK\x01\x02")
    while True:
        n, extra, comment = struct.unpack_from("<HHH", raw, at + 28)
        if raw[at + 46 : at + 46 + n].decode() == name:
            return at
        at += 46 + n + extra + comment


def test_docx_with_a_bzip2_member_is_refused(tmp_path):
    """zipfile inflates bzip2 and lzma without an output bound; Word packages use only deflate."""
    doc = _docx(tmp_path / "bz.docx", "<w:p><w:r><w:t>內容。</w:t></w:r></w:p>", method=zipfile.ZIP_BZIP2)
    with pytest.raises(InputError, match=r"bz\.docx: .*compression method 12"):
        load_corpus([doc])


def test_docx_text_over_the_limit_is_refused(tmp_path):
    """A vertically merged cell repeats its text in every row it spans: 1,000 rows of 2,000 characters."""
    text = "<w:p><w:r><w:t>" + "合" * 2000 + "</w:t></w:r></w:p>"
    first = "<w:tc><w:tcPr><w:vMerge w:val=\"restart\"/></w:tcPr>" + text + "</w:tc>"
    more = "<w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc>"
    rows = "<w:tr>" + first + "</w:tr>" + ("<w:tr>" + more + "</w:tr>") * 999
    table = "<w:tbl><w:tblGrid><w:gridCol w:w=\"2000\"/></w:tblGrid>" + rows + "</w:tbl>"
    doc = _docx(tmp_path / "merged.docx", table)
    limit = _unpacked(doc) + 1_000
    assert limit < 1000 * 2000
    with pytest.raises(InputError, match=r"merged\.docx: its text is at least [\d,]+ characters, over the limit"):
        load_corpus([doc], _settings(limit))


def test_docx_cell_spanning_a_billion_columns_is_read_once(tmp_path, monkeypatch):
    """python-docx's ``row.cells`` lists a cell once per grid column it spans, so a 20 kB file
    declaring a span of 10^9 builds an 8 GB tuple; rows are read from their cells' XML instead."""
    import docx.table

    def spanned(row):
        raise AssertionError("row.cells builds one entry per grid column spanned")

    monkeypatch.setattr(docx.table._Row, "cells", property(spanned))
    cell = "<w:tc><w:tcPr><w:gridSpan w:val=\"1000000000\"/></w:tcPr><w:p><w:r><w:t>寬格。</w:t></w:r></w:p></w:tc>"
    doc = _docx(tmp_path / "wide.docx", f"<w:tbl><w:tr>{cell}</w:tr></w:tbl>")
    assert [p.text for p in load_corpus([doc]).passages] == ["寬格。", "本報告說明年度外交重點。"]


def test_docx_merged_cells_read_as_python_docx_lists_them(tmp_path):
    """Rows read from the XML give what ``row.cells`` gives, each merged cell once per row."""
    from docx import Document as new_docx

    d = new_docx()
    t = d.add_table(rows=3, cols=3)
    for r, row in enumerate(t.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"格{r}{c}"
    t.cell(0, 0).merge(t.cell(0, 1))  # across
    t.cell(1, 2).merge(t.cell(2, 2))  # down
    path = tmp_path / "merged.docx"
    d.save(str(path))
    expected = []
    for row in new_docx(str(path)).tables[0].rows:
        seen, cells = [], []
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen) or not cell.text.strip():
                continue
            seen.append(cell._tc)
            cells.append(" ".join(cell.text.split()))
        expected.append(" | ".join(cells))
    assert load_corpus([path]).documents[0].text.split("\n\n") == expected
