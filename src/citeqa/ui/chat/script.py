"""The chat page's one script (Gradio runs it once the page is up): behaviour HTML alone cannot give.

- ``[n]`` opens answer's source n: in the side panel when it is shown (wide screens), else in the
  sources under the answer, and keeps it in view while Gradio scrolls the chat for a new answer;
  "回到答案" goes back. No URL change, so an embedding page is untouched.
- "複製答案" copies plain text: the answer with its markers and a numbered source list.
- 👍 / 👎 (``render.rating_html``) send a rating to ``POST <root>/api/feedback`` at once; 👎 then offers a
  box for an optional comment (sent as the same rating again, which the server takes as no change). The
  line beside them says 「謝謝您的回饋」 or, in Chinese, why not. A rating may be
  changed once (the server refuses a second change with 409); a 404 means the log is off (or the answer
  is no longer kept), and the buttons give way to 「回饋功能未開啟…」. What was chosen is kept per answer id
  and painted again whenever Gradio redraws a message.
- "在文件中開啟" opens the document view on the chat's server, also from a ``<gradio-app>`` on another site.
- Message labels for screen readers become the message's plain text (Gradio puts its HTML there).
- Gradio's own strings in Traditional Chinese where the page could not set the language before it
  started (the ``<gradio-app>`` web component on another site).
- A question that hears nothing back for 2 s makes the page ask for its conversation again (the
  comment above ``CHAT_JS``: Gradio's client can miss an event's result).
- The server going away and coming back (the second comment above ``CHAT_JS``): a Chinese notice
  instead of Gradio's English toast, the typed question kept in the box, and the page working again
  by itself once the server answers, without a reload. A double Enter (or click) sends once.

Everything is delegated from ``document`` (through the web component's shadow root, if any), so it
works for messages rendered later; nothing runs unless the user acts, bar the label fix (the resync
timer runs only while a question waits).
"""

import json

from citeqa.ui.chat.render import RATING_BUTTONS, RATING_REFUSED
from citeqa.ui.chat.script_rating import RATING_JS
from citeqa.ui.chat.script_reconnect import RECONNECT_JS

# Why the resync: Gradio 6.31's server closes a page's event stream when its last event ends; an
# event joined in that moment (a question sent as another answer arrived) is never heard from,
# though the server answers it. Any later event opens a new stream, which delivers what was missed.
# So while a question is unacknowledged or its answer pending, the page clicks the hidden
# #citeqa-sync button every 2 s: a cheap event that repaints the server's conversation (no engine
# call) and, by being an event, reopens the stream. The page's load runs off the queue (ui.chat.page), so
# a question sent the moment the page appears, maybe before this script runs, is not exposed to it.


_TEMPLATE = r"""
() => {
  if (window.__citeqaChat) return;
  window.__citeqaChat = true;
  const rootOf = (el) => el.getRootNode ? el.getRootNode() : document;
  const find = (el, sel) => rootOf(el).querySelector(sel);
  const shown = (el) => !!el && el.getClientRects().length > 0;
  // Gradio scrolls a chat that was at its bottom when its value last changed down to the bottom again
  // 300 ms later (more on a busy machine), so a source opened as an answer arrives was pulled out of
  // view. For 3 s after [n], until the user scrolls, taps or types, a scroll that moves it puts it back.
  // Scroll events fire before the next frame is drawn, so the source is never drawn out of view.
  // Scroll what holds the element (the side panel, or the chat's message list) so it is at its top,
  // then the page only as far as needed: the chat column and its input stay where they are (UX P14).
  const scroller = (el) => {
    for (let e = el.parentElement; e; e = e.parentElement) {
      const y = getComputedStyle(e).overflowY;
      if ((y === "auto" || y === "scroll") && e.scrollHeight > e.clientHeight) return e;
    }
    return null;
  };
  const reveal = (el) => {
    const box = scroller(el);
    if (box) box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top - 12;
    el.scrollIntoView({block: "nearest"});
  };
  let held = null;  // {el, top, until}
  const hold = () => {
    if (!held) return;
    if (!held.el.isConnected || Date.now() > held.until) { held = null; return; }
    if (Math.abs(held.el.getBoundingClientRect().top - held.top) < 2) return;
    reveal(held.el);
    held.top = held.el.getBoundingClientRect().top;
  };
  const holding = new Set();  // roots with a scroll listener (a shadow root does not pass scrolls up)
  for (const type of ["wheel", "touchstart", "pointerdown", "keydown"]) {
    document.addEventListener(type, () => { held = null; }, {capture: true, passive: true});
  }
  const focus = (el) => {
    if (!el) return;
    const root = rootOf(el);
    root.querySelectorAll(".citeqa-focus").forEach((x) => x.classList.remove("citeqa-focus"));
    el.classList.add("citeqa-focus");
    reveal(el);
    held = {el, top: el.getBoundingClientRect().top, until: Date.now() + 3000};
    for (const r of [document, root]) {
      if (!holding.has(r)) { holding.add(r); r.addEventListener("scroll", hold, {capture: true, passive: true}); }
    }
  };
  const appBase = (el) => {
    const app = el.closest && el.closest("gradio-app") || (rootOf(el).host && rootOf(el).host.closest("gradio-app"));
    const src = app && app.getAttribute("src");
    return src ? new URL(src, location.href).href : location.href;
  };
  const plain = (bubble) => {
    const answer = bubble.querySelector(".citeqa-answer");
    if (!answer) return bubble.innerText.trim();
    const lines = [answer.innerText.trim()];
    const cards = bubble.querySelectorAll(".citeqa-msrc .citeqa-source");
    if (cards.length) lines.push("", "來源：");
    cards.forEach((card) => {
      const num = card.querySelector(".citeqa-num").textContent;
      const label = card.querySelector(".citeqa-label").textContent;
      const mark = card.querySelector("mark");
      const quote = (mark || card.querySelector(".citeqa-passage")).textContent;
      lines.push(num + " " + label + "：「" + quote.trim() + "」");
    });
    return lines.join("\n");
  };
  const copy = async (text) => {
    try { await navigator.clipboard.writeText(text); return true; } catch (e) { /* plain http: fall back */ }
    const area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  };
  /*__RATING__*/
  const waits = new Map();  // chat root -> {box value and question count when sent, last nudge, nudges}
  const syncButton = (root) => {
    const el = root.querySelector("#citeqa-sync");
    return el && (el.matches("button") ? el : el.querySelector("button"));
  };
  // Our line only: Gradio draws its own progress and error text in the same block.
  const statusOf = (root) => {
    const el = root.querySelector("#citeqa-status .citeqa-status");
    return el ? el.textContent : "";
  };
  let timer = null;  // runs only while some question waits
  const check = () => {
    for (const [root, w] of waits) {
      if (down) continue;  // nothing reaches the server: the reconnection repaints instead
      const box = root.querySelector("#citeqa-question textarea");
      const heard = root.querySelectorAll(".citeqa-question").length > w.asked || (box && box.value !== w.value)
        || statusOf(root) !== w.status;
      if (heard && !root.querySelector(".citeqa-pending")) { waits.delete(root); continue; }
      if (Date.now() - w.at < 2000 || w.nudges >= 10) continue;
      const button = syncButton(root);
      if (button) { button.click(); w.at = Date.now(); w.nudges += 1; }
    }
    if (!waits.size) { clearInterval(timer); timer = null; }
  };
  const sent = (el) => {
    const root = rootOf(el), box = root.querySelector("#citeqa-question textarea");
    addRoot(root);
    waits.set(root, {value: box ? box.value : "", status: statusOf(root), at: Date.now(), sentAt: Date.now(),
                     nudges: 0, asked: root.querySelectorAll(".citeqa-question").length});
    timer = timer || setInterval(check, 500);
  };
  /*__RECONNECT__*/
  // Enter (or 提問) while a question with the same text is still unacknowledged is the same question
  // sent twice; while the server is away nothing is sent and the notice is shown again.
  const guard = (ev, t) => {
    const root = rootOf(t);
    addRoot(root);
    const box = root.querySelector("#citeqa-question textarea");
    const w = waits.get(root);
    // (not "until its bubble shows": Gradio may draw the bubble a moment before it empties the box)
    const again = w && box && box.value && box.value === w.value && Date.now() - w.sentAt < 1500;
    if (down || again) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      if (down) { notice(root, DOWN); keepTyped(); }
      return true;
    }
    return false;
  };
  if (document.querySelector("#citeqa-question")) addRoot(document);  // our own page (else on first use)
  document.addEventListener("keydown", (ev) => {
    const t = ev.composedPath()[0];
    const inBox = t instanceof Element && t.closest("#citeqa-question");
    if (inBox && ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !guard(ev, t)) sent(t);
  }, true);
  document.addEventListener("click", (ev) => {
    const t = ev.composedPath()[0];
    if (t instanceof Element && t.closest("#citeqa-send") && !guard(ev, t)) sent(t);
  }, true);
  const label = /^(user|assistant|bot)'s message: /;
  const gradioLabels = {"chatbot conversation": "對話紀錄", "Gradio footer navigation": "頁尾連結",
                        "Scroll down": "看最新訊息"};
  const example = /^Select example \d+: /;
  const relabel = (el) => {
    const current = el.getAttribute("aria-label");
    if (!current) return;
    if (gradioLabels[current]) {
      el.setAttribute("aria-label", gradioLabels[current]);
      if (el.getAttribute("title") === current) el.setAttribute("title", gradioLabels[current]);
      return;
    }
    if (example.test(current)) { el.setAttribute("aria-label", "範例問題：" + current.replace(example, "")); return; }
    const m = label.exec(current);
    if (!m) return;
    // The label holds the message's HTML; its text, parsed inertly (DOMParser runs and loads nothing).
    const doc = new DOMParser().parseFromString(current.slice(m[0].length), "text/html").body;
    const part = (sel) => { const x = doc.querySelector(sel); return x ? x.textContent.trim() : ""; };
    const sources = doc.querySelectorAll(".citeqa-msrc .citeqa-source").length;
    const text = doc.querySelector(".citeqa-answer")
      ? [part(".citeqa-abstain"), part(".citeqa-answer"), sources ? "（" + sources + " 個來源）" : ""].join(" ")
      : doc.textContent;
    const who = m[1] === "user" ? "提問：" : "回答：";
    el.setAttribute("aria-label", who + text.replace(/\s+/g, " ").trim().slice(0, 600));
  };
  const watch = (root) => new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.type === "attributes") relabel(c.target);
      c.addedNodes && c.addedNodes.forEach((n) => {
        if (!(n instanceof Element)) return;
        relabel(n);
        n.querySelectorAll("[aria-label]").forEach(relabel);
        if (n.matches(".citeqa-rate")) paint(n);
        n.querySelectorAll(".citeqa-rate").forEach(paint);
      });
    }
  }).observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label"]});
  document.querySelectorAll("[aria-label]").forEach(relabel);
  document.querySelectorAll(".citeqa-rate").forEach(paint);
  watch(document.body);
  if (window.__citeqaPage) {  // our own page (ui.middleware.locale), not a <gradio-app> on someone else's
    const html = document.documentElement;
    const keep = () => { if (html.lang !== "zh-Hant") html.lang = "zh-Hant"; };
    new MutationObserver(keep).observe(html, {attributes: true, attributeFilter: ["lang"]});
    keep();
  }
  const core = performance.getEntriesByType("resource").map((e) => e.name)
    .find((n) => /\/assets\/core-[\w-]+\.js$/.test(n));  // the module Gradio loaded: same instance
  if (core) import(core).then((m) => m.changeLocale && m.changeLocale("zh-TW")).catch(() => {});
}
"""

CHAT_JS = _TEMPLATE.replace("  /*__RATING__*/", RATING_JS).replace("  /*__RECONNECT__*/", RECONNECT_JS).replace(
    "__VOTE__", json.dumps({rating: label for rating, _, label, _ in RATING_BUTTONS}, ensure_ascii=False)
).replace("__REFUSED__", json.dumps(RATING_REFUSED, ensure_ascii=False))
