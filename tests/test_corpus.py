"""Parsing and chunking: the real bundled document, plus tiny Markdown / plain / CRLF / wrapped texts."""

from __future__ import annotations

import itertools
import re
import shutil

import pytest

from citeqa.corpus import (
    ChunkSettings,
    CorpusSettings,
    Document,
    bundled_corpus_path,
    load_corpus,
    passages_of,
)
from citeqa.corpus.loader import BUNDLED_NAME

HEADER = "2024 年外交工作回顧"
TITLE = "以「總合外交」打造民主、和平、繁榮的新台灣"
BROKEN_HEADING_TAIL = "聲，凝聚友我力量；總合外交能量，發揮外交戰力"
SECTION_FOUR = (
    "四、總合外交：宣揚我軟實力、提升國際形象；積極向外發聲，凝聚友我力量；總合外交能量，發揮外交戰力"
)
CLOSERS = "」』”’）)】》"
SENTENCE_ENDS = "。！？；!?;"

# Written independently of citeqa.corpus.parse: the heading shapes the README describes.
_HEADING_LINE = re.compile(
    r"^(?:- )?(?:\*\*)?(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）]|\d{1,2}\.\s|結語$)"
)


def _body_lines(text: str) -> list[str]:
    """Stripped source lines that are body text: not blank, not a heading, not the running header."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == HEADER or line in (TITLE, BROKEN_HEADING_TAIL) or _HEADING_LINE.match(line):
            continue
        out.append(line)
    return out


def _chunk(text: str, source: str = "doc.txt", max_chars: int = 500):
    return passages_of(
        Document(source, text, "utf-8"), CorpusSettings(chunk=ChunkSettings(max_chars=max_chars))
    )


def _passage_with(passages, needle: str):
    hits = [p for p in passages if needle in p.text]
    assert len(hits) == 1, f"{needle!r} is in {len(hits)} passages"
    return hits[0]


# --------------------------------------------------------------------------- the bundled document


@pytest.fixture(scope="module")
def passages(bundled):
    return bundled.passages


def test_bundled_has_enough_passages_from_one_document(bundled, passages):
    assert len(bundled.documents) == 1
    assert bundled.documents[0].source == BUNDLED_NAME
    assert len(passages) >= 25
    assert all(p.source == BUNDLED_NAME for p in passages)


@pytest.mark.parametrize("prefix", ["一、", "二、", "三、", "四、", "結語"])
def test_passages_under_each_top_section(passages, prefix):
    under = [p for p in passages if p.section and p.section[0].startswith(prefix)]
    assert under, f"no passage under {prefix}"


def test_top_sections_appear_in_document_order(passages):
    order = []
    for p in passages:
        for prefix in ("一、", "二、", "三、", "四、", "結語"):
            if p.section and p.section[0].startswith(prefix) and prefix not in order:
                order.append(prefix)
    assert order == ["一、", "二、", "三、", "四、", "結語"]


def test_running_header_is_in_no_passage_and_no_heading(passages):
    assert HEADER in bundled_corpus_path().read_text(encoding="utf-8")  # the quirk is really there
    for p in passages:
        assert HEADER not in p.text, p.id
        assert all(HEADER not in h for h in p.section), p.id
        assert HEADER not in p.label, p.id


@pytest.mark.parametrize(
    ("left", "right", "header_between"),
    [
        ("吐瓦魯以及", "帛琉，完成", True),
        ("立法", "45 週年酒會", False),
        ("INGO在臺灣", "設點專區", False),
        ("蕭副總統；", "前首相野田佳彥", True),
        ("德國國會情報監督小組副主席暨外交", "委員會成員齊舍偉特", True),
    ],
)
def test_paragraph_split_by_page_break_is_one_passage(passages, corpus_text, left, right, header_between):
    p = _passage_with(passages, left + right)
    assert not any(right in q.text and q is not p for q in passages)
    raw = corpus_text[p.start : p.end]
    assert "\n" in raw  # the passage really spans the break in the source
    assert (HEADER in raw) is header_between


def test_tail_of_a_split_paragraph_never_starts_a_passage(passages):
    for tail in ("帛琉，完成", "45 週年酒會", "設點專區", "前首相野田佳彥", "委員會成員齊舍偉特"):
        assert not any(p.text.startswith(tail) for p in passages), tail


def test_broken_top_heading_is_one_heading(passages):
    fours = [p for p in passages if p.section and p.section[0].startswith("四、")]
    assert fours
    assert {p.section[0] for p in fours} == {SECTION_FOUR}
    assert "積極向外發聲" in fours[0].section[0]
    for p in passages:
        assert not any(h.startswith("聲，") for h in p.section), p.section
        assert not p.text.startswith("聲，凝聚"), p.id
        assert BROKEN_HEADING_TAIL not in p.text


def test_subsections_of_section_four_keep_their_parent(passages):
    subs = {p.section[1] for p in passages if p.section and p.section[0] == SECTION_FOUR}
    assert subs == {
        "(一)運用軟實力推動公眾外交，加強宣傳我優質國際形象。",
        "(二)積極多元向全球媒體發聲，有效匯聚國際挺台輿論。",
        "(三)結合公私部門外交資源，創新提升多元外交戰力。",
        "(四)精進領務便民措施，達致數位政府治理。",
    }


def test_markdown_bold_and_dash_are_stripped_from_headings(passages):
    headings = {h for p in passages for h in p.section}
    for h in headings:
        assert "**" not in h, h
        assert not h.startswith(("- ", "-(", "* ")), h
    assert "(一) 建立整合跨部會資源機制，積極實現「經濟日不落國」。" in headings
    assert "(一)聯合友盟及理念相近國家，反制中共無端阻撓與打壓。" in headings
    assert all("**" not in p.label for p in passages)


@pytest.mark.parametrize(
    "published", ["（WHO）", "(INTERPOL)", "19 度", "(Nancy", "「台灣關係法」", "M503 航線"]
)
def test_passage_text_keeps_brackets_and_spacing_as_published(passages, corpus_text, published):
    assert published in corpus_text
    _passage_with(passages, published)


def test_item_titles_are_sections_never_passage_text(passages, corpus_text):
    titles = [ln.strip() for ln in corpus_text.splitlines() if re.match(r"^\d\.\s", ln.strip())]
    assert "1. 高層互訪，成效斐然。" in titles
    assert len(titles) == 12  # (一)…(四) of 一、 have three items each
    section_entries = {h for p in passages for h in p.section}
    for t in titles:
        assert t in section_entries, t
        for p in passages:
            assert t not in p.text, (t, p.id)
    first = _passage_with(passages, "賴總統 5 月 20 日就職典禮")
    assert first.section == (
        "一、以民主為基礎的價值外交：持續鞏固邦交關係，深化與理念相近夥伴實質合作，提升與友好國家連結",
        "(一) 邦誼穩固，互惠共榮",
        "1. 高層互訪，成效斐然。",
    )


@pytest.mark.parametrize(
    ("needle", "label"),
    [
        ("賴總統 5 月 20 日就職典禮", "一、(一) 1. 高層互訪，成效斐然 ¶1"),
        ("拜登政府上任迄今", "一、(二) 1. 行政部門，堅定挺台 ¶1"),
        ("我駐孟買辦事處", "一、(五) 新南向政策，不斷深化 ¶1"),
        ("協助籌設行政院", "三、(一) 建立整合跨部會資源機制，積極實現「經濟日不落國」 ¶1"),
        ("展望 2025 年", "結語 ¶1"),
    ],
)
def test_labels(passages, needle, label):
    assert _passage_with(passages, needle).label == label


def test_labels_are_unique(passages):
    labels = [p.label for p in passages]
    assert len(set(labels)) == len(labels)


def test_every_body_line_is_in_exactly_one_passage(passages, corpus_text):
    body = _body_lines(corpus_text)
    assert len(body) == 33  # guards the test's own classification of the source lines
    where = []
    for line in body:
        holders = [i for i, p in enumerate(passages) if line in p.text]
        assert len(holders) == 1, (line[:30], holders)
        where.append(holders[0])
    assert where == sorted(where)  # in document order
    assert set(where) == set(range(len(passages)))  # and no passage without a source line


def test_passage_texts_concatenated_equal_body_lines_concatenated(passages, corpus_text):
    assert "".join(p.text for p in passages) == "".join(_body_lines(corpus_text))


def test_offsets_map_back_to_the_source(passages, corpus_text):
    for p in passages:
        raw = corpus_text[p.start : p.end]
        assert raw.replace(HEADER, "").replace("\n", "") == p.text, p.id
        if "\n" not in raw:
            assert raw == p.text, p.id
        # a passage starts at the start of a line and ends at the end of one
        assert p.start == 0 or corpus_text[p.start - 1] == "\n", p.id
        assert p.end == len(corpus_text) or corpus_text[p.end] == "\n", p.id
    starts = [p.start for p in passages]
    assert starts == sorted(starts)
    assert all(a.end < b.start for a, b in itertools.pairwise(passages))


def test_ids_unique_well_formed_and_identical_across_runs(passages):
    ids = [p.id for p in passages]
    assert len(set(ids)) == len(ids)
    for pid in ids:
        assert re.fullmatch(re.escape(BUNDLED_NAME) + r"#[0-9a-f]{8}(?:~\d+)?-p\d+", pid), pid
    again = load_corpus()
    assert [p.id for p in again.passages] == ids
    assert [p.to_dict() for p in again.passages] == [p.to_dict() for p in passages]


def test_ids_in_one_section_survive_edits_in_another(tmp_path, corpus_text):
    copy = tmp_path / BUNDLED_NAME
    shutil.copyfile(bundled_corpus_path(), copy)
    before = load_corpus([copy]).passages
    old = "展望 2025 年，國際社會迎向地緣政治新篇章"
    assert old in corpus_text
    # edit the 結語 paragraph, and add a new paragraph at the end of 四、(四)
    anchor = "(四)精進領務便民措施，達致數位政府治理。"
    end_of_44 = corpus_text.index("\n\n結語")
    edited_44 = corpus_text[:end_of_44] + "\n\n新增一段測試用的內文。" + corpus_text[end_of_44:]
    assert anchor in edited_44
    edited = edited_44.replace(old, "展望 2025 年，國際社會迎向全新的地緣政治篇章，局勢更加複雜")
    copy.write_text(edited, encoding="utf-8")
    after = load_corpus([copy]).passages

    def in_section(ps, prefix):
        return [(p.id, p.text) for p in ps if p.section and p.section[0].startswith(prefix)]

    for prefix in ("一、", "二、", "三、"):
        assert in_section(after, prefix) == in_section(before, prefix), prefix
    # the edited paragraph keeps its id; the added one gets the next ordinal of its section
    conc_before = [p for p in before if p.section == ("結語",)]
    conc_after = [p for p in after if p.section == ("結語",)]
    assert [p.id for p in conc_after] == [p.id for p in conc_before]
    assert conc_after[0].text != conc_before[0].text
    sec44_before = [p.id for p in before if p.section[-1:] == (anchor,)]
    sec44_after = [p.id for p in after if p.section[-1:] == (anchor,)]
    assert sec44_after[:1] == sec44_before and len(sec44_after) == 2
    assert sec44_after[1] == sec44_before[0][: -len("-p1")] + "-p2"
    # offsets after the insertion still map back to the edited source
    for p in after:
        assert edited[p.start : p.end].replace(HEADER, "").replace("\n", "") == p.text


# --------------------------------------------------------------------------- long paragraphs


def _first_sentence(text: str) -> str:
    m = re.match(rf"[^{SENTENCE_ENDS}]*[{SENTENCE_ENDS}]+[{CLOSERS}]*", text)
    return m.group(0) if m else text


def test_long_paragraphs_split_at_sentence_ends_bundled(passages, corpus_text):
    pieces = _chunk(corpus_text, BUNDLED_NAME, max_chars=60)
    assert len(pieces) > 2 * len(passages)
    by_parent: dict[str, list] = {}
    for q in pieces:
        parent, _, k = q.id.rpartition(".")
        assert re.fullmatch(r".*-p\d+", parent) and k.isdigit(), q.id
        by_parent.setdefault(parent, []).append(q)
    whole = {p.id: p for p in passages}
    assert set(by_parent) == set(whole)  # every paragraph here is longer than 60 characters
    hard_cuts = 0
    for parent, group in by_parent.items():
        assert [q.id for q in group] == [f"{parent}.{k}" for k in range(1, len(group) + 1)]
        assert [q.label for q in group] == [f"{whole[parent].label}.{k}" for k in range(1, len(group) + 1)]
        assert "".join(q.text for q in group) == whole[parent].text
        assert all(q.section == whole[parent].section for q in group)
        for i, q in enumerate(group):
            assert 0 < len(q.text) <= 60, q.id
            at_sentence_end = q.text.rstrip(CLOSERS)[-1] in SENTENCE_ENDS
            if not at_sentence_end:
                assert len(q.text) == 60, (q.id, q.text)  # only a hard cut may end mid-sentence
                assert not any(c in SENTENCE_ENDS for c in q.text), q.id  # ... of a sentence over 60
                hard_cuts += 1
            elif i + 1 < len(group):  # greedy: the next sentence would not have fitted
                assert len(q.text) + len(_first_sentence(group[i + 1].text)) > 60, q.id
            raw = corpus_text[q.start : q.end]
            assert raw.replace(HEADER, "").replace("\n", "") == q.text, q.id
        assert group[0].start == whole[parent].start and group[-1].end == whole[parent].end
    assert hard_cuts > 0


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


def test_crlf_line_endings_bundled(passages, corpus_text):
    crlf = corpus_text.replace("\n", "\r\n")
    got = _chunk(crlf, BUNDLED_NAME)
    assert [(p.id, p.section, p.label, p.text) for p in got] == [
        (p.id, p.section, p.label, p.text) for p in passages
    ]
    for p in got:
        raw = crlf[p.start : p.end]
        assert "\r" not in p.text
        assert raw.replace(HEADER, "").replace("\r\n", "") == p.text, p.id
        if "\n" not in raw:
            assert raw == p.text


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
