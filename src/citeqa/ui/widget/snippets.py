"""The code intranet authors paste into their pages, one function per way to embed the chat.

Each takes ``base``, the app's public URL with its root path and no trailing slash
("https://host/citeqa"), or the root path alone for the demo pages on this server. The values only
ever go into escaped HTML attributes or JSON-encoded script strings. No snippet carries the access
token: a page anyone can read must not hold one (README "Security").
"""

from __future__ import annotations

import json
from html import escape

STATIC_GRADIO = "/static/gradio"  # where create_app mounts gradio/templates/frontend
FRAME_PATH = "/embed/frame"  # the chat wrapped in a page that reports its height (ui.widget.embed)
HEIGHT_MESSAGE = "citeqa:height"  # the postMessage type the frame sends and the helper reads
# Shown by the browser until widget.js defines the element (the shadow root then hides it), so a
# script that cannot load leaves a sentence, never a blank area.
WIDGET_FALLBACK = (
    "正在載入文件問答…（若一直顯示這句話，表示無法從 citeqa 伺服器載入 widget.js："
    "伺服器沒有啟動、網址有誤，或需要登入）"
)


def widget_snippet(base: str, *, bubble: bool = False) -> str:
    """The ``<citeqa-chat>`` element and its script; ``bubble`` makes it a launcher in the corner."""
    mode = ' mode="bubble"' if bubble else ""
    return (
        f'<script src="{escape(base)}/widget.js" defer></script>\n'
        f"<citeqa-chat{mode}>{escape(WIDGET_FALLBACK)}</citeqa-chat>"
    )


# One line the host page keeps: it sets the height of the iframe that sent the message, only for a
# message from that iframe's own origin, clamped so a page cannot be blown up by a bad value.
RESIZE_HELPER = (
    '<script>addEventListener("message",function(e){var d=e.data;if(!d||d.type!=="' + HEIGHT_MESSAGE + '")return;'
    'document.querySelectorAll("iframe").forEach(function(f){if(f.contentWindow===e.source&&'
    "new URL(f.src,location.href).origin===e.origin)f.style.height=Math.min(Math.max(+d.height||0,200),5000)"
    '+"px"})});</script>'
)


def iframe_snippet(base: str) -> str:
    """The whole chat in an iframe that takes the height of its content (``RESIZE_HELPER``)."""
    return (
        f'<iframe src="{escape(base)}{FRAME_PATH}" title="citeqa 文件問答"\n'
        '        style="display:block;width:100%;height:640px;border:0"></iframe>\n' + RESIZE_HELPER
    )


def webcomponent_snippet(base: str) -> str:
    """Embed the chat as Gradio's ``<gradio-app>``; its script comes from this server, not a CDN."""
    return (
        f'<script type="module" src="{escape(base)}{STATIC_GRADIO}/gradio.js"></script>\n'
        f'<gradio-app src="{escape(base)}/"></gradio-app>'
    )


def js_snippet(base: str) -> str:
    """A self-contained form that calls ``/api/ask`` and shows the answer and sources with textContent."""
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
  var form = document.getElementById("citeqa-form");
  var answer = document.getElementById("citeqa-answer");
  var list = document.getElementById("citeqa-sources");
  var problems = {400: "問題無法處理，請確認問題內容", 401: "此伺服器需要登入，請洽管理員", 403: "沒有存取權限",
                  413: "問題太長", 415: "請求格式錯誤", 429: "目前提問的人很多，請稍後再試",
                  503: "目前提問的人很多，請稍後再試"};
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    answer.textContent = "查詢中…";
    list.replaceChildren();
    fetch(API, {method: "POST", headers: {"Content-Type": "application/json"},
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
      .catch(function () {
        answer.textContent = "無法連線到問答服務：伺服器沒有啟動，或本網站不在 CITEQA_CORS_ORIGINS 之中。";
      });
  });
})();
</script>"""
