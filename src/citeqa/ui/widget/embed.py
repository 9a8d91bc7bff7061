"""``/widget.js``, the intranet embedding page (``/embed``) and a working host page for each way to embed.

Four ways, best first: the ``<citeqa-chat>`` element (``ui.widget.script``: shadow DOM, nothing leaks
either way), an ``<iframe>`` of the chat that takes its content's height, a vanilla JS snippet that
calls ``/api/ask``, and Gradio's ``<gradio-app>`` web component (kept for pages that already use it;
it leaks styles both ways, and the page says so). The snippets live in ``ui.widget.snippets``. Every URL
starts with the app's root path, so the pages work behind a reverse proxy under a sub-path.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from citeqa.ui.server.config import ServeSettings
from citeqa.ui.widget.script import WIDGET_JS
from citeqa.ui.widget.snippets import (
    FRAME_PATH,
    HEIGHT_MESSAGE,
    STATIC_GRADIO,
    iframe_snippet,
    js_snippet,
    webcomponent_snippet,
    widget_snippet,
)

__all__ = ["STATIC_GRADIO", "build_embed_router", "public_base"]

# A short cache: the URL carries no version, and an upgrade should reach pages within minutes.
WIDGET_HEADERS = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}

_PAGE_CSS = """
body { font-family: "Noto Sans CJK TC", "Noto Sans TC", system-ui, sans-serif; margin: 24px auto;
  max-width: 960px; padding: 0 16px; color: #1f2328; line-height: 1.6; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px; overflow-x: auto;
  font-size: 13px; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 32px; }
.note { color: #57606a; }
.setting { background: #ddf4ff; border-left: 4px solid #0969da; padding: 6px 10px; }
.warn { background: #fff4e5; border-left: 4px solid #bc4c00; padding: 6px 10px; }
mark { background: #fff1a8; }
#citeqa-sources li { margin-bottom: 8px; }
"""

# An embedded chat on a phone shares the screen with the host page above it: a shorter conversation
# keeps the question box on the first screen. The chat's own height cannot follow the screen here
# (the frame is as tall as its content), so the frame sets it by width.
_FRAME_COMPACT_CSS = "@media (max-width: 600px) { #citeqa-chat { height: 360px !important; } }"

# The page that wraps the chat for the iframe snippet: it sizes its inner frame to the chat's body
# (the chat page's own height does not follow its viewport's) and posts that height to the parent,
# so no script on the chat page itself is needed.
_FRAME_JS = """
(function () {
  var frame = document.getElementById("citeqa-frame"), last = 0;
  function post() {
    var doc = frame.contentDocument;
    if (!doc || !doc.body) return;
    var height = Math.ceil(doc.body.scrollHeight);
    if (!height || Math.abs(height - last) < 2) return;
    last = height;
    frame.style.height = height + "px";
    if (window.parent !== window) window.parent.postMessage({type: __TYPE__, height: height}, "*");
  }
  frame.addEventListener("load", function () {
    var doc = frame.contentDocument;
    if (!doc || !doc.body) return;
    var style = doc.createElement("style");
    style.textContent = __COMPACT__;
    doc.head.append(style);
    new ResizeObserver(post).observe(doc.body);
    post();
  });
})();
""".replace("__TYPE__", json.dumps(HEIGHT_MESSAGE)).replace("__COMPACT__", json.dumps(_FRAME_COMPACT_CSS))


def public_base(request: Request) -> str:
    """Return the app's public URL, root path included, no trailing slash: "http://host:7860/citeqa".

    For the snippets intranet authors copy to other sites. The Host it names has passed the allow-list
    (``ui.middleware.hosts``), and X-Forwarded-Host / -Proto reach here only from a trusted proxy. The value only
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


@lru_cache(maxsize=1)
def gradio_base_css() -> str | None:
    """The name of the stylesheet Gradio's web component loads ("index-….css"), read from its script."""
    from citeqa.ui.server.app import gradio_frontend_dir

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


def _page(title: str, body: str, head: str = "") -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_PAGE_CSS}</style>{head}</head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def cors_setting(settings: ServeSettings) -> str:
    """The exact line to set for a page on another origin, keeping the origins already allowed.

    >>> cors_setting(ServeSettings(cors_origins=("http://a.lan",)))
    'CITEQA_CORS_ORIGINS=http://a.lan,https://intranet.example.com'
    """
    return "CITEQA_CORS_ORIGINS=" + ",".join((*settings.cors_origins, "https://intranet.example.com"))


def embed_page(base: str, root: str, settings: ServeSettings) -> HTMLResponse:
    """Render the page intranet authors copy the snippets from, each with the setting it needs."""
    allowed = "、".join(settings.cors_origins) or "（無：只有與 citeqa 同一網域的網頁能呼叫）"
    cors = (
        f'<p class="setting">需要的設定：在 citeqa 伺服器設定 <code>{escape(cors_setting(settings))}</code>'
        "，把 https://intranet.example.com 換成貼上程式碼的網頁的來源（協定、主機名稱與連接埠，例如 "
        "<code>https://portal.corp.example:8443</code>，結尾不加斜線），再重新啟動 citeqa。"
        "網頁與 citeqa 在同一網域時不需要。</p>"
    )
    token = bool(settings.access_token)
    proxy = (
        "此伺服器設定了存取權杖（CITEQA_ACCESS_TOKEN）：程式碼裡不放權杖，因為網頁原始碼人人看得到。"
        "請讓網頁與 citeqa 經過同一個反向代理或單一登入，由代理替已登入的使用者加上 "
        "<code>Authorization: Bearer …</code> 標頭；否則元件會顯示「需要登入」。"
    )
    widget_note = cors + (f'<p class="warn">{proxy}</p>' if token else "")
    iframe_note = '<p class="setting">不需要 CITEQA_CORS_ORIGINS：iframe 可放在任何網站。</p>' + (
        '<p class="warn">此伺服器設定了存取權杖：請勿把 <code>?token=</code> 寫進 iframe 網址。使用者先以'
        "<code>?token=</code> 開啟一次對話介面（瀏覽器存下 Cookie，網頁與 citeqa 同站時有效），"
        "或由反向代理加上權杖。</p>"
        if token
        else ""
    )
    sections = [
        ("widget", "(a) 問答元件 &lt;citeqa-chat&gt;（建議）",
         "一行程式碼。元件在 shadow DOM 中：網頁的 CSS 影響不到它，它也不改動網頁。預設嵌在原位；"
         '加上 <code>mode="bubble"</code> 變成右下角的浮動按鈕（<a href="' + escape(root)
         + '/embed/demo/bubble">示範</a>）；<code>server="https://…"</code> 可指定另一台 citeqa 伺服器。',
         widget_snippet(base), widget_note),
        ("iframe", "(b) iframe",
         "整個對話介面；第二行的小程式讓 iframe 隨內容調整高度（手機上輸入框不會被推到畫面外）。",
         iframe_snippet(base), iframe_note),
        ("js", "(c) 純 JavaScript 呼叫 /api/ask", "自訂外觀：呼叫 REST API，以 textContent 顯示答案與來源。",
         js_snippet(base), widget_note),
        ("webcomponent", "(d) Gradio 網頁元件 &lt;gradio-app&gt;（不建議）",
         "JavaScript 由本伺服器提供，不需連外。", webcomponent_snippet(base),
         '<p class="warn">樣式會雙向互相影響：網頁的 CSS 會改變對話介面（文字顏色、字級、連結樣式），'
         "對話介面也會改變網頁（body 的邊界歸零、&lt;html lang&gt; 被改寫）。請改用 (a)。"
         "未設定 CITEQA_CORS_ORIGINS 時，其他網域的網頁只會顯示一片空白；設定了存取權杖時只能用在同一網域。</p>"
         + cors),
    ]
    parts = [
        "<h1>嵌入 citeqa 文件問答</h1>",
        f'<p class="note">複製下列程式碼到內部網站。目前允許跨網域呼叫的來源：{escape(allowed)}。'
        f"{'此伺服器需要存取權杖。' if token else '此伺服器不需要存取權杖。'}</p>",
        f'<p><a href="{escape(root)}/">開啟對話介面</a> · <a href="{escape(root)}/docs">API 文件</a></p>',
    ]
    for demo, title, text, snippet, note in sections:
        parts.append(
            f"<h2>{title}</h2><p>{text} <a href=\"{escape(root)}/embed/demo/{demo}\">示範頁面</a></p>"
            f"<pre><code>{escape(snippet)}</code></pre>{note}"
        )
    return _page("嵌入 citeqa", "".join(parts))


def frame_page(root: str) -> HTMLResponse:
    """The chat in a frame that reports its height to the page holding it (the iframe snippet's target)."""
    body = (
        f'<iframe id="citeqa-frame" src="{escape(root)}/" title="citeqa 文件問答" '
        'style="display:block;width:100%;height:100vh;border:0"></iframe>'
        f"<script>{_FRAME_JS}</script>"
    )
    html = (
        '<!doctype html>\n<html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>citeqa 文件問答</title>'
        "<style>html, body { margin: 0; padding: 0; }</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def build_embed_router(settings: ServeSettings) -> APIRouter:
    """``/widget.js``, ``/embed``, the iframe's frame and the demo host pages (not in the OpenAPI schema).

    The demos use root-relative URLs (same origin, robust behind any proxy); only the snippets shown
    for copying name the public address.
    """
    router = APIRouter(include_in_schema=False)
    root = settings.root_path

    @router.get("/widget.js")
    def widget_js() -> Response:
        return Response(WIDGET_JS, media_type="text/javascript; charset=utf-8", headers=WIDGET_HEADERS)

    @router.get("/embed", response_class=HTMLResponse)
    def embed(request: Request) -> HTMLResponse:
        return embed_page(public_base(request), root, settings)

    @router.get(FRAME_PATH, response_class=HTMLResponse)
    def frame() -> HTMLResponse:
        return frame_page(root)

    demos = {
        "widget": ("問答元件 &lt;citeqa-chat&gt;", "元件嵌在本頁的這個位置。", widget_snippet(root)),
        "bubble": ("浮動問答按鈕", "右下角的按鈕開啟問答。", widget_snippet(root, bubble=True)),
        "iframe": ("iframe", "下面是以 iframe 嵌入的對話介面，高度隨內容調整。", iframe_snippet(root)),
        "js": ("純 JavaScript", "以 fetch 呼叫 /api/ask，答案以 textContent 顯示。", js_snippet(root)),
        "webcomponent": ("&lt;gradio-app&gt; 網頁元件", "對話介面直接嵌在本頁。", webcomponent_demo(root)),
    }

    def demo_route(title: str, note: str, snippet: str) -> HTMLResponse:
        plain = re.sub(r"&lt;|&gt;", "", title)
        return _page(f"示範：{plain}", f'<h1>示範：{title}</h1><p class="note">{note}</p>{snippet}')

    for name, (title, note, snippet) in demos.items():
        router.add_api_route(
            f"/embed/demo/{name}",
            lambda title=title, note=note, snippet=snippet: demo_route(title, note, snippet),
            methods=["GET"],
            response_class=HTMLResponse,
        )
    return router
