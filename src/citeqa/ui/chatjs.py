"""The chat page's one script (Gradio runs it once the page is up): behaviour HTML alone cannot give.

- ``[n]`` opens answer's source n: in the side panel when it is shown (wide screens), else in the
  sources under the answer, and keeps it in view while Gradio scrolls the chat for a new answer;
  "回到答案" goes back. No URL change, so an embedding page is untouched.
- "複製答案" copies plain text: the answer with its markers and a numbered source list.
- "在文件中開啟" opens the document view on the chat's server, also from a ``<gradio-app>`` on another site.
- Message labels for screen readers become the message's plain text (Gradio puts its HTML there).
- Gradio's own strings in Traditional Chinese where the page could not set the language before it
  started (the ``<gradio-app>`` web component on another site).
- A question that hears nothing back for 2 s makes the page ask for its conversation again (the
  comment above ``CHAT_JS``: Gradio's client can miss an event's result).

Everything is delegated from ``document`` (through the web component's shadow root, if any), so it
works for messages rendered later; nothing runs unless the user acts, bar the label fix (the resync
timer runs only while a question waits).
"""

# Why the resync: Gradio 6.31's server closes a page's event stream when its last event ends; an
# event joined in that moment (a question sent as another answer arrived) is never heard from,
# though the server answers it. Any later event opens a new stream, which delivers what was missed.
# So while a question is unacknowledged or its answer pending, the page clicks the hidden
# #citeqa-sync button every 2 s: a cheap event that repaints the server's conversation (no engine
# call) and, by being an event, reopens the stream. The page's load runs off the queue (ui.page), so
# a question sent the moment the page appears, maybe before this script runs, is not exposed to it.

CHAT_JS = r"""
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
  let held = null;  // {el, top, until}
  const hold = () => {
    if (!held) return;
    if (!held.el.isConnected || Date.now() > held.until) { held = null; return; }
    if (Math.abs(held.el.getBoundingClientRect().top - held.top) < 2) return;
    held.el.scrollIntoView({block: "start"});
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
    el.scrollIntoView({block: "start"});
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
  document.addEventListener("click", (ev) => {
    const target = ev.composedPath()[0];
    if (!(target instanceof Element)) return;
    const cite = target.closest("a.citeqa-cite, a.citeqa-back");
    if (cite) {
      ev.preventDefault();
      const id = cite.getAttribute("href").slice(1);
      if (cite.classList.contains("citeqa-back")) { focus(find(cite, "#" + CSS.escape(id))); return; }
      const panel = find(cite, "#citeqa-sources");
      const side = find(cite, "#" + CSS.escape(id.replace("citeqa-msrc-", "citeqa-src-")));
      if (shown(panel) && side) { focus(side); return; }
      const inline = find(cite, "#" + CSS.escape(id));
      if (inline) { inline.closest("details").open = true; focus(inline); }
      return;
    }
    const open = target.closest("a.citeqa-open");
    if (open) {
      ev.preventDefault();
      window.open(new URL(open.getAttribute("href"), appBase(open)).href, "_blank", "noopener");
      return;
    }
    const button = target.closest("button.citeqa-copy");
    if (button) {
      const bubble = button.closest(".citeqa-bubble");
      copy(plain(bubble)).then((ok) => {
        button.textContent = ok ? "已複製" : "無法複製";
        setTimeout(() => { button.textContent = "複製答案"; }, 1500);
      });
    }
  }, true);
  const waits = new Map();  // chat root -> {box value and question count when sent, last nudge, nudges}
  const syncButton = (root) => {
    const el = root.querySelector("#citeqa-sync");
    return el && (el.matches("button") ? el : el.querySelector("button"));
  };
  const statusOf = (root) => { const el = root.querySelector("#citeqa-status"); return el ? el.textContent : ""; };
  let timer = null;  // runs only while some question waits
  const check = () => {
    for (const [root, w] of waits) {
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
    waits.set(root, {value: box ? box.value : "", status: statusOf(root), at: Date.now(), nudges: 0,
                     asked: root.querySelectorAll(".citeqa-question").length});
    timer = timer || setInterval(check, 500);
  };
  document.addEventListener("keydown", (ev) => {
    const t = ev.composedPath()[0];
    const inBox = t instanceof Element && t.closest("#citeqa-question");
    if (inBox && ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) sent(t);
  }, true);
  document.addEventListener("click", (ev) => {
    const t = ev.composedPath()[0];
    if (t instanceof Element && t.closest("#citeqa-send")) sent(t);
  }, true);
  const label = /^(user|assistant|bot)'s message: /;
  const gradioLabels = {"chatbot conversation": "對話紀錄", "Gradio footer navigation": "頁尾連結"};
  const relabel = (el) => {
    const current = el.getAttribute("aria-label");
    if (!current) return;
    if (gradioLabels[current]) { el.setAttribute("aria-label", gradioLabels[current]); return; }
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
        if (n instanceof Element) { relabel(n); n.querySelectorAll("[aria-label]").forEach(relabel); }
      });
    }
  }).observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label"]});
  document.querySelectorAll("[aria-label]").forEach(relabel);
  watch(document.body);
  if (window.__citeqaPage) {  // our own page (ui.locale), not a <gradio-app> on someone else's
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
