"""What one document may unpack to (decompression bombs), and what a folder walk will not follow.

Small limits (``CorpusSettings(max_doc_bytes=...)``) stand in for the 50 MB default, so every
file here is tiny and every test fast.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from citeqa.corpus import CorpusSettings, load_corpus
from citeqa.corpus.formats.text import read_document
from citeqa.corpus.limits import MAX_RATIO, RATIO_FLOOR
from citeqa.errors import InputError

GOOD_TEXT = "一、總論\n\n外交部持續推動榮邦計畫。\n"
BOMB_PARAGRAPH = "<w:p><w:r><w:t>" + "炸" * 1000 + "</w:t></w:r></w:p>"


@pytest.fixture
def deadline():
    """Fail instead of hanging when something opens a FIFO (a blocked open() is interrupted)."""

    def expired(signum, frame):
        raise TimeoutError("took over 5 s: something blocked")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _settings(limit: int) -> CorpusSettings:
    return CorpusSettings(max_doc_bytes=limit)


# --------------------------------------------------------------------------- .docx


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


# --------------------------------------------------------------------------- PDF


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    z = zlib.compress(data, 9)
    return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(z), extra) + z + b"\nendstream"


def _pdf(path: Path, contents: list[bytes], *, form: bytes | None = None, to_unicode: bytes | None = None) -> Path:
    """A PDF of one page per content stream (Helvetica as /F1; ``form`` as /Fm0) written by hand."""
    n = len(contents)
    font, first_page, form_id, cmap_id = 3, 4, 4 + 2 * n, 5 + 2 * n
    pages = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(n))
    resources = b"<< /Font << /F1 %d 0 R >> /XObject << /Fm0 %d 0 R >> >>" % (font, form_id)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (pages, n),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica %s>>"
        % (b"/ToUnicode %d 0 R " % cmap_id if to_unicode else b""),
    ]
    for i, content in enumerate(contents):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s /Contents %d 0 R >>"
                    % (resources, first_page + 2 * i + 1))
        objs.append(_stream(content))
    form_dict = b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
    objs.append(_stream(form or b"", form_dict))
    objs.append(_stream(to_unicode or b""))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def _text(line: str, y: int = 720) -> bytes:
    return b"BT /F1 12 Tf 72 %d Td (%s) Tj ET\n" % (y, line.encode())


def test_pdf_reads_under_small_limits(tmp_path):
    pdf = _pdf(tmp_path / "ok.pdf", [_text("Trade with India grew."), _text("The office opened in Mumbai.")])
    corpus = load_corpus([pdf], _settings(10_000))
    assert [(p.text, p.page) for p in corpus.passages] == [
        ("Trade with India grew.", 1), ("The office opened in Mumbai.", 2)
    ]


def test_pdf_stream_that_inflates_past_the_limit_is_refused(tmp_path):
    pdf = _pdf(tmp_path / "bomb.pdf", [_text("Hello.") + b" " * 3_000_000])  # 3 MB in about 3 kB
    assert pdf.stat().st_size < 10_000
    with pytest.raises(InputError, match=r"bomb\.pdf: .*1,000,000 bytes \(set CITEQA_MAX_DOC_BYTES to raise it\)"):
        load_corpus([pdf], _settings(1_000_000))


def test_pdf_pages_each_under_the_limit_add_up_past_it(tmp_path):
    pages = [_text(f"Page {n}.") + b" " * 100_000 for n in range(20)]  # 2 MB in all, 0.1 MB a page
    with pytest.raises(InputError, match=r"pages\.pdf: its page streams unpack to at least [\d,]+ bytes, over the "
                                         r"limit of 1,000,000 \(set CITEQA_MAX_DOC_BYTES to raise it\)"):
        load_corpus([_pdf(tmp_path / "pages.pdf", pages)], _settings(1_000_000))


def test_pdf_form_drawn_many_times_counts_each_time(tmp_path):
    form = _text("Stamp.", 700) + b" " * 30_000  # drawn 50 times: 1.5 MB
    pdf = _pdf(tmp_path / "stamps.pdf", [_text("Body.") + b"q /Fm0 Do Q\n" * 50], form=form)
    assert load_corpus([pdf], _settings(1_000_000_000)).passages  # readable with room to spare
    with pytest.raises(InputError, match=r"stamps\.pdf: its page streams unpack to at least"):
        load_corpus([pdf], _settings(1_000_000))


def test_pdf_text_over_the_limit_is_refused(tmp_path):
    """A ToUnicode map can turn one byte of a string into 200 characters: 400,000 from 2 kB."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /T def "
        b"1 begincodespacerange <00> <FF> endcodespacerange "
        b"1 beginbfchar <41> <" + b"0041" * 200 + b"> endbfchar "
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    pdf = _pdf(tmp_path / "wide.pdf", [_text("A" * 2000)], to_unicode=cmap)
    with pytest.raises(InputError, match=r"wide\.pdf: its text is at least [\d,]+ characters, over the limit of 100,"):
        load_corpus([pdf], _settings(100_000))


# --------------------------------------------------------------------------- files that are not files


def test_fifo_named_directly_is_refused_without_opening_it(tmp_path, deadline):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"pipe\.txt: a FIFO, not a document file"):
        read_document(fifo, max_bytes=1000)


def test_device_named_directly_is_refused():
    with pytest.raises(InputError, match=r"/dev/null: a character device, not a document file"):
        load_corpus([Path("/dev/null")])


# --------------------------------------------------------------------------- folder walking


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "policy.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (root / "sub" / "note.md").write_text("# 附錄\n\n附錄說明。\n", encoding="utf-8")
    return root


def _skipped(corpus) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in corpus.skipped}


def test_symlinks_to_files_and_folders_outside_the_folder_are_not_followed(tmp_path):
    root = _folder(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("機密文件內容。\n", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "far.txt").write_text("遠方的文件。\n", encoding="utf-8")
    (root / "outside.txt").symlink_to(secret)
    (root / "ext").symlink_to(tmp_path / "elsewhere")
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["policy.txt", "sub/note.md"]
    assert _skipped(corpus) == {
        "ext": f"{root / 'ext'}: a symlink to {tmp_path / 'elsewhere'}, outside the folder",
        "outside.txt": f"{root / 'outside.txt'}: a symlink to {secret}, outside the folder",
    }
    assert not any("機密" in p.text or "遠方" in p.text for p in corpus.passages)


def test_symlinks_inside_the_folder(tmp_path):
    """A symlink to a file inside is read under its own name; one to a folder is reported, not walked."""
    root = _folder(tmp_path)
    (root / "alias.txt").symlink_to(root / "policy.txt")
    (root / "loopdir").symlink_to(root)
    (root / "sub" / "up").symlink_to("..")
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["alias.txt", "policy.txt", "sub/note.md"]
    skipped = _skipped(corpus)
    assert set(skipped) == {"loopdir", "up"}
    assert all("a symlink to a folder, not followed" in why for why in skipped.values())


def test_folder_given_through_a_symlink_is_inside_itself(tmp_path):
    root = _folder(tmp_path)
    (root / "alias.txt").symlink_to("policy.txt")
    link = tmp_path / "link"
    link.symlink_to(root)
    assert [d.source for d in load_corpus([link]).documents] == ["alias.txt", "policy.txt", "sub/note.md"]


def test_odd_entries_in_a_folder_are_each_reported(tmp_path, deadline):
    """The probe's docsE: a symlink loop, a dangling symlink, a FIFO, a socket, /dev/zero."""
    root = _folder(tmp_path)
    (root / "a-loop.txt").symlink_to("b-loop.txt")
    (root / "b-loop.txt").symlink_to("a-loop.txt")
    (root / "gone.md").symlink_to("nowhere.md")
    os.mkfifo(root / "fifo.txt")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "sock.md"))
    (root / "zero.txt").symlink_to("/dev/zero")
    try:
        corpus = load_corpus([root])
    finally:
        server.close()
    assert [d.source for d in corpus.documents] == ["policy.txt", "sub/note.md"]
    skipped = _skipped(corpus)
    assert sorted(skipped) == ["a-loop.txt", "b-loop.txt", "fifo.txt", "gone.md", "sock.md", "zero.txt"]
    assert "a symlink loop" in skipped["a-loop.txt"] and "a symlink loop" in skipped["b-loop.txt"]
    assert "does not exist" in skipped["gone.md"]
    assert "a FIFO, not a document file" in skipped["fifo.txt"]
    assert "a socket, not a document file" in skipped["sock.md"]
    assert "a symlink to /dev/zero, outside the folder" in skipped["zero.txt"]
    assert all(why.startswith(str(root)) for why in skipped.values())  # each reason names its file


def test_unreadable_sub_folder_is_reported(tmp_path, monkeypatch):
    root = _folder(tmp_path)
    (root / "locked").mkdir()
    (root / "locked" / "inside.txt").write_text("看不到的內容。\n", encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path) == root / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["policy.txt", "sub/note.md"]
    assert _skipped(corpus) == {"locked": f"{root / 'locked'}: cannot read this folder (Permission denied)"}


def test_unreadable_folder_given_is_an_error(tmp_path, monkeypatch):
    root = _folder(tmp_path)
    monkeypatch.setattr(os, "scandir", lambda path: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(InputError, match=r"docs: cannot read this folder \(Permission denied\)"):
        load_corpus([root])


def test_excluded_and_hidden_folders_are_not_walked(tmp_path, deadline):
    root = _folder(tmp_path)
    for hidden in ("drafts", ".git"):
        (root / hidden).mkdir()
        os.mkfifo(root / hidden / "fifo.txt")
        (root / hidden / "gone.md").symlink_to("nowhere.md")
    corpus = load_corpus([root], exclude=["drafts"])
    assert [d.source for d in corpus.documents] == ["policy.txt", "sub/note.md"]
    assert corpus.skipped == ()


def test_entries_the_globs_leave_out_are_not_reported(tmp_path, deadline):
    root = _folder(tmp_path)
    os.mkfifo(root / "fifo.txt")
    (root / "gone.md").symlink_to("nowhere.md")
    (root / "photo.jpg").symlink_to("/etc/hostname")
    corpus = load_corpus([root], include=["*.md"])
    assert [d.source for d in corpus.documents] == ["sub/note.md"]
    assert list(_skipped(corpus)) == ["gone.md"]
