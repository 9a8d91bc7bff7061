"""Reading documents from disk: encodings, bad files, size limit, and folder loading."""

from __future__ import annotations

import codecs
import hashlib
import random
from pathlib import Path

import pytest

from citeqa.corpus import CorpusSettings, bundled_corpus_path, load_corpus
from citeqa.corpus.formats.text import decode_bytes, read_document
from citeqa.errors import InputError

LIMIT = 1_000_000

# Has ASCII (digits, spaces, newlines), full-width brackets and quotes; every character is in Big5, and
# no character's UTF-16 code unit contains a zero byte (checked below).
PARAGRAPH = (
    "外交部 2024 年持續推動「榮邦計畫」，與友邦合作參與世界衛生組織（WHO）。\n"
    "台灣在國際社會展現韌性，深化與理念相近夥伴的實質合作。\n"
)
# A real paragraph of the bundled document (line 9): contains 一 (U+4E00), whose UTF-16 code unit has a
# zero byte, next to ASCII.
BUNDLED_PARAGRAPH = bundled_corpus_path().read_text(encoding="utf-8").splitlines()[8] + "\n"
# No ASCII at all (so no NUL bytes in UTF-16).
PURE_CJK = "中華民國外交部持續推動外交工作，深化夥伴關係。"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_test_paragraphs_are_what_the_tests_need():
    assert all(b"\x00" not in ch.encode("utf-16-le") for ch in PARAGRAPH if not ch.isascii())
    assert PARAGRAPH.encode("cp950").decode("cp950") == PARAGRAPH
    assert BUNDLED_PARAGRAPH.startswith("儘管未來國際情勢變化") and "一" in BUNDLED_PARAGRAPH
    assert not any(ch.isascii() for ch in PURE_CJK)


ENCODINGS = [
    # (how to encode, encodings the reader may report)
    (lambda t: t.encode("utf-8"), {"utf-8"}),
    (lambda t: codecs.BOM_UTF8 + t.encode("utf-8"), {"utf-8-sig"}),
    (lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"), {"utf-16", "utf-16-le"}),
    (lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"), {"utf-16", "utf-16-be"}),
    (lambda t: t.encode("utf-16-le"), {"utf-16-le", "utf-16"}),
    (lambda t: t.encode("utf-16-be"), {"utf-16-be", "utf-16"}),
    (lambda t: t.encode("big5"), {"cp950", "big5"}),
    (lambda t: t.encode("cp950"), {"cp950", "big5"}),
    (lambda t: t.encode("gb18030"), {"gb18030"}),
]
ENC_IDS = ["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf16le", "utf16be", "big5", "cp950", "gb18030"]


@pytest.mark.parametrize(("encode", "reported"), ENCODINGS, ids=ENC_IDS)
def test_chinese_paragraph_reads_back_in_every_encoding(tmp_path, encode, reported):
    path = _write(tmp_path, "doc.txt", encode(PARAGRAPH))
    doc = read_document(path, max_bytes=LIMIT)
    assert doc.text == PARAGRAPH
    assert doc.encoding in reported
    assert doc.source == "doc.txt"


@pytest.mark.parametrize(("encode", "reported"), ENCODINGS, ids=ENC_IDS)
def test_decode_bytes_agrees_with_read_document(encode, reported):
    text, enc = decode_bytes(encode(PARAGRAPH))
    assert text == PARAGRAPH
    assert enc in reported


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        pytest.param(BUNDLED_PARAGRAPH, "utf-16-le"),
        pytest.param(BUNDLED_PARAGRAPH, "utf-16-be"),
        pytest.param(PURE_CJK, "utf-16-le"),
        pytest.param(PURE_CJK, "utf-16-be"),
    ],
    ids=["bundled-le", "bundled-be", "pure-le", "pure-be"],
)
def test_utf16_without_bom_of_any_chinese_paragraph(tmp_path, text, codec):
    path = _write(tmp_path, "u16.txt", text.encode(codec))
    assert read_document(path, max_bytes=LIMIT).text == text


@pytest.mark.parametrize("codec", ["utf-16", "big5", "gb18030", "utf-8-sig"])
def test_bundled_paragraph_with_bom_or_legacy_encoding(tmp_path, codec):
    path = _write(tmp_path, "b.txt", BUNDLED_PARAGRAPH.encode(codec))
    assert read_document(path, max_bytes=LIMIT).text == BUNDLED_PARAGRAPH


SIMPLIFIED = "中华民国外交部持续推动外交工作，深化伙伴关系。\n"


def test_ambiguous_bytes_big5_text_is_read_as_big5(tmp_path):
    raw = PARAGRAPH.encode("big5")
    assert raw.decode("gb18030") != PARAGRAPH  # the same bytes are also valid, wrong, GB18030
    doc = read_document(_write(tmp_path, "tw.txt", raw), max_bytes=LIMIT)
    assert (doc.text, doc.encoding) == (PARAGRAPH, "cp950")


def test_ambiguous_bytes_gb18030_text_is_read_as_gb18030(tmp_path):
    raw = SIMPLIFIED.encode("gb18030")
    assert raw.decode("cp950") != SIMPLIFIED  # the same bytes are also valid, wrong, Big5
    doc = read_document(_write(tmp_path, "cn.txt", raw), max_bytes=LIMIT)
    assert (doc.text, doc.encoding) == (SIMPLIFIED, "gb18030")


def test_whole_bundled_document_in_gb18030(tmp_path, corpus_text):
    path = _write(tmp_path, "gb.txt", corpus_text.encode("gb18030"))
    doc = read_document(path, max_bytes=LIMIT)
    assert doc.encoding == "gb18030"
    assert doc.text == corpus_text


def test_line_endings_are_kept(tmp_path):
    text = PARAGRAPH.replace("\n", "\r\n")
    path = _write(tmp_path, "crlf.txt", text.encode("utf-8"))
    assert read_document(path, max_bytes=LIMIT).text == text


def test_source_name_override(tmp_path):
    path = _write(tmp_path, "doc.txt", PARAGRAPH.encode("utf-8"))
    assert read_document(path, max_bytes=LIMIT, source="sub/doc.txt").source == "sub/doc.txt"


# --------------------------------------------------------------------------- bad files

BAD_CONTENT = {
    "nul-bytes": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
    "random": random.Random(0).randbytes(4096),
    "random-no-nul": bytes(b for b in random.Random(1).randbytes(4096) if b),
    "control-chars": b"\x01\x02\x03\x04\x05\x06\x07\x08" * 64,
    "not-cjk": b"\xff\x80\xfe\x81" * 50,
    "empty": b"",
    "whitespace": b"  \n\t\n\r\n   \n",
    "bom-only": codecs.BOM_UTF8,
    "ideographic-spaces": "\u3000\u3000\n\u3000\n".encode(),
}


@pytest.mark.parametrize("kind", list(BAD_CONTENT))
def test_bad_content_raises_input_error_naming_the_file(tmp_path, kind):
    path = _write(tmp_path, f"bad-{kind}.txt", BAD_CONTENT[kind])
    with pytest.raises(InputError) as info:
        read_document(path, max_bytes=LIMIT)
    assert path.name in str(info.value)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("nul-bytes", "binary"),
        ("random", "binary"),
        ("empty", "empty"),
        ("whitespace", "empty"),
        ("not-cjk", "UTF-8"),
    ],
)
def test_bad_content_message_says_what_is_wrong(tmp_path, kind, words):
    path = _write(tmp_path, "x.txt", BAD_CONTENT[kind])
    with pytest.raises(InputError, match=words):
        read_document(path, max_bytes=LIMIT)


def test_missing_path(tmp_path):
    path = tmp_path / "nowhere.txt"
    with pytest.raises(InputError, match=r"nowhere\.txt"):
        read_document(path, max_bytes=LIMIT)


def test_directory_is_not_a_document(tmp_path):
    d = tmp_path / "folder.txt"
    d.mkdir()
    with pytest.raises(InputError, match=r"folder\.txt.*directory"):
        read_document(d, max_bytes=LIMIT)


def test_size_limit(tmp_path):
    data = PARAGRAPH.encode("utf-8")
    path = _write(tmp_path, "big.txt", data)
    assert read_document(path, max_bytes=len(data)).text == PARAGRAPH  # exactly at the limit is fine
    with pytest.raises(InputError, match=r"big\.txt.*over the limit"):
        read_document(path, max_bytes=len(data) - 1)


def test_size_limit_through_load_corpus(tmp_path):
    path = _write(tmp_path, "big.txt", PARAGRAPH.encode("utf-8"))
    with pytest.raises(InputError, match=r"big\.txt"):
        load_corpus([path], CorpusSettings(max_doc_bytes=10))


# --------------------------------------------------------------------------- load_corpus


def _good_folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("一、總論\n\n甲文件的內容。\n", encoding="utf-8")
    (root / "sub" / "b.md").write_bytes("# 乙\n\n乙文件的內容。\n".encode("big5"))
    return root


def test_folder_loads_good_files_and_skips_bad_ones(tmp_path):
    root = _good_folder(tmp_path / "docs")
    bad = _write(root, "broken.txt", BAD_CONTENT["nul-bytes"])
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["a.txt", "sub/b.md"]
    assert [p.text for p in corpus.passages] == ["甲文件的內容。", "乙文件的內容。"]
    assert [p.source for p in corpus.passages] == ["a.txt", "sub/b.md"]
    assert corpus.passages[1].id.startswith("sub/b.md#")
    assert len(corpus.skipped) == 1
    assert Path(corpus.skipped[0].path) == bad
    assert "broken.txt" in corpus.skipped[0].reason and "binary" in corpus.skipped[0].reason


def test_folder_skips_empty_and_undecodable_files(tmp_path):
    root = _good_folder(tmp_path / "docs")
    _write(root, "empty.md", b"")
    _write(root, "garbage.txt", BAD_CONTENT["not-cjk"])
    corpus = load_corpus([root])
    assert len(corpus.documents) == 2
    assert sorted(Path(s.path).name for s in corpus.skipped) == ["empty.md", "garbage.txt"]
    assert all(s.reason for s in corpus.skipped)


def test_folder_ignores_hidden_files_and_other_suffixes(tmp_path):
    root = _good_folder(tmp_path / "docs")
    (root / ".hidden.txt").write_text("隱藏文件。\n", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "notes.txt").write_text("隱藏資料夾。\n", encoding="utf-8")
    (root / "image.png").write_bytes(BAD_CONTENT["nul-bytes"])
    (root / "data.csv").write_text("a,b\n", encoding="utf-8")
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["a.txt", "sub/b.md"]
    assert corpus.skipped == ()
    assert not any("隱藏" in p.text for p in corpus.passages)


def test_folder_suffix_match_is_case_insensitive(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "UPPER.TXT").write_text("大寫副檔名。\n", encoding="utf-8")
    assert [d.source for d in load_corpus([root]).documents] == ["UPPER.TXT"]


def test_folder_inside_a_dot_directory_is_loaded(tmp_path):
    root = _good_folder(tmp_path / ".config" / "docs")
    assert [d.source for d in load_corpus([root]).documents] == ["a.txt", "sub/b.md"]


def test_folder_with_no_readable_documents(tmp_path):
    root = tmp_path / "junk"
    root.mkdir()
    _write(root, "bin.txt", BAD_CONTENT["random"])
    _write(root, "empty.md", b"")
    with pytest.raises(InputError, match="junk"):
        load_corpus([root])


def test_empty_folder(tmp_path):
    root = tmp_path / "nothing"
    root.mkdir()
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(InputError, match="nothing"):
        load_corpus([root])


def test_bad_file_named_directly_is_an_error_not_a_skip(tmp_path):
    path = _write(tmp_path, "direct.txt", BAD_CONTENT["nul-bytes"])
    with pytest.raises(InputError, match=r"direct\.txt"):
        load_corpus([path])


def test_missing_path_through_load_corpus(tmp_path):
    with pytest.raises(InputError, match="missing-dir"):
        load_corpus([tmp_path / "missing-dir"])


def test_document_with_only_headings_has_no_paragraphs(tmp_path):
    path = tmp_path / "heads.txt"
    path.write_text("一、總論\n\n二、結論。\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"heads\.txt"):
        load_corpus([path])


@pytest.mark.parametrize(
    ("name", "content"),
    [("todo.md", "# 待辦事項\n"), ("heads.txt", "一、總論\n\n二、結論。\n"), ("blank-title.md", "# 標題\n\n## 小節\n")],
)
def test_folder_skips_a_file_with_no_paragraphs(tmp_path, name, content):
    root = _good_folder(tmp_path / "docs")
    (root / name).write_text(content, encoding="utf-8")
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["a.txt", "sub/b.md"]
    assert [p.text for p in corpus.passages] == ["甲文件的內容。", "乙文件的內容。"]
    assert [(Path(s.path), s.reason) for s in corpus.skipped] == [
        (root / name, f"{root / name}: no paragraphs of text found")
    ]


def test_folder_of_only_files_without_paragraphs_is_an_error(tmp_path):
    root = tmp_path / "todo"
    root.mkdir()
    (root / "todo.md").write_text("# 待辦事項\n", encoding="utf-8")
    with pytest.raises(InputError, match="todo: no readable documents"):
        load_corpus([root])


@pytest.mark.parametrize("line", ["hello", "出差住宿費每晚上限為新台幣三千元"])
def test_folder_reads_one_line_notes(tmp_path, line):
    root = _good_folder(tmp_path / "docs")
    (root / "note.txt").write_text(line, encoding="utf-8")
    (root / "link.txt").symlink_to("note.txt")
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["a.txt", "link.txt", "note.txt", "sub/b.md"]
    assert [p.text for p in corpus.passages if p.source in ("link.txt", "note.txt")] == [line, line]
    assert corpus.skipped == ()


def test_duplicate_source_names_are_rejected(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for d in ("x", "y"):
        (tmp_path / d / "same.txt").write_text("內容。\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"same\.txt"):
        load_corpus([tmp_path / "x" / "same.txt", tmp_path / "y" / "same.txt"])


def test_sha256_recorded_per_source(tmp_path):
    root = _good_folder(tmp_path / "docs")
    single = tmp_path / "single.txt"
    single.write_bytes(codecs.BOM_UTF8 + "單一文件。\n".encode())
    corpus = load_corpus([root, single])
    assert corpus.sha256 == {
        "a.txt": hashlib.sha256((root / "a.txt").read_bytes()).hexdigest(),
        "sub/b.md": hashlib.sha256((root / "sub" / "b.md").read_bytes()).hexdigest(),
        "single.txt": hashlib.sha256(single.read_bytes()).hexdigest(),  # of the raw bytes, BOM included
    }


def test_bundled_sha256(bundled):
    expected = hashlib.sha256(bundled_corpus_path().read_bytes()).hexdigest()
    assert bundled.sha256 == {bundled.documents[0].source: expected}
    assert bundled.documents[0].encoding == "utf-8"
