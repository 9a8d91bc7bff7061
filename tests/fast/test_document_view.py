"""The document view ``/doc?source=…`` and ``LocalIndex.passages_of``: the fake engine, in process.

The page shows a whole indexed document from the index's passages, in order, with the anchor that
``doc_url`` names; it escapes every text, refuses bad parameters with 400 and unknown documents
with 404, and never reads a file the client names.
"""

from __future__ import annotations

import re
import time
from html import escape, unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from citeqa.corpus import CorpusSettings, Passage, bundled_corpus_path, load_corpus
from citeqa.index import build_index, open_index
from citeqa.qa.engine import Engine
from citeqa.settings import Settings
from citeqa.ui.pages.document import anchor, doc_url, document_title, render_document
from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from documents import write_pdf
from support import assert_error

HOSTS = ("testserver",)
JSON = {"Accept": "application/json"}
PARAGRAPH = re.compile(r'<p id="([^"]+)" class="passage( hit)?">(.*?)<a class="self"', re.S)
HEADING = re.compile(r"<h([234])>(.*?)</h\1>", re.S)


@pytest.fixture(scope="module")
def client(fake_engine):
    with TestClient(create_app(fake_engine, ServeSettings(allowed_hosts=HOSTS))) as c:
        yield c


@pytest.fixture(scope="module")
def bundled_source(fake_engine) -> str:
    (source,) = fake_engine.index.source_counts()
    return source


def _paragraphs(html: str) -> list[tuple[str, bool, str]]:
    return [(pid, bool(hit), unescape(text)) for pid, hit, text in PARAGRAPH.findall(html)]


def _expected_headings(passages: list[Passage]) -> list[tuple[int, str]]:
    """Where the section path changes, the headings from the first level that differs."""
    out: list[tuple[int, str]] = []
    prev: tuple[str, ...] = ()
    for p in passages:
        if p.section == prev:
            continue
        same = next(
            (i for i, (a, b) in enumerate(zip(prev, p.section, strict=False)) if a != b), min(len(prev), len(p.section))
        )
        same = min(same, len(p.section) - 1) if p.section else 0
        out += [(2 + min(d, 2), p.section[d]) for d in range(same, len(p.section))]
        prev = p.section
    return out


# --- passages_of on the local index ----------------------------------------------------------------


def test_local_passages_of_is_the_document_in_order(fake_engine, bundled_source):
    index = fake_engine.index
    got = index.passages_of(bundled_source)
    assert got == [p for p in index.passages if p.source == bundled_source]
    assert len(got) == index.source_counts()[bundled_source] > 1
    assert [(p.start, p.end) for p in got] == sorted((p.start, p.end) for p in got)
    assert index.passages_of("no-such-file.txt") == []
    got.clear()  # the caller's list: the index keeps its own
    assert len(index.passages_of(bundled_source)) == index.source_counts()[bundled_source]


# --- doc_url and the anchors -----------------------------------------------------------------------


def test_doc_url_is_relative_and_names_an_ascii_anchor():
    url = doc_url("資料夾/a b#1.md", "資料夾/a b#1.md#1f2e3d4c~1-p2.3")
    path, _, fragment = url.partition("#")
    assert path.startswith("doc?") and fragment == "p-1f2e3d4c~1-p2.3"
    query = parse_qs(urlsplit(path).query)
    assert query == {"source": ["資料夾/a b#1.md"], "passage": ["資料夾/a b#1.md#1f2e3d4c~1-p2.3"]}
    assert " " not in url and "#" not in path


def test_anchor_of_an_odd_id_is_a_stable_hash():
    odd = anchor("a.md", 'other"<id> with spaces')
    assert re.fullmatch(r"ph-[0-9a-f]{16}", odd) and odd == anchor("a.md", 'other"<id> with spaces')
    assert anchor("a.md", "a.md#<b>") != anchor("a.md", "a.md#<i>")
    assert anchor("a.md", "a.md#0123abcd-p1") == "p-0123abcd-p1"


def test_title_from_the_outline_else_the_file_name():
    manifest = {"outline": {"a/報告.pdf": {"title": "年度報告", "sections": []}}}
    assert document_title(manifest, "a/報告.pdf") == "年度報告"
    assert document_title(manifest, "b/notes.v2.md") == "notes.v2"
    assert document_title({}, "c.txt") == "c"  # an index built before outlines were recorded
    assert document_title({"outline": {"c.txt": {"title": ["odd"]}}}, "c.txt") == "c"


# --- the page --------------------------------------------------------------------------------------


def test_page_renders_the_whole_document_in_order(client, fake_engine, bundled_source):
    passages = fake_engine.index.passages_of(bundled_source)
    r = client.get("/doc", params={"source": bundled_source})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="zh-Hant">' in html and "<script" not in html.lower()
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html), "the page must not load anything from elsewhere"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    paragraphs = _paragraphs(html)
    assert [text for _, _, text in paragraphs] == [p.text for p in passages]
    assert [pid for pid, _, _ in paragraphs] == [anchor(bundled_source, p.id) for p in passages]
    assert len({pid for pid, _, _ in paragraphs}) == len(passages)
    headings = [(int(level), unescape(text)) for level, text in HEADING.findall(html)]
    assert headings == _expected_headings(passages) and len(headings) > 3
    # each heading stands before the first paragraph of its section
    first = html.index(f'id="{anchor(bundled_source, passages[0].id)}"')
    assert html.index(f"<h2>{escape(passages[0].section[0])}</h2>") < first
    title = fake_engine.index.manifest["outline"][bundled_source]["title"]
    assert f"<h1>{escape(title)}</h1>" in html and '<a href="./">' in html


def test_doc_url_opens_its_paragraph_marked(client, fake_engine, bundled_source):
    target = fake_engine.index.passages_of(bundled_source)[7]
    url = doc_url(target.source, target.id)
    path, _, fragment = url.partition("#")
    html = client.get("/" + path).text
    hits = [(pid, text) for pid, hit, text in _paragraphs(html) if hit]
    assert hits == [(fragment, target.text)]
    assert "找不到指定的段落" not in html


def test_a_stale_passage_shows_the_document_with_a_notice(client, bundled_source):
    r = client.get("/doc", params={"source": bundled_source, "passage": f"{bundled_source}#deadbeef-p9"})
    assert r.status_code == 200 and "找不到指定的段落" in r.text
    assert not any(hit for _, hit, _ in _paragraphs(r.text))


def test_every_text_is_escaped():
    evil = '<script>alert("x")</script>&amp;'
    passages = [
        Passage(f"{evil}#0a0b0c0d-p1", evil, (evil, "<b>二</b>"), "<i>label</i>", f"段落 {evil}", 0, 10, page=3),
    ]
    html = render_document(f"標題{evil}", evil, passages, marked=passages[0].id)
    assert "<script" not in html and "<b>" not in html and "<i>" not in html
    assert escape(evil) in html and html.count(escape(evil)) >= 4
    assert '<div class="page">第 3 頁</div>' in html
    assert 'class="passage hit"' in html


def test_headings_follow_section_changes():
    def p(n: int, *section: str) -> Passage:
        return Passage(f"d.md#00000000-p{n}", "d.md", section, f"¶{n}", f"text {n}", n * 10, n * 10 + 5)

    passages = [p(1, "A"), p(2, "A", "B"), p(3, "A", "B"), p(4, "A", "C", "D", "E"), p(5, "A"), p(6, "F")]
    html = render_document("T", "d.md", passages)
    got = [(int(level), text) for level, text in HEADING.findall(html)]
    assert got == [(2, "A"), (3, "B"), (3, "C"), (4, "D"), (4, "E"), (2, "A"), (2, "F")]


def test_a_pdf_shows_its_pages_and_its_title(tmp_path, fake_embedder):
    """A PDF with HTML in its text, through a real index and the app: page markers, escaping, the outline's title."""
    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(docs / "report.pdf")
    (docs / "html.md").write_text("# 標記 <b>測試</b>\n\n段落裡有 <script>alert(1)</script> 與 & 符號。\n", "utf-8")
    index_dir = tmp_path / "index"
    corpus = load_corpus([docs], CorpusSettings())
    build_index(corpus, fake_embedder, index_dir, corpus_settings=CorpusSettings(), progress=False, log=lambda _: None)
    index = open_index(index_dir, fake_embedder, corpus_settings=CorpusSettings())
    settings = Settings.from_env({}, index_dir=index_dir, cache_dir=tmp_path / "cache")
    engine = Engine.assemble(settings, fake_embedder, index)
    with TestClient(create_app(engine, ServeSettings(allowed_hosts=HOSTS))) as c:
        pdf = c.get("/doc", params={"source": "report.pdf"}).text
        pages = [int(n) for n in re.findall(r'<div class="page">第 (\d+) 頁</div>', pdf)]
        assert pages == sorted(set(pages)) and len(pages) >= 2
        assert [t for _, _, t in _paragraphs(pdf)] == [p.text for p in index.passages_of("report.pdf")]
        md = c.get("/doc", params={"source": "html.md"}).text
        assert "<script>alert" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
        assert "<h1>標記 &lt;b&gt;測試&lt;/b&gt;</h1>" in md and "&amp; 符號" in md


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "source=",
        "source=%20%20",
        "passage=x",
        "source=a&source=b",
        "source=" + "x" * 2049,
        "source=a%00b",
        "source=a%0Ab",
        "source=a&passage=" + "p" * 4097,
    ],
    ids=["none", "empty", "blank", "no-source", "repeated", "too-long", "nul", "newline", "long-passage"],
)
def test_bad_parameters_are_400(client, query):
    page = client.get(f"/doc?{query}")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-Hant">' in page.text and "無法顯示文件" in page.text
    assert_error(client.get(f"/doc?{query}", headers=JSON), 400)


@pytest.mark.parametrize(
    "source",
    ["no-such.txt", "../../../../etc/passwd", "/etc/passwd", "%2e%2e/pyproject.toml", "\ufffd", "<b>x</b>"],
)
def test_unknown_sources_are_404(client, source):
    page = client.get("/doc", params={"source": source})
    assert page.status_code == 404 and "索引中沒有名為" in page.text and "<b>x</b>" not in page.text
    assert_error(client.get("/doc", params={"source": source}, headers=JSON), 404)


def test_the_indexed_file_path_is_not_a_source(client):
    """Only source names the index lists are shown; the file's path on disk is not one of them."""
    assert client.get("/doc", params={"source": str(bundled_corpus_path())}).status_code == 404
    assert client.get("/doc", params={"source": bundled_corpus_path().name.upper()}).status_code == 404


def test_other_methods_and_neighbouring_paths(client, bundled_source):
    assert_error(client.post("/doc", params={"source": bundled_source}), 405)
    head = client.head("/doc", params={"source": bundled_source})
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/html")
    for path in ("/doc/", "/docx", "/document", "/doc/../docs/static/x", "/docs/oauth2-redirect", "/docsx"):
        assert_error(client.get(path), 404)


def test_token_root_path_and_body_limit_apply(fake_engine, bundled_source):
    token = "t0ken-doc"
    settings = ServeSettings(access_token=token, root_path="/p", allowed_hosts=HOSTS, max_body_bytes=2048)
    with TestClient(create_app(fake_engine, settings)) as c:
        params = {"source": bundled_source}
        assert_error(c.get("/p/doc", params=params), 401)
        bearer = {"Authorization": f"Bearer {token}"}
        r = c.get("/p/doc", params=params, headers=bearer)
        assert r.status_code == 200 and '<a href="./">' in r.text
        assert c.get("/doc", params=params, headers=bearer).status_code == 200  # a proxy that strips /p
        big = {**bearer, "content-length": "999999"}
        assert_error(c.request("GET", "/p/doc", params=params, headers=big, content=b""), 413)


# --- a large document ------------------------------------------------------------------------------


def test_a_thousand_passages_render_whole(capsys):
    passages = [
        Passage(
            f"big.md#{i // 20:08x}-p{i % 20 + 1}",
            "big.md",
            ("總論", f"第 {i // 20 + 1} 節"),
            f"¶{i}",
            f"第 {i} 段：" + "外交" * 100,
            i * 300,
            i * 300 + 205,
        )
        for i in range(1000)
    ]
    t0 = time.perf_counter()
    html = render_document("大型文件", "big.md", passages, marked=passages[500].id)
    elapsed = time.perf_counter() - t0
    assert len(_paragraphs(html)) == 1000 and html.count("<h3>") == 50
    with capsys.disabled():
        print(f"\nrendered 1,000 passages ({len(html):,} bytes) in {elapsed * 1000:.1f} ms")
