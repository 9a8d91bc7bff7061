"""Parsing and chunking of tiny documents: long-paragraph splits, Markdown, plain text, CRLF, soft wraps.

The real bundled document is in test_corpus_bundled.py.
"""

from __future__ import annotations

import pytest

from citeqa.corpus import ChunkSettings, CorpusSettings, Document, load_corpus, passages_of


def _chunk(text: str, source: str = "doc.txt", max_chars: int = 500):
    return passages_of(
        Document(source, text, "utf-8"), CorpusSettings(chunk=ChunkSettings(max_chars=max_chars))
    )


def test_long_paragraph_split_small_text():
    long_sentence = "甲" * 130 + "。"
    para = "第一句很短。第二句也很短！" + long_sentence + "最後一句；尾巴"
    text = f"一、總論\n\n{para}\n"
    got = _chunk(text, "t.txt", max_chars=60)
    assert [p.text for p in got] == [
        "第一句很短。第二句也很短！",
        "甲" * 60,
        "甲" * 60,
        "甲" * 10 + "。最後一句；尾巴",
    ]
    base = got[0].id[: -len(".1")]
    assert base.endswith("-p1")
    assert [p.id for p in got] == [f"{base}.{k}" for k in (1, 2, 3, 4)]
    for p in got:
        assert text[p.start : p.end] == p.text


def test_sentences_that_just_overflow_the_limit_are_packed_not_cut():
    para = "甲" * 30 + "。" + "乙" * 29 + "。"  # 61 characters: two sentences of 31 and 30
    text = f"一、總論\n\n{para}\n"
    got = _chunk(text, max_chars=60)
    assert [p.text for p in got] == ["甲" * 30 + "。", "乙" * 29 + "。"]
    assert [(p.start, p.end) for p in got] == [(6, 37), (37, 67)]


def test_split_piece_after_a_space_join_maps_offsets():
    text = "一、總論\n\n1. 要點。\n\nAlpha\nbeta。第二句話在這裡結束了。\n"
    got = _chunk(text, max_chars=20)
    assert [p.text for p in got] == ["Alpha beta。", "第二句話在這裡結束了。"]
    assert text[got[0].start : got[0].end] == "Alpha\nbeta。"
    assert text[got[1].start : got[1].end] == "第二句話在這裡結束了。"


def test_paragraph_at_the_limit_is_not_split():
    para = "句" * 59 + "。"
    got = _chunk(f"一、總論\n\n{para}\n", max_chars=60)
    assert [p.text for p in got] == [para]
    assert got[0].id.endswith("-p1")


def test_max_chars_below_minimum_is_rejected():
    with pytest.raises(ValueError, match="max_chars"):
        ChunkSettings(max_chars=19)


# --------------------------------------------------------------------------- other document shapes

MARKDOWN = (
    "# 年度報告\n"
    "\n"
    "## 第一章 概述\n"
    "\n"
    "本章說明**重點**工作。\n"
    "\n"
    "第二段內容。\n"
    "\n"
    "### 1. 細節\n"
    "\n"
    "細節內容。\n"
    "\n"
    "## **第二章 成果**\n"
    "\n"
    "成果豐碩（WHO）。\n"
)


def test_markdown_headings_paragraphs_and_bold():
    got = _chunk(MARKDOWN, "report.md")
    assert [(p.section, p.text) for p in got] == [
        (("年度報告", "第一章 概述"), "本章說明**重點**工作。"),
        (("年度報告", "第一章 概述"), "第二段內容。"),
        (("年度報告", "第一章 概述", "1. 細節"), "細節內容。"),
        (("年度報告", "第二章 成果"), "成果豐碩（WHO）。"),
    ]
    assert [p.label for p in got] == ["第一章 概述 ¶1", "第一章 概述 ¶2", "1. 細節 ¶1", "第二章 成果 ¶1"]
    assert got[0].id.endswith("-p1") and got[1].id.endswith("-p2")
    assert got[0].id.rsplit("-", 1)[0] == got[1].id.rsplit("-", 1)[0]
    assert got[2].id.rsplit("-", 1)[0] != got[0].id.rsplit("-", 1)[0]
    for p in got:  # body text, bold markers included, is kept verbatim so offsets stay exact
        assert MARKDOWN[p.start : p.end] == p.text
        assert p.source == "report.md"


def test_markdown_heading_does_not_swallow_next_short_paragraph():
    text = "## 聯絡資訊\n\n電話 02-2348-2999\n\n## 其他\n\n內容。\n"
    got = _chunk(text, "c.md")
    assert [(p.section, p.text) for p in got] == [(("聯絡資訊",), "電話 02-2348-2999"), (("其他",), "內容。")]


def test_repeated_heading_path_gets_distinct_ids():
    text = "## 附註\n\n甲。\n\n## 附註\n\n乙。\n"
    got = _chunk(text, "r.md")
    assert [p.section for p in got] == [("附註",), ("附註",)]
    assert got[0].id != got[1].id
    assert len({p.id for p in got}) == 2


def test_plain_text_without_headings():
    text = "這是第一段文字，沒有任何標題。\n\n這是第二段，內容也很簡單。\n"
    got = _chunk(text, "plain.txt")
    assert [(p.section, p.text, p.label) for p in got] == [
        ((), "這是第一段文字，沒有任何標題。", "¶1"),
        ((), "這是第二段，內容也很簡單。", "¶2"),
    ]
    assert got[0].id.startswith("plain.txt#") and got[0].id.endswith("-p1") and got[1].id.endswith("-p2")
    for p in got:
        assert text[p.start : p.end] == p.text


def test_plain_text_loads_from_disk(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("\n\n第一段文字，說明事項。\n\n第二段文字。\n", encoding="utf-8")
    corpus = load_corpus([f])
    assert [p.text for p in corpus.passages] == ["第一段文字，說明事項。", "第二段文字。"]
    assert all(p.section == () for p in corpus.passages)
    assert corpus.passages[0].start == 2  # the leading blank lines count in the offsets


def test_plain_text_first_paragraph_soft_wrapped_is_not_a_title():
    text = "本報告說明外交部\n在 2024 年的工作。\n\n第二段。\n"
    got = _chunk(text, "wrap.txt")
    assert [(p.section, p.text) for p in got] == [
        ((), "本報告說明外交部在 2024 年的工作。"),
        ((), "第二段。"),
    ]


@pytest.mark.parametrize("line", ["hello", "出差住宿費每晚上限為新台幣三千元", "出差住宿費每晚上限為新台幣三千元。"])
@pytest.mark.parametrize("ending", ["", "\n", "\r\n\n"])
def test_one_line_document_is_one_passage_not_a_title(line, ending):
    text = f"{line}{ending}"
    got = _chunk(text, "note.txt")
    assert [(p.section, p.text, p.label) for p in got] == [((), line, "¶1")]
    assert text[got[0].start : got[0].end] == line


def test_short_first_line_before_text_is_still_the_title():
    got = _chunk("出差旅費規定\n\n住宿費每晚上限為新台幣三千元。\n", "rules.txt")
    assert [(p.section, p.text) for p in got] == [(("出差旅費規定",), "住宿費每晚上限為新台幣三千元。")]


@pytest.mark.parametrize("text", ["# 待辦事項\n", "一、總論\n", "## 附錄\n\n# 待辦事項\n"])
def test_headings_alone_give_no_passage(text):
    assert _chunk(text, "todo.md") == []


def test_english_paragraphs_stay_separate():
    text = "# Notes\n\nFirst paragraph.\n\nSecond paragraph.\n"
    got = _chunk(text, "en.md")
    assert [(p.section, p.text) for p in got] == [
        (("Notes",), "First paragraph."),
        (("Notes",), "Second paragraph."),
    ]


def test_crlf_small_document_offsets():
    text = "一、總論\r\n\r\n1. 要點。\r\n\r\n內文甲，\r\n第二行。\r\n\r\n內文乙。\r\n"
    got = _chunk(text)
    assert [p.text for p in got] == ["內文甲，第二行。", "內文乙。"]
    assert text[got[0].start : got[0].end] == "內文甲，\r\n第二行。"
    assert text[got[1].start : got[1].end] == "內文乙。"


def test_soft_wrapped_lines_join_into_one_passage():
    text = "一、總論\n\n1. 要點。\n\n第一行文字，\n接續第二行，\n  第三行結束。\n\n下一段。\n"
    got = _chunk(text)
    assert [p.text for p in got] == ["第一行文字，接續第二行，第三行結束。", "下一段。"]
    p = got[0]
    assert text[p.start : p.end] == "第一行文字，\n接續第二行，\n  第三行結束。"
    assert p.id.endswith("-p1") and got[1].id.endswith("-p2")
    assert all(s == ("一、總論", "1. 要點。") for s in (q.section for q in got))


def test_soft_wrapped_paragraph_right_after_a_heading_keeps_its_first_line():
    text = "一、總論\n\n第一行文字，\n接續第二行。\n"
    got = _chunk(text)
    assert [(p.section, p.text) for p in got] == [(("一、總論",), "第一行文字，接續第二行。")]


def test_soft_wrapped_latin_words_get_one_space():
    text = "一、總論\n\n1. 要點。\n\n台灣與 Republic of\nPalau 持續合作。\n"
    (p,) = _chunk(text)
    assert p.text == "台灣與 Republic of Palau 持續合作。"
    assert text[p.start : p.end] == "台灣與 Republic of\nPalau 持續合作。"


def test_soft_wrapped_long_paragraph_split_maps_offsets():
    lines = [
        "第一句話說明本段主旨。",
        "第二句話補充細節內容，",
        "並且延續到下一行。",
        "Taiwan",
        "and Palau 合作。",
    ]
    text = "一、總論\n\n1. 要點。\n\n" + "\n".join(lines) + "\n"
    got = _chunk(text, max_chars=20)
    assert [(p.text, text[p.start : p.end]) for p in got] == [
        ("第一句話說明本段主旨。", "第一句話說明本段主旨。"),
        ("第二句話補充細節內容，並且延續到下一行。", "第二句話補充細節內容，\n並且延續到下一行。"),
        ("Taiwan and Palau 合作。", "Taiwan\nand Palau 合作。"),
    ]
    assert [p.id.rsplit("-", 1)[1] for p in got] == ["p1.1", "p1.2", "p1.3"]


def test_soft_wrapped_latin_after_punctuation_keeps_a_space():
    text = "一、總論\n\n1. 要點。\n\nThe report covers trade,\nhealth and security.\n"
    (p,) = _chunk(text)
    assert p.text == "The report covers trade, health and security."
