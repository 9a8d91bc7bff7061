"""The chat page as served: one language, the header, example questions, the embed demos' own fixes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

import httpx
import pytest

from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import live_server


@pytest.fixture(scope="module")
def site(fake_engine) -> Iterator[str]:
    with live_server(create_app(fake_engine, ServeSettings(root_path="/sub"))) as base:
        yield base + "/sub"


def test_chat_page_is_marked_traditional_chinese_before_gradio_starts(site):
    r = httpx.get(site + "/", timeout=30)
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
    assert re.search(r'<html lang="zh-Hant">', r.text) and 'lang="en"' not in r.text
    head = r.text[r.text.index("<head") :]
    script = head.index("'zh-TW'")
    assert script < head.index("<script type=\"module\"")  # before any of Gradio's scripts
    assert "window.__citeqaPage=true" in head


def test_only_the_chat_page_is_rewritten(site):
    embed = httpx.get(site + "/embed", timeout=30)
    early = "defineProperty(navigator"
    assert early not in embed.text and embed.status_code == 200
    config = httpx.get(site + "/config", timeout=30)
    assert config.status_code == 200 and early not in config.text and config.json()


def test_localized_keeps_pages_without_the_tags():
    from citeqa.ui.middleware.locale import localized

    assert localized(b"plain") == b"plain"
    once = localized(b"<html><head></head><html>")
    assert once.count(b"zh-Hant") == 1 and once.count(b"<script>") == 1


def test_header_names_the_document_as_its_readers_know_it(fake_engine):
    """UX P20: the bundled document by its publisher and name, not only its slogan title; what it covers."""
    from citeqa.ui.chat.page import BUNDLED_DOCUMENT, example_questions, header_html

    header = header_html(fake_engine, "/sub")
    title = next(iter(fake_engine.index.manifest["outline"].values()))["title"]
    assert f'根據<span title="{title}">{BUNDLED_DOCUMENT}</span>回答問題' in header  # its own title on hover
    assert "mofa-2024-review.zh-TW.txt" not in header
    assert "內容：以民主為基礎的價值外交、以和平為基礎的同盟外交、以繁榮為基礎的經貿外交、總合外交<" in header
    assert 'href="/sub/docs"' in header
    assert example_questions(fake_engine)[0] == "駐孟買辦事處何時揭牌？"
    assert "台北101有多高？" not in example_questions(fake_engine)  # examples are questions it answers


class OtherIndex:
    outline: ClassVar[dict] = {"faq.md": {"title": "辦公室手冊", "sections": ["一、請假規定", "二、報帳流程：線上"]}}
    manifest: ClassVar[dict] = {"outline": outline}
    passage_count = 12

    def source_counts(self) -> dict[str, int]:
        return {"faq.md": 12}


def test_examples_and_header_for_another_collection_come_from_its_outline(fake_engine):
    from dataclasses import replace

    from citeqa.ui.chat.page import BUNDLED_DOCUMENT, example_questions, header_html

    other = replace(fake_engine, index=OtherIndex())
    assert example_questions(other) == ["請假規定有哪些重點？", "報帳流程有哪些重點？"]
    header = header_html(other)
    assert "根據《辦公室手冊》回答問題" in header and BUNDLED_DOCUMENT not in header
    assert "內容：請假規定、報帳流程</span>" in header and "共 12 個段落" in header


def test_header_escapes_titles_and_names_many_documents_by_count(fake_engine):
    from dataclasses import replace

    from citeqa.ui.chat.page import header_html

    class Many(OtherIndex):
        outline: ClassVar[dict] = {f"{n}.md": {"title": f"<b>手冊 {n}</b>", "sections": ["甲"]} for n in range(5)}
        manifest: ClassVar[dict] = {"outline": outline}

        def source_counts(self) -> dict[str, int]:
            return {f"{n}.md": 1 for n in range(5)}

    header = header_html(replace(fake_engine, index=Many()))
    assert "<b>" not in header and "《&lt;b&gt;手冊 0&lt;/b&gt;》" in header and "等 5 份文件" in header
    assert "內容：" not in header  # sections are named for a single document only


def test_webcomponent_demo_links_gradios_stylesheet_that_exists(site):
    page = httpx.get(site + "/embed/demo/webcomponent", timeout=30).text
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert href and href.group(1).startswith("/sub/static/gradio/assets/index-")
    assert httpx.get(site.removesuffix("/sub") + href.group(1), timeout=30).status_code == 200
    inert = re.search(r'<link rel="citeqa-loaded" href="(\./assets/index-[\w-]+\.css)">', page)
    assert inert and inert.group(1).endswith(href.group(1).rsplit("/", 1)[1])


def test_js_demo_speaks_chinese_and_says_not_found_once(site):
    page = httpx.get(site + "/embed/demo/js", timeout=30).text
    script = page[page.index("<script>") :]
    assert "錯誤：" not in script and "data.error" not in script  # the API's English text is never shown
    assert "文件中沒有提到。" not in script  # the answer itself says so
    assert "無法連線到問答服務" in script and '413: "問題太長"' in script
