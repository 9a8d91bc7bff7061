"""``/widget.js``: the ``<citeqa-chat>`` custom element, in one small vanilla script (no Gradio).

``<script src="https://HOST/widget.js" defer></script><citeqa-chat></citeqa-chat>`` puts the chat in
any page. The element talks to ``POST /api/ask`` of the server the script came from
(``document.currentScript.src``), or of ``server="…"``. ``mode="bubble"`` makes it a launcher in the
page's corner instead of an inline box.

Why it is built this way:

- An open shadow root holds everything, and its ``:host`` rule resets every inherited property with
  ``!important`` (``ui.widget.style``), so the host page's CSS reaches nothing inside, and the widget
  sets nothing outside itself: no global style, no ``lang`` on the page, no focus or scroll on load.
- Server text (answers, passages, questions) only ever goes through ``textContent`` and DOM nodes.
- It never takes a token: a page anyone can read must not hold one. A server with
  ``CITEQA_ACCESS_TOKEN`` answers 401 unless a reverse proxy in front adds the token, and the widget
  says so in Chinese (README "Security").
- A cross-origin call blocked by CORS and a server that is down both reject ``fetch`` with the same
  TypeError; a ``no-cors`` request to ``/healthz`` tells them apart (it succeeds whenever the server
  answers at all), so the widget can name the setting to change: ``CITEQA_CORS_ORIGINS``.
- 👍 / 👎 under an answer with an ``id`` (not a conversation reply) go to ``POST /api/feedback`` of the
  same server, as in the chat: sent at once, 👎 then offering an optional comment, one change allowed; a 404 (the
  question log is off) replaces them with 「回饋功能未開啟…」.
- Follow-ups: ``/api/ask`` takes ``previous``, the last question that stood on its own (an answer
  with ``resolved`` was itself a follow-up and does not replace it); 「新對話」 forgets it.
"""

from __future__ import annotations

import json

from citeqa.ui.chat.render import CONFIDENCE_WORDS, NOT_IN_DOCUMENT, RATING_BUTTONS, RATING_REFUSED, UNCERTAIN
from citeqa.ui.widget.script_rating import RATING_JS
from citeqa.ui.widget.style import WIDGET_CSS

_TEMPLATE = r"""/* citeqa <citeqa-chat> widget: https://HOST/widget.js (see /embed on the citeqa server). */
(function () {
  "use strict";
  if (!window.customElements || customElements.get("citeqa-chat")) return;
  var CSS = __CSS__;
  var WORDS = __WORDS__;
  var SCRIPT = document.currentScript && document.currentScript.src;
  var SAFE_TAIL = /^[0-9A-Za-z][0-9A-Za-z._~-]{0,95}$/;
  var STATUS = {
    400: "問題無法處理：請確認問題不是空白，也沒有超過字數上限。",
    403: "沒有使用問答的權限。",
    413: "問題太長，請縮短後再送出。",
    415: "問答元件的請求格式有誤，請通知管理員更新 widget.js。",
    429: "目前提問的人很多，請稍後再試。",
    503: "目前提問的人很多，請稍後再試。"
  };
  var SIGN_IN = "此 citeqa 伺服器需要登入（已設定存取權杖）；問答元件不會在網頁裡存放權杖，" +
    "請管理員讓本網頁與 citeqa 經過同一個反向代理或單一登入，由代理替使用者加上權杖。";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function confidence(value) {
    for (var i = 0; i < WORDS.confidence.length; i++) {
      if (value >= WORDS.confidence[i][0]) return WORDS.confidence[i];
    }
    return WORDS.confidence[WORDS.confidence.length - 1];
  }

  class CiteqaChat extends HTMLElement {
    connectedCallback() {
      if (this._ui) return;
      var root = this.attachShadow({mode: "open"});
      var given = this.getAttribute("server");
      var base = new URL(given || SCRIPT || location.href, location.href);
      if (!given && SCRIPT) base = new URL(".", base);  // .../widget.js -> .../
      this._base = base.href.replace(/\/?$/, "/");
      this._anchor = "";  // the last question that stood on its own: `previous` of a follow-up
      this._chain = Promise.resolve();
      this._pending = "";
      this._turns = 0;
      var style = el("style");
      style.textContent = CSS;
      var wrap = el("div", "wrap");
      wrap.lang = "zh-Hant";
      var bubble = (this.getAttribute("mode") || "").toLowerCase() === "bubble";
      var ui = this._ui = {};
      var panel = ui.panel = el("section", "panel");
      panel.setAttribute("aria-label", "文件問答");
      var head = el("div", "head");
      var titles = el("div");
      titles.append(el("p", "title", "文件問答"), el("p", "sub", "根據文件回答，每句答案都標出原文出處"));
      ui.fresh = el("button", "btn new", "新對話");
      ui.fresh.type = "button";
      var actions = el("div", "actions");
      actions.append(ui.fresh);
      head.append(titles, actions);
      ui.notice = el("p", "notice");
      ui.notice.setAttribute("role", "alert");
      ui.notice.hidden = true;
      ui.log = el("div", "log");
      ui.log.setAttribute("role", "region");
      ui.log.setAttribute("aria-label", "對話紀錄");
      ui.log.tabIndex = 0;  // a scrolling region must be reachable by keyboard
      ui.empty = el("p", "empty", "請在下方輸入問題，例如：拜登政府宣布對台軍售幾次？");
      ui.log.append(ui.empty);
      ui.live = el("div", "sr");  // answers read out once, as plain text
      ui.live.setAttribute("aria-live", "polite");
      ui.live.setAttribute("aria-atomic", "true");
      var form = ui.form = el("form");
      var label = el("label", "sr", "問題");
      label.htmlFor = "citeqa-q";
      ui.box = el("textarea");
      ui.box.id = "citeqa-q";
      ui.box.rows = 1;
      ui.box.placeholder = "輸入問題後按 Enter";
      ui.send = el("button", "btn send", "提問");
      ui.send.type = "submit";
      form.append(label, ui.box, ui.send);
      panel.append(head, ui.notice, ui.log, form, ui.live);
      if (bubble) {
        wrap.classList.add("bubble");
        ui.launcher = el("button", "launcher", "問答");
        ui.launcher.type = "button";
        ui.launcher.setAttribute("aria-label", "開啟文件問答");
        ui.launcher.setAttribute("aria-expanded", "false");
        panel.id = "citeqa-panel";
        ui.launcher.setAttribute("aria-controls", "citeqa-panel");
        panel.hidden = true;
        var close = el("button", "btn close", "關閉");
        close.type = "button";
        actions.append(close);
        var self = this;
        ui.launcher.addEventListener("click", function () { self.toggle(panel.hidden); });
        close.addEventListener("click", function () { self.toggle(false); });
        panel.addEventListener("keydown", function (ev) { if (ev.key === "Escape") self.toggle(false); });
        wrap.append(panel, ui.launcher);
      } else {
        wrap.append(panel);
      }
      root.append(style, wrap);
      this.wire();
      this.check();
    }

    toggle(open) {
      var ui = this._ui;
      ui.panel.hidden = !open;
      ui.launcher.setAttribute("aria-expanded", String(open));
      if (open) ui.box.focus({preventScroll: true}); else ui.launcher.focus({preventScroll: true});
    }

    wire() {
      var self = this, ui = this._ui;
      ui.form.addEventListener("submit", function (ev) { ev.preventDefault(); self.submit(); });
      ui.box.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
          ev.preventDefault();
          self.submit();
        }
      });
      ui.box.addEventListener("input", function () {
        ui.box.style.height = "auto";
        ui.box.style.height = Math.min(ui.box.scrollHeight + 2, 150) + "px";
      });
      ui.fresh.addEventListener("click", function () {
        self._anchor = "";
        self._turns = 0;
        ui.log.replaceChildren(ui.empty);
        ui.live.textContent = "已開始新對話";
        ui.box.focus({preventScroll: true});
      });
    }

    url(path) { return new URL(path, this._base).href; }

    // On load: can this page call the server? Say which setting to change before anyone asks.
    check() {
      var self = this;
      fetch(this.url("healthz"), {cache: "no-store"}).then(function (res) {
        if (!res.ok) self.notify("無法使用問答：伺服器回應 HTTP " + res.status + "，請通知管理員。");
      }, function () { self.diagnose().then(function (text) { self.notify(text); }); });
    }

    notify(text) {
      this._ui.notice.textContent = text;
      this._ui.notice.hidden = !text;
    }

    // fetch() rejected: blocked by CORS (the server answers a no-cors probe) or the server is unreachable.
    diagnose() {
      var origin = new URL(this._base).origin;
      var down = "無法連線到 citeqa 問答伺服器（" + origin + "）：" +
        "伺服器可能沒有啟動或網址有誤，請稍後再試或通知管理員。";
      if (origin === location.origin) return Promise.resolve(down);
      var page = location.origin;
      var allow = page === "null"
        ? "此網頁不是從網站開啟（沒有來源），無法使用問答：請把網頁放到網站上，" +
          "並在 citeqa 伺服器的 CITEQA_CORS_ORIGINS 加入該網站。"
        : "此網站尚未獲准使用問答：請管理員在 citeqa 伺服器設定 CITEQA_CORS_ORIGINS=" + page +
          "（已有其他來源時以逗號分隔加入）。";
      return fetch(this.url("healthz"), {mode: "no-cors", cache: "no-store"})
        .then(function () { return allow; }, function () { return down; });
    }

    submit() {
      var ui = this._ui, question = ui.box.value.trim();
      if (!question) { this.notify("請先輸入問題。"); return; }
      if (question === this._pending) return;  // a second Enter on the same question sends it once
      if (ui.notice.textContent === "請先輸入問題。") this.notify("");
      ui.box.value = "";
      ui.box.style.height = "";
      this._pending = question;
      var self = this, turn = this.turn(question);
      this._chain = this._chain.then(function () { return self.ask(question, turn); });
    }

    turn(question) {
      var ui = this._ui;
      if (ui.empty.isConnected) ui.empty.remove();
      var node = el("div", "turn");
      var q = el("p", "q");
      q.append(el("span", "sr", "提問："), question);
      var answer = el("div", "a");
      answer.append(el("p", "pending", "回答中…"));
      node.append(q, answer);
      ui.log.append(node);
      this.reveal(node);
      return answer;
    }

    // Scroll the conversation (never the host page) so `node` starts in view.
    reveal(node) {
      var log = this._ui.log;
      if (node.offsetTop < log.scrollTop || node.offsetTop + node.offsetHeight > log.scrollTop + log.clientHeight) {
        log.scrollTop = Math.max(0, node.offsetTop - 4);
      }
    }

    ask(question, slot) {
      var self = this, body = {question: question};
      if (this._anchor) body.previous = this._anchor;
      var done = function () { if (self._pending === question) self._pending = ""; };
      return fetch(this.url("api/ask"), {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
      }).then(function (res) {
        if (res.status === 401) return self.fail(slot, SIGN_IN);
        if (!res.ok) {
          return self.fail(slot, STATUS[res.status] || "伺服器發生錯誤（HTTP " + res.status + "），請稍後再試。");
        }
        return res.json().then(function (data) {
          if (!data.resolved && data.outcome !== "conversation") self._anchor = data.question;
          self.show(slot, data);
        });
      }, function () {
        return self.diagnose().then(function (text) { self.fail(slot, text); });
      }).then(done, function (err) { done(); self.fail(slot, "無法顯示答案，請稍後再試。"); throw err; });
    }

    fail(slot, text) {
      var p = el("p", "error", text);
      slot.replaceChildren(p);
      this._ui.live.textContent = text;
    }

    show(slot, data) {
      var self = this, n = ++this._turns, cites = data.citations || [], outcome = data.outcome;
      var parts = [];
      if (data.resolved) parts.push(el("p", "resolved", "理解為：" + data.resolved));
      if (outcome === "not_found") parts.push(el("span", "badge abstain", WORDS.notFound));
      if (outcome === "uncertain") parts.push(el("span", "badge uncertain", WORDS.uncertain));
      var text = el("p", "text");
      String(data.answer).split(/\[(\d{1,3})\]/).forEach(function (piece, i) {
        var k = Number(piece);
        if (i % 2 === 0) { if (piece) text.append(piece); return; }
        if (k < 1 || k > cites.length || outcome === "conversation") { text.append("[" + piece + "]"); return; }
        var cite = el("button", "cite", "[" + k + "]");
        cite.type = "button";
        cite.setAttribute("aria-label", "來源 " + k);
        cite.addEventListener("click", function () { self.focusSource(slot, k); });
        text.append(cite);
      });
      parts.push(text);
      var tools = el("div", "tools");
      if (data.confidence != null && (outcome === "answered" || outcome === "uncertain")) {
        var c = confidence(data.confidence), pct = Math.round(data.confidence * 100) + "%";
        var chip = el("span", "conf conf-" + c[2], "信心：" + c[1]);
        chip.title = "答案正確的可能性約 " + pct;
        chip.append(el("span", "sr", "（答案正確的可能性約 " + pct + "）"));
        tools.append(chip);
      }
      var copy = el("button", "btn copy", "複製答案");
      copy.type = "button";
      copy.addEventListener("click", function () { self.copy(copy, text, cites, outcome); });
      tools.append(copy);
      if (data.id && outcome !== "conversation") tools.append(this.rating(String(data.id)));
      parts.push(tools);
      if (cites.length && outcome !== "conversation") parts.push(this.sources(n, cites, outcome));
      slot.replaceChildren.apply(slot, parts);
      var heard = (outcome === "not_found" ? WORDS.notFound + "。" : "") + text.textContent;
      this._ui.live.textContent = "回答：" + heard + (cites.length && outcome !== "conversation"
        ? "（" + cites.length + " 個來源）" : "");
    }

    /*__RATING__*/
    sources(n, cites, outcome) {
      var self = this, box = el("details", "sources");
      var title = outcome === "answered" ? "來源" : outcome === "uncertain" ? "相關段落" : "最接近的段落（僅供參考）";
      box.open = outcome !== "not_found";
      box.append(el("summary", null, title + "（" + cites.length + "）"));
      var list = el("ol");
      cites.forEach(function (hit, i) {
        var item = el("li", outcome === "not_found" ? "src nearby" : "src");
        item.tabIndex = -1;
        var top = el("div");
        top.append(el("span", "num", "[" + (i + 1) + "]"), el("span", "label", hit.label || ""));
        var passage = el("p", "passage"), body = String(hit.text || ""), s = hit.quote_start, e = hit.quote_end;
        if (s != null && e != null && s >= 0 && s < e && e <= body.length) {
          passage.append(body.slice(0, s), el("mark", null, body.slice(s, e)), body.slice(e));
        } else {
          passage.textContent = body;
        }
        item.append(top);
        if (hit.section && hit.section.length) item.append(el("p", "section", hit.section.join(" › ")));
        var page = hit.page != null ? " · 第 " + hit.page + " 頁" : "";
        item.append(passage, el("p", "file", "來源：" + hit.source + page));
        var link = el("a", "open", "在文件中開啟");
        link.href = self.docUrl(hit);
        link.target = "_blank";
        link.rel = "noopener";
        item.append(link);
        list.append(item);
      });
      box.append(list);
      return box;
    }

    docUrl(hit) {
      var url = new URL("doc", this._base);
      url.searchParams.set("source", hit.source);
      url.searchParams.set("passage", hit.id);
      var id = String(hit.id), prefix = hit.source + "#";
      var tail = id.indexOf(prefix) === 0 ? id.slice(prefix.length) : "";
      if (SAFE_TAIL.test(tail)) url.hash = "p-" + tail;  // else the server marks it from `passage`
      return url.href;
    }

    focusSource(slot, k) {
      var box = slot.querySelector("details.sources"), item = box && box.querySelectorAll(".src")[k - 1];
      if (!item) return;
      box.open = true;
      var log = this._ui.log;
      log.querySelectorAll(".src.focus").forEach(function (x) { x.classList.remove("focus"); });
      item.classList.add("focus");
      var top = item.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
      log.scrollTop = Math.max(0, top - 8);
      item.focus({preventScroll: true});
    }

    copy(button, text, cites, outcome) {
      var lines = [text.textContent.trim()];
      if (cites.length && outcome !== "conversation") {
        lines.push("", outcome === "not_found" ? "最接近的段落（僅供參考）：" : "來源：");
        cites.forEach(function (hit, i) {
          var t = String(hit.text || ""), s = hit.quote_start, e = hit.quote_end;
          var quote = s != null && e != null ? t.slice(s, e) : t;
          lines.push("[" + (i + 1) + "] " + hit.label + "：「" + quote.trim() + "」");
        });
      }
      var plain = lines.join("\n"), shadow = this.shadowRoot;
      var fallback = function () {
        var area = el("textarea");
        area.value = plain;
        area.setAttribute("readonly", "");
        area.style.cssText = "position:fixed;opacity:0;pointer-events:none";
        shadow.append(area);
        area.select();
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        area.remove();
        return ok;
      };
      var clip = navigator.clipboard && navigator.clipboard.writeText
        ? navigator.clipboard.writeText(plain).then(function () { return true; }, fallback)
        : Promise.resolve(fallback());
      clip.then(function (ok) {
        button.textContent = ok ? "已複製" : "無法複製";
        setTimeout(function () { button.textContent = "複製答案"; }, 1500);
      });
    }
  }

  customElements.define("citeqa-chat", CiteqaChat);
})();
"""

_WORDS = {
    "vote": {rating: [icon + " " + word, label] for rating, icon, label, word in RATING_BUTTONS},
    "refused": RATING_REFUSED,
    "notFound": NOT_IN_DOCUMENT,
    "uncertain": UNCERTAIN,
    "confidence": [[floor, word, level] for floor, word, level in CONFIDENCE_WORDS],
}

WIDGET_JS = _TEMPLATE.replace("    /*__RATING__*/", RATING_JS).replace("__CSS__", json.dumps(WIDGET_CSS)).replace(
    "__WORDS__", json.dumps(_WORDS, ensure_ascii=False)
)
