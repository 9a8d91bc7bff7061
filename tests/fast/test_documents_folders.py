"""DOCX, a mixed folder of four formats, unreadable files, --include / --exclude; `citeqa chunks` and
`citeqa index` on such files in process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citeqa.cli import main
from citeqa.corpus import load_corpus
from citeqa.corpus.loader import path_selected
from citeqa.errors import InputError
from documents import DOCX_TEXT, REPORT_PAGES_OF, bad_files, mixed_folder, write_docx, write_pdf


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


def test_unreadable_files_in_a_folder_are_skipped_with_the_reason(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    reasons = bad_files(root)
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
    bad_files(root)
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        load_corpus([root / name])


def test_cli_index_of_an_unreadable_file_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    root = tmp_path / "docs"
    root.mkdir()
    bad_files(root)
    monkeypatch.setattr("citeqa.index.update.embedder_for", lambda *a, **kw: pytest.fail("model loaded"))
    assert main(["index", str(root / "locked.pdf"), "--index", str(tmp_path / "i")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("citeqa: error: ") and "locked.pdf" in err
    assert not (tmp_path / "i" / "CURRENT").exists()


def test_cli_chunks_of_a_pdf_has_pages(tmp_path, capsys):
    pdf = write_pdf(tmp_path / "report.pdf")
    assert main(["chunks", str(pdf), "--json"]) == 0
    passages = json.loads(capsys.readouterr().out)["passages"]
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
