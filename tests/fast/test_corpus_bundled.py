"""Parsing and chunking of the real bundled document: sections, page-break joins, offsets, ids, splits.

Tiny Markdown / plain / CRLF / wrapped texts are in test_corpus_shapes.py.
"""

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
