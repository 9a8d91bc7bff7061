"""The intranet embedding page (``/embed``) and a working host page for each way to embed the chat.

Three ways: an ``<iframe>`` of the chat, Gradio's ``<gradio-app>`` web component (its script served by
this app from ``/static/gradio``, no CDN), and a vanilla JS snippet that calls ``/api/ask`` and renders
the answer with ``textContent``. Every URL starts with the app's root path, so the pages work behind a
reverse proxy under a sub-path.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from citeqa.ui.config import ServeSettings

STATIC_GRADIO = "/static/gradio"  # where create_app mounts gradio/templates/frontend

_PAGE_CSS = """
body { font-family: "Noto Sans CJK TC", "Noto Sans TC", system-ui, sans-serif; margin: 24px auto;
  max-width: 960px; padding: 0 16px; color: #1f2328; line-height: 1.6; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px; overflow-x: auto;
  font-size: 13px; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 32px; }
.note { color: #57606a; }
mark { background: #fff1a8; }
#citeqa-sources li { margin-bottom: 8px; }
"""


def public_base(request: Request) -> str:
    """Return the app's public URL, root path included, no trailing slash: "http://host:7860/citeqa".

    For the snippets intranet authors copy to other sites. The Host it names has passed the allow-list
    (``ui.hosts``), and X-Forwarded-Host / -Proto reach here only from a trusted proxy. The value only
    ever goes into escaped HTML or a JSON-encoded script string; the demo pages use none of it.
    """
    base = str(request.base_url).rstrip("/")
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    if host:
        scheme = proto or request.url.scheme
        base = f"{scheme}://{host}{request.scope.get('root_path', '')}".rstrip("/")
    elif proto == "https" and base.startswith("http://"):
        base = "https://" + base[len("http://") :]
    return base


def iframe_snippet(base: str) -> str:
    """Embed the whole chat page."""
    return (
        f'<iframe src="{escape(base)}/" title="citeqa 文件問答"\n'
        '        style="width:100%;height:860px;border:0" loading="lazy"></iframe>'
    )


def webcomponent_snippet(base: str) -> str:
    """Embed the chat as Gradio's ``<gradio-app>``; its script comes from this server, not a CDN."""
    return (
        f'<script type="module" src="{escape(base)}{STATIC_GRADIO}/gradio.js"></script>\n'
        f'<gradio-app src="{escape(base)}/"></gradio-app>'
    )


@lru_cache(maxsize=1)
def gradio_base_css() -> str | None:
    """The name of the stylesheet Gradio's web component loads ("index-….css"), read from its script."""
    from citeqa.ui.app import gradio_frontend_dir

    folder = gradio_frontend_dir()
    entry = re.search(r"\./assets/(index-[\w-]+\.js)", (folder / "gradio.js").read_text("utf-8"))
    if not entry or not (folder / "assets" / entry.group(1)).is_file():
        return None
    css = re.search(r"`\./assets/(index-[\w-]+\.css)`", (folder / "assets" / entry.group(1)).read_text("utf-8"))
    return css.group(1) if css else None


def webcomponent_demo(root: str) -> str:
    """The web component on this server's own page, its address resolved by the browser.

    ``<gradio-app>`` wants an absolute ``src``; building it from ``location`` and a root-relative path
    trusts no request header. Gradio loads its stylesheet relative to the *page* ("./assets/…"),
    which 404s on a page below the root; it skips one already linked, so the page links it from
    ``/static/gradio`` and marks the relative name taken with an inert ``<link>`` (unknown rel, no fetch).
    """
    src = json.dumps(f"{root}/").replace("<", "\\u003c")
    css = gradio_base_css()
    links = (
        f'<link rel="stylesheet" href="{escape(root)}{STATIC_GRADIO}/assets/{escape(css)}">\n'
        f'<link rel="citeqa-loaded" href="./assets/{escape(css)}">\n'
        if css
        else ""
    )
    return (
        links
        + f'<script type="module" src="{escape(root)}{STATIC_GRADIO}/gradio.js"></script>\n'
        '<div id="citeqa-widget"></div>\n'
        "<script>\n"
        'var citeqaApp = document.createElement("gradio-app");\n'
        f"citeqaApp.setAttribute(\"src\", new URL({src}, location.href).href);\n"
        'document.getElementById("citeqa-widget").appendChild(citeqaApp);\n'
        "</script>"
    )


def js_snippet(base: str) -> str:
    """Build a self-contained widget: a form, the answer and its sources, all set with textContent."""
    api = json.dumps(f"{base}/api/ask").replace("<", "\\u003c")
    return _JS_TEMPLATE.replace("__API__", api)


_JS_TEMPLATE = """<form id="citeqa-form">
  <input id="citeqa-q" size="40" placeholder="輸入問題，例如：駐孟買辦事處何時揭牌？">
  <button type="submit">提問</button>
</form>
<p id="citeqa-answer"></p>
<ol id="citeqa-sources"></ol>
<script>
(function () {
  var API = __API__;
  var TOKEN = "";  // CITEQA_ACCESS_TOKEN, if the server requires one
  var form = document.getElementById("citeqa-form");
  var answer = document.getElementById("citeqa-answer");
  var list = document.getElementById("citeqa-sources");
  var problems = {400: "問題無法處理，請確認問題內容", 401: "需要存取權杖", 403: "沒有存取權限",
                  413: "問題太長", 415: "請求格式錯誤", 429: "目前提問的人很多，請稍後再試",
                  503: "目前提問的人很多，請稍後再試"};
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var headers = {"Content-Type": "application/json"};
    if (TOKEN) headers["Authorization"] = "Bearer " + TOKEN;
    answer.textContent = "查詢中…";
    list.replaceChildren();
    fetch(API, {method: "POST", headers: headers,
                body: JSON.stringify({question: document.getElementById("citeqa-q").value})})
      .then(function (res) {
        if (!res.ok) {
          answer.textContent = "無法回答：" + (problems[res.status] || "伺服器錯誤（" + res.status + "）");
          return;
        }
        return res.json().then(function (data) {
          answer.textContent = data.answer;  // a "not in the documents" answer says so itself
          data.citations.forEach(function (c, i) {
            var li = document.createElement("li");
            var head = document.createElement("strong");
            head.textContent = "[" + (i + 1) + "] " + c.label + "（" + c.source + "）";
            var text = document.createElement("div");
            if (c.quote_start != null) {
              var mark = document.createElement("mark");
              mark.textContent = c.text.slice(c.quote_start, c.quote_end);
              text.append(c.text.slice(0, c.quote_start), mark, c.text.slice(c.quote_end));
            } else {
              text.textContent = c.text;
            }
            li.append(head, text);
            list.append(li);
          });
        });
      })
      .catch(function () { answer.textContent = "無法連線到問答服務，請稍後再試。"; });
  });
})();
</script>"""


def _page(title: str, body: str, head: str = "") -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_PAGE_CSS}</style>{head}</head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def embed_page(base: str, root: str, settings: ServeSettings) -> HTMLResponse:
    """Render the page intranet authors copy the snippets from."""
    cors = "、".join(settings.cors_origins) or "（無，只允許同一網域）"
    token_note = (
        "此伺服器需要存取權杖：iframe 網址加上 <code>?token=…</code>；JS 範例填入 <code>TOKEN</code>。"
        if settings.access_token
        else "此伺服器不需要存取權杖。"
    )
    sections = [
        ("(a) iframe", "最簡單：把整個對話介面嵌入頁面。", iframe_snippet(base), "iframe"),
        (
            "(b) Gradio 網頁元件 &lt;gradio-app&gt;",
            "介面直接成為頁面的一部分；JavaScript 由本伺服器提供，不需連外。",
            webcomponent_snippet(base),
            "webcomponent",
        ),
        ("(c) 純 JavaScript 呼叫 /api/ask", "自訂外觀：呼叫 REST API，以 textContent 顯示答案與來源。",
         js_snippet(base), "js"),
    ]
    parts = [
        "<h1>嵌入 citeqa 文件問答</h1>",
        f'<p class="note">複製下列程式碼到內部網站。允許跨網域呼叫的來源：{escape(cors)}。{token_note}</p>',
        f'<p><a href="{escape(root)}/">開啟對話介面</a> · <a href="{escape(root)}/docs">API 文件</a></p>',
    ]
    for title, text, snippet, demo in sections:
        parts.append(
            f"<h2>{title}</h2><p>{text} <a href=\"{escape(root)}/embed/demo/{demo}\">示範頁面</a></p>"
            f"<pre><code>{escape(snippet)}</code></pre>"
        )
    return _page("嵌入 citeqa", "".join(parts))


def build_embed_router(settings: ServeSettings) -> APIRouter:
    """``/embed`` and its three demo host pages (plain HTML, not in the OpenAPI schema).

    The demos use root-relative URLs (same origin, robust behind any proxy); only the snippets shown
    for copying name the public address.
    """
    router = APIRouter(include_in_schema=False)
    root = settings.root_path

    @router.get("/embed", response_class=HTMLResponse)
    def embed(request: Request) -> HTMLResponse:
        return embed_page(public_base(request), root, settings)

    @router.get("/embed/demo/iframe", response_class=HTMLResponse)
    def demo_iframe() -> HTMLResponse:
        body = "<h1>示範：iframe</h1><p class=\"note\">下面是以 iframe 嵌入的對話介面。</p>"
        return _page("示範：iframe", body + iframe_snippet(root))

    @router.get("/embed/demo/webcomponent", response_class=HTMLResponse)
    def demo_webcomponent() -> HTMLResponse:
        body = "<h1>示範：&lt;gradio-app&gt; 網頁元件</h1><p class=\"note\">對話介面直接嵌在本頁。</p>"
        return _page("示範：網頁元件", body + webcomponent_demo(root))

    @router.get("/embed/demo/js", response_class=HTMLResponse)
    def demo_js() -> HTMLResponse:
        body = (
            "<h1>示範：純 JavaScript</h1>"
            "<p class=\"note\">以 fetch 呼叫 /api/ask，答案以 textContent 顯示。</p>"
        )
        return _page("示範：JavaScript", body + js_snippet(root))

    return router
