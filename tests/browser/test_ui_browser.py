"""The chat and the embed demos in real headless Chromium, against the real engine served in process.

Screenshots go to ``test-artifacts/``. Needs Debian's ``chromium`` and ``fonts-noto-cjk``
(``make browser``); the tests are skipped with a reason when the browser is missing.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from support import ARTIFACTS, PREFIX, TOKEN

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
XSS = "<img src=x onerror=window.__xss=1>"
WAIT_MS = 90_000


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("needs Debian chromium: apt-get install -y chromium fonts-noto-cjk (make browser)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(real_server) -> str:
    """No token, served at "/", and the host site's origin allowed for CORS (conftest)."""
    return real_server


@pytest.fixture(scope="module")
def guarded(guarded_real_server) -> str:
    """Under a sub-path with an access token: what an intranet reverse proxy would put in front (conftest)."""
    return guarded_real_server


class Page:
    """A fresh browser context and page that records requests leaving 127.0.0.1 (there must be none)."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-TW")  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.external: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", self._on_request)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _on_request(self, request: object) -> None:
        url = request.url  # type: ignore[attr-defined]
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname != "127.0.0.1":
            self.external.append(url)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def tab(browser) -> Iterator[Page]:
    t = Page(browser)
    yield t
    t.context.close()
    assert not t.external, f"the page reached outside this server: {t.external[:5]}"


def open_chat(tab: Page, url: str) -> None:
    tab.page.goto(url, wait_until="load")  # a Gradio page never reaches "networkidle"
    tab.page.wait_for_selector("#citeqa-question textarea", timeout=WAIT_MS)


def ask(root: object, question: str) -> None:
    """Type a question into the chat (a page or a frame) and wait for its answer bubble."""
    n = root.locator(".citeqa-answer").count()  # type: ignore[attr-defined]
    root.locator("#citeqa-question textarea").fill(question)  # type: ignore[attr-defined]
    root.locator("#citeqa-question textarea").press("Enter")  # type: ignore[attr-defined]
    root.locator(".citeqa-answer").nth(n).wait_for(timeout=WAIT_MS)  # type: ignore[attr-defined]


def test_chat_answer_links_to_highlighted_source(tab, server):
    question = {"question": "拜登政府宣布對台軍售幾次？"}
    expected = httpx.post(f"{server}/api/ask", json=question, timeout=60).json()
    first = expected["citations"][0]
    open_chat(tab, server + "/")
    page = tab.page
    assert "citeqa" in page.title()
    ask(page, "拜登政府宣布對台軍售幾次？")
    answer = page.locator(".citeqa-answer").last
    assert "19" in answer.inner_text()
    link = answer.locator("a.citeqa-cite").first
    assert link.inner_text() == "[1]" and link.get_attribute("href") == "#citeqa-src-1-1"
    card = page.locator("#citeqa-sources #citeqa-src-1-1")
    assert card.locator(".citeqa-label").inner_text() == first["label"]
    assert card.locator("mark").inner_text() == first["text"][first["quote_start"] : first["quote_end"]]
    assert first["source"] in card.locator(".citeqa-file").inner_text()
    link.click()
    page.wait_for_function("location.hash === '#citeqa-src-1-1'", timeout=5_000)
    tab.shot("chat-answer")
    assert not tab.errors, tab.errors


def test_chat_not_in_document_and_examples(tab, server):
    open_chat(tab, server + "/")
    page = tab.page
    for q in ("駐孟買辦事處何時揭牌？", "拜登政府宣布對台軍售幾次？", "台北101有多高？"):
        assert page.get_by_text(q, exact=True).count() >= 1, f"example {q} is not shown"
    ask(page, "台北101有多高？")
    badge = page.locator("#citeqa-chat .citeqa-abstain").last
    assert badge.is_visible() and badge.inner_text() == "文件中沒有提到"
    assert "文件中沒有提到" in page.locator("#citeqa-sources h3").inner_text()
    tab.shot("chat-not-in-document")


def test_chat_follow_up_and_input_error(tab, server):
    open_chat(tab, server + "/")
    page = tab.page
    ask(page, "駐孟買辦事處何時揭牌？")
    assert "10 月" in page.locator(".citeqa-answer").last.inner_text()
    ask(page, "那荷蘭呢？")
    assert page.locator(".citeqa-answer").count() == 2
    page.locator("#citeqa-question textarea").fill("   ")
    page.locator("#citeqa-send").click()
    status = page.locator("#citeqa-status .citeqa-status")
    status.wait_for(timeout=30_000)
    assert "問題無法處理" in status.inner_text()
    assert page.locator(".citeqa-answer").count() == 2  # the conversation stays
    assert "Traceback" not in page.content()
    tab.shot("chat-follow-up-error")


def test_chat_escapes_question_text(tab, server):
    open_chat(tab, server + "/")
    page = tab.page
    question = f"{XSS} **粗體** $$x^2$$ 台北101有多高？"
    ask(page, question)
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__xss") == "undefined"
    shown = page.locator("#citeqa-chat .citeqa-question").last
    assert shown.inner_text() == question
    assert page.locator("#citeqa-chat img[src='x']").count() == 0
    assert page.locator("#citeqa-chat strong, #citeqa-chat .katex").count() == 0
    tab.shot("chat-escaping")


def test_embed_page_lists_three_snippets(tab, guarded):
    tab.page.goto(f"{guarded}/embed?token={TOKEN}", wait_until="load")
    codes = tab.page.locator("pre code").all_inner_texts()
    assert len(codes) == 3
    assert "<iframe" in codes[0] and f"{PREFIX}/" in codes[0]
    assert "<gradio-app" in codes[1] and f"{PREFIX}/static/gradio/gradio.js" in codes[1]
    assert f"{PREFIX}/api/ask" in codes[2] and "textContent" in codes[2]
    tab.shot("embed-page")


def test_demo_iframe(tab, guarded):
    tab.page.goto(f"{guarded}/embed/demo/iframe?token={TOKEN}", wait_until="load")
    frame = tab.page.frame_locator("iframe")
    frame.locator("#citeqa-question textarea").wait_for(timeout=WAIT_MS)
    ask(frame, "拜登政府宣布對台軍售幾次？")
    assert "19" in frame.locator(".citeqa-answer").last.inner_text()
    assert frame.locator("#citeqa-sources mark").count() >= 1
    tab.shot("demo-iframe")


def test_demo_webcomponent(tab, guarded):
    tab.page.goto(f"{guarded}/embed/demo/webcomponent?token={TOKEN}", wait_until="load")
    app = tab.page.locator("gradio-app")
    app.locator("#citeqa-question textarea").wait_for(timeout=WAIT_MS)
    ask(app, "駐孟買辦事處何時揭牌？")
    assert "10 月" in app.locator(".citeqa-answer").last.inner_text()
    assert app.locator("#citeqa-sources .citeqa-source").count() >= 1
    tab.shot("demo-webcomponent")


def test_demo_js_snippet(tab, guarded):
    page = tab.page
    page.goto(f"{guarded}/embed/demo/js?token={TOKEN}", wait_until="load")
    page.fill("#citeqa-q", "拜登政府宣布對台軍售幾次？")
    page.click("#citeqa-form button")
    page.locator("#citeqa-sources li").first.wait_for(timeout=WAIT_MS)
    assert "19" in page.locator("#citeqa-answer").inner_text()
    assert page.locator("#citeqa-sources li mark").count() >= 1
    tab.shot("demo-js")
    page.fill("#citeqa-q", XSS + "台北101有多高？")
    page.click("#citeqa-form button")
    page.wait_for_function(
        "(t => t && t !== '查詢中…')(document.getElementById('citeqa-answer').textContent)", timeout=WAIT_MS
    )
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#citeqa-sources img").count() == 0


def test_copied_snippets_work_on_another_origin(tab, server, host_site):
    """Paste the three snippets from /embed into pages of another origin, as an intranet author would."""
    embed = httpx.get(f"{server}/embed").text
    snippets = [html.unescape(code) for code in re.findall(r"<pre><code>(.*?)</code></pre>", embed, re.S)]
    assert len(snippets) == 3
    for name, snippet in zip(("iframe", "webcomponent", "js"), snippets, strict=True):
        host_site.pages[f"/{name}.html"] = f'<!doctype html><meta charset="utf-8"><body>{snippet}</body>'
    page = tab.page

    page.goto(f"{host_site.origin}/iframe.html", wait_until="load")
    frame = page.frame_locator("iframe")
    frame.locator("#citeqa-question textarea").wait_for(timeout=WAIT_MS)
    ask(frame, "駐孟買辦事處何時揭牌？")
    assert "10 月" in frame.locator(".citeqa-answer").last.inner_text()

    page.goto(f"{host_site.origin}/webcomponent.html", wait_until="load")
    app = page.locator("gradio-app")
    app.locator("#citeqa-question textarea").wait_for(timeout=WAIT_MS)
    ask(app, "拜登政府宣布對台軍售幾次？")
    assert "19" in app.locator(".citeqa-answer").last.inner_text()
    tab.shot("cross-origin-webcomponent")

    page.goto(f"{host_site.origin}/js.html", wait_until="load")
    page.fill("#citeqa-q", "拜登政府宣布對台軍售幾次？")
    page.click("#citeqa-form button")
    page.locator("#citeqa-sources li mark").first.wait_for(timeout=WAIT_MS)
    assert "19" in page.locator("#citeqa-answer").inner_text()
    tab.shot("cross-origin-js")
