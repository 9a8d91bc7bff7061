"""The embed page and its ways to embed the chat, on this server and pasted into another origin.

The ``<citeqa-chat>`` widget has its own file (test_widget_browser.py).
"""

from __future__ import annotations

import html
import re

import httpx
from browsing import DESKTOP, WAIT_MS, ask

from support import PREFIX, TOKEN

XSS = "<img src=x onerror=window.__xss=1>"


def test_embed_page_lists_four_snippets(new_tab, guarded):
    tab = new_tab()
    tab.page.goto(f"{guarded}/embed?token={TOKEN}", wait_until="load")
    codes = tab.page.locator("pre code").all_inner_texts()
    assert len(codes) == 4
    assert f"{PREFIX}/widget.js" in codes[0] and "<citeqa-chat>" in codes[0]
    assert "<iframe" in codes[1] and f"{PREFIX}/embed/frame" in codes[1] and "citeqa:height" in codes[1]
    assert f"{PREFIX}/api/ask" in codes[2] and "textContent" in codes[2]
    assert "<gradio-app" in codes[3] and f"{PREFIX}/static/gradio/gradio.js" in codes[3]
    assert TOKEN not in tab.page.content()  # the page tells how to sign in without handing out the token
    tab.shot("embed-page")


def test_demo_iframe(new_tab, guarded):
    """The iframe takes the chat's height (posted by /embed/frame) and shows the question box and send button."""
    tab = new_tab(DESKTOP)
    tab.page.goto(f"{guarded}/embed/demo/iframe?token={TOKEN}", wait_until="load")
    frame = tab.page.frame_locator("iframe").frame_locator("iframe")  # the host's iframe holds /embed/frame
    frame.locator("#citeqa-question textarea").wait_for(timeout=WAIT_MS)
    tab.page.wait_for_function("document.querySelector('iframe').style.height !== '640px'", timeout=WAIT_MS)
    outer = tab.page.locator("iframe").bounding_box()
    chat = tab.page.frame_locator("iframe").locator("body").evaluate("b => b.scrollHeight")
    assert outer and abs(outer["height"] - chat) <= 2, (outer, chat)
    for sel in ("#citeqa-question textarea", "#citeqa-send"):
        box = frame.locator(sel).bounding_box()  # page coordinates
        assert box and outer["y"] <= box["y"] and box["y"] + box["height"] <= outer["y"] + outer["height"], sel
    ask(frame, "拜登政府宣布對台軍售幾次？")
    assert "19" in frame.locator(".citeqa-answer").last.inner_text()
    assert frame.locator("#citeqa-sources mark").count() >= 1
    tab.shot("demo-iframe")


def test_demo_webcomponent(new_tab, guarded):
    """The web component neither takes focus nor scrolls its host page, and every request it makes succeeds."""
    tab = new_tab(DESKTOP)
    tab.page.goto(f"{guarded}/embed/demo/webcomponent?token={TOKEN}", wait_until="load")
    app = tab.page.locator("gradio-app")
    app.locator("#citeqa-question textarea").wait_for(timeout=WAIT_MS)
    tab.page.wait_for_timeout(1500)
    assert tab.page.evaluate("window.scrollY") == 0
    assert tab.page.evaluate("document.activeElement === document.body")
    assert tab.page.evaluate("document.documentElement.lang") in ("zh-Hant", "zh-TW")  # Gradio writes its locale
    ask(app, "駐孟買辦事處何時揭牌？")
    assert "10 月" in app.locator(".citeqa-answer").last.inner_text()
    assert app.locator("#citeqa-sources .citeqa-source").count() >= 1
    tab.shot("demo-webcomponent")


def test_demo_js_snippet(new_tab, guarded):
    tab = new_tab()
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
    shown = page.locator("#citeqa-answer").inner_text()
    assert shown.count("文件中沒有") == 1, shown  # "not in the documents" said once
    page.fill("#citeqa-q", "問" * 1001)
    page.click("#citeqa-form button")
    page.wait_for_function("document.getElementById('citeqa-answer').textContent.startsWith('無法回答')")
    assert re.fullmatch(r"[^A-Za-z]+", page.locator("#citeqa-answer").inner_text())  # in Chinese
    assert len(tab.failed) == 1 and tab.failed[0].startswith("400 ")  # the refusal itself, expected
    tab.failed.clear()


def test_copied_snippets_work_on_another_origin(new_tab, server, host_site):
    """Paste the snippets from /embed into pages of another origin, as an intranet author would (the widget's
    own file covers ``<citeqa-chat>``)."""
    embed = httpx.get(f"{server}/embed").text
    snippets = [html.unescape(code) for code in re.findall(r"<pre><code>(.*?)</code></pre>", embed, re.S)]
    assert len(snippets) == 4
    for name, snippet in zip(("widget", "iframe", "js", "webcomponent"), snippets, strict=True):
        host_site.pages[f"/{name}.html"] = f'<!doctype html><meta charset="utf-8"><body>{snippet}</body>'
    tab = new_tab()
    page = tab.page

    page.goto(f"{host_site.origin}/iframe.html", wait_until="load")
    frame = page.frame_locator("iframe").frame_locator("iframe")
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
