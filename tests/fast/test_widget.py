"""``/widget.js``, ``/embed`` and the iframe's frame page, in process (fake engine, Starlette's TestClient)."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from citeqa.ui.chat.render import CONFIDENCE_WORDS, NOT_IN_DOCUMENT, UNCERTAIN
from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import PREFIX, TOKEN

BEARER = {"Authorization": f"Bearer {TOKEN}"}
OTHER = "http://portal.lan:8080"
SNIPPET = re.compile(r"<pre><code>(.*?)</code></pre>", re.S)
PAGES = ("/embed", "/embed/frame", "/embed/demo/widget", "/embed/demo/bubble", "/embed/demo/iframe",
         "/embed/demo/js", "/embed/demo/webcomponent", "/widget.js")


@pytest.fixture(scope="module")
def open_client(fake_engine):
    settings = ServeSettings(cors_origins=(OTHER,), allowed_hosts=("testserver",))
    with TestClient(create_app(fake_engine, settings)) as c:
        yield c


@pytest.fixture(scope="module")
def guarded_client(fake_engine):
    settings = ServeSettings(access_token=TOKEN, root_path=PREFIX, allowed_hosts=("testserver",))
    with TestClient(create_app(fake_engine, settings), headers=BEARER) as c:
        yield c


def snippets(page: str) -> list[str]:
    return [html.unescape(s) for s in SNIPPET.findall(page)]


def test_widget_js_is_served_as_javascript_with_a_short_cache(open_client):
    r = open_client.get("/widget.js")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert re.fullmatch(r"public, max-age=\d+", r.headers["cache-control"])
    assert r.headers["x-content-type-options"] == "nosniff"
    js = r.text
    assert 'customElements.define("citeqa-chat"' in js and 'attachShadow({mode: "open"})' in js
    assert "gradio" not in js.lower()  # loads no Gradio JavaScript


def test_widget_js_renders_server_text_as_text_and_touches_nothing_outside(open_client):
    js = open_client.get("/widget.js").text
    for parsing in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert parsing not in js, parsing
    # Nothing outside the shadow root: no page-level styles, language, head or body changes.
    for outside in ("document.documentElement", "document.head", "document.body", "document.title"):
        assert outside not in js, outside
    assert "token" not in js.lower()  # it never takes or sends a token


def test_widget_styles_reset_the_host_and_use_no_root_relative_sizes(open_client):
    js = open_client.get("/widget.js").text
    css = json.loads(re.search(r"var CSS = (\".*?\");\n", js).group(1))
    host = re.search(r":host \{(.*?)\}", css, re.S).group(1)
    assert host.lstrip().startswith("all: initial !important")
    for prop in ("color", "font-size", "font-family", "line-height", "direction"):
        assert re.search(rf"(?<![-\w]){prop}: [^;]+ !important", host), prop
    assert not re.search(r"\d(\.\d+)?rem\b", css)  # rem follows the host page's <html> font size
    assert "@media (prefers-color-scheme: dark)" in css


def test_widget_uses_the_chats_words_for_states_and_confidence(open_client):
    js = open_client.get("/widget.js").text
    words = json.loads(re.search(r"var WORDS = (\{.*?\});\n", js).group(1))
    assert words["notFound"] == NOT_IN_DOCUMENT and words["uncertain"] == UNCERTAIN
    assert [tuple(w) for w in words["confidence"]] == list(CONFIDENCE_WORDS)
    assert "信心：" in js and "複製答案" in js and "新對話" in js


def test_embed_page_gives_each_snippet_its_setting(open_client):
    page = open_client.get("/embed").text
    codes = snippets(page)
    assert len(codes) == 4
    widget, iframe, js, component = codes
    assert '<script src="http://testserver/widget.js" defer></script>' in widget and "<citeqa-chat>" in widget
    assert 'src="http://testserver/embed/frame"' in iframe
    assert 'addEventListener("message"' in iframe and "citeqa:height" in iframe
    assert len(iframe.splitlines()[-1]) < 400 and iframe.splitlines()[-1].startswith("<script>")  # one line
    assert '"http://testserver/api/ask"' in js
    assert "<gradio-app" in component
    # The exact line to set, keeping the origin already allowed.
    assert page.count(f"CITEQA_CORS_ORIGINS={OTHER},https://intranet.example.com") >= 3
    assert "樣式會雙向互相影響" in page  # the web component leaks styles both ways, and the page says so


def test_no_token_in_any_page_and_the_proxy_is_explained(guarded_client):
    for path in PAGES:
        r = guarded_client.get(PREFIX + path)
        assert r.status_code == 200, path
        assert TOKEN not in r.text, path
        for code in snippets(r.text):
            assert "token" not in code.lower(), (path, code)
    page = guarded_client.get(f"{PREFIX}/embed").text
    assert "反向代理" in page and "Authorization: Bearer" in page
    assert f'src="http://testserver{PREFIX}/widget.js"' in html.unescape(page)


def test_frame_page_wraps_the_chat_and_posts_its_height(guarded_client):
    page = guarded_client.get(f"{PREFIX}/embed/frame").text
    assert f'<iframe id="citeqa-frame" src="{PREFIX}/"' in page
    assert 'postMessage({type: "citeqa:height"' in page
    assert guarded_client.get(f"{PREFIX}/embed/frame").headers["cache-control"] == "no-store"


def test_demo_pages_load_the_widget_from_this_server(guarded_client):
    inline = guarded_client.get(f"{PREFIX}/embed/demo/widget").text
    assert f'<script src="{PREFIX}/widget.js" defer></script>' in inline and "<citeqa-chat>" in inline
    assert '<citeqa-chat mode="bubble">' in guarded_client.get(f"{PREFIX}/embed/demo/bubble").text


def test_widget_js_loads_without_the_token_and_the_api_still_needs_it(fake_engine):
    """A page of another site can load the script (it holds no data) and show the sign-in sentence."""
    settings = ServeSettings(access_token=TOKEN, allowed_hosts=("testserver",))
    with TestClient(create_app(fake_engine, settings)) as c:  # no token sent
        script = c.get("/widget.js")
        assert script.status_code == 200 and "customElements.define" in script.text
        assert TOKEN not in script.text
        refused = c.post("/api/ask", json={"question": "駐孟買辦事處何時揭牌？"})
        assert refused.status_code == 401 and "error" in refused.json()
        assert c.get("/embed").status_code == 401  # the snippets page stays behind the token
