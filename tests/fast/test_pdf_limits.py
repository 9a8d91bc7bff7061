"""What a PDF may unpack to (decompression bombs): streams, pages and forms counted against the limit.

Small limits (``CorpusSettings(max_doc_bytes=...)``) stand in for the 50 MB default; the PDFs are
written by hand, so every file here is tiny and every test fast.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from citeqa.corpus import CorpusSettings, load_corpus
from citeqa.errors import InputError


def _settings(limit: int) -> CorpusSettings:
    return CorpusSettings(max_doc_bytes=limit)


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
