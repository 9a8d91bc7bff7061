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

# Why the resync: Gradio 6.31's server closes a page's event stream when its last event ends; an
# event joined in that moment (a question sent as another answer arrived) is never heard from,
# though the server answers it. Any later event opens a new stream, which delivers what was missed.
# So while a question is unacknowledged or its answer pending, the page clicks the hidden
# #citeqa-sync button every 2 s: a cheap event that repaints the server's conversation (no engine
# call) and, by being an event, reopens the stream. The page's load runs off the queue (ui.chat.page), so
# a question sent the moment the page appears, maybe before this script runs, is not exposed to it.

# Why the page handles the server going away itself: Gradio 6.31's client marks its connection
# "lost" on the first failed call (a refused ``queue/join`` or a broken ``queue/data`` stream),
# shows an English toast, and from then on sends no event at all; it recovers only by reloading the
# page once ``gradio_api/app_id`` answers (a route this app does not open, ``ui.middleware.firewall``), and a
# reload would drop what the user typed. So this script wraps ``fetch`` for those two calls: a join
# the server cannot take gets a reply Gradio ends the event on quietly (a 422 with nothing invalid:
# an error reply would put an English toast up and a "錯誤" badge over the chat), and a stream that
# breaks just ends, so the "lost" state is never reached; any such toast that still shows is hidden. While the
# server is away the page shows its own notice, keeps the box's text (restoring it if anything
# cleared it) and sends nothing; it polls ``healthz`` every 2 s, and once that answers it says so and
# repaints the conversation from the server (the sync event), which proves the event path works.

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
  // --- 👍 / 👎 -----------------------------------------------------------------------------------
  const VOTE = __VOTE__;  // render.RATING_BUTTONS
  const votes = new Map();  // answer id -> {rating, changes, note, bad, off, form, draft, busy}
  const rateId = (box) => { const m = /(?:^|\s)citeqa-rate-id-([\w-]+)/.exec(box.className); return m ? m[1] : ""; };
  const voteOf = (id) => {
    if (!votes.has(id)) {
      votes.set(id, {rating: "", changes: 0, note: "", bad: false, off: false, form: false, draft: "", busy: false});
    }
    return votes.get(id);
  };
  const paint = (box) => {  // the buttons, form and note of one answer, from what was chosen
    const id = rateId(box);
    if (!id) return;
    const v = voteOf(id);
    box.querySelectorAll("button.citeqa-vote[class*='citeqa-vote-']").forEach((b) => {
      const rating = b.classList.contains("citeqa-vote-up") ? "up"
        : b.classList.contains("citeqa-vote-down") ? "down" : "";
      if (!rating) return;
      b.setAttribute("aria-label", VOTE[rating]);
      b.setAttribute("aria-pressed", String(v.rating === rating));
      b.hidden = v.off;
      b.disabled = !!v.busy;
    });
    let form = box.querySelector(".citeqa-rate-form");
    if (v.form && !v.off && !form) {
      form = document.createElement("span");
      form.className = "citeqa-rate-form";
      const area = document.createElement("textarea");
      area.maxLength = 1000;
      area.rows = 2;
      area.placeholder = "哪裡沒有幫助？（選填，按「送出」）";
      area.setAttribute("aria-label", "哪裡沒有幫助？（選填）");
      area.value = v.draft;
      area.addEventListener("input", () => { v.draft = area.value; });
      const send = document.createElement("button");
      send.type = "button";
      send.className = "citeqa-vote citeqa-rate-send";
      send.textContent = "送出";
      form.append(area, send);
      box.append(form);
    } else if (form && (!v.form || v.off)) {
      form.remove();
    }
    let note = box.querySelector(".citeqa-rate-note");
    if (!note) {
      note = document.createElement("span");
      note.className = "citeqa-rate-note";
      note.setAttribute("role", "status");
      box.append(note);
    }
    if (note.textContent !== v.note) note.textContent = v.note;
    note.classList.toggle("citeqa-rate-bad", v.bad);
  };
  const REFUSED = __REFUSED__;  // render.RATING_REFUSED
  const rate = async (box, rating, comment) => {
    const id = rateId(box), v = voteOf(id);
    if (v.busy || v.off) return;
    if (v.rating === rating && !comment) { v.note = "已收到您的回饋。"; v.bad = false; paint(box); return; }
    if (v.rating && v.rating !== rating && v.changes >= 1) {
      v.note = REFUSED[409]; v.bad = true; v.form = false; paint(box); return;
    }
    v.busy = true;
    paint(box);
    const body = {id, rating};
    if (comment) body.comment = comment;
    let status = 0;
    try {
      const res = await fetch(new URL("api/feedback", appBase(box)).href, {
        method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body),
      });
      status = res.status;
    } catch (e) { status = 0; }
    v.busy = false;
    if (status >= 200 && status < 300) {
      if (v.rating && v.rating !== rating) v.changes += 1;
      v.rating = rating;
      v.form = rating === "down" && !comment;  // 👎: a box for what was wrong, optional
      if (comment) v.draft = "";
      v.note = "謝謝您的回饋";
      v.bad = false;
    } else {
      if (status === 404) v.off = true;
      if (status === 409) v.changes = 1;
      v.note = REFUSED[status] || (status ? "無法送出回饋（HTTP " + status + "），請稍後再試。"
        : "無法連線到伺服器，回饋沒有送出，請稍後再試。");
      v.bad = true;
    }
    // Gradio may have redrawn the message meanwhile: paint every copy of this answer's buttons.
    rootOf(box).querySelectorAll(".citeqa-rate-id-" + CSS.escape(id)).forEach(paint);
    if (!box.isConnected) return;
    paint(box);
  };
  const onVote = (target) => {
    const box = target.closest(".citeqa-rate");
    if (!box || !rateId(box)) return false;
    const v = voteOf(rateId(box));
    if (target.closest("button.citeqa-rate-send")) {
      const area = box.querySelector(".citeqa-rate-form textarea");
      rate(box, "down", (area ? area.value : v.draft).trim());
      return true;
    }
    const button = target.closest("button.citeqa-vote");
    if (!button) return false;
    if (button.classList.contains("citeqa-vote-up")) { v.form = false; rate(box, "up", ""); return true; }
    if (v.rating !== "down") { rate(box, "down", ""); return true; }
    v.form = !v.form;  // 👎 again: open (or close) the comment box
    paint(box);
    return true;
  };
  document.addEventListener("click", (ev) => {
    const target = ev.composedPath()[0];
    if (!(target instanceof Element)) return;
    if (target.closest(".citeqa-rate") && onVote(target)) return;
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
  // --- the server going away and coming back ---------------------------------------------------
  const DOWN = "與伺服器的連線中斷，正在重新連線…輸入的問題會留在輸入框，連線恢復後按 Enter 送出。";
  const UP = "已重新連線，可以繼續提問。";
  const roots = new Set();  // chat roots seen (a page, or a web component's shadow root)
  let down = null;  // {since, timer} while the server does not answer
  const notice = (root, text) => {
    let el = root.querySelector("#citeqa-offline");
    if (!text) { if (el) el.remove(); return; }
    if (!el) {
      el = document.createElement("div");
      el.id = "citeqa-offline";
      el.setAttribute("role", "status");
      el.setAttribute("aria-live", "assertive");
      el.style.cssText = "position:fixed;left:50%;top:16px;transform:translateX(-50%);z-index:10000;"
        + "max-width:min(92vw,640px);padding:10px 16px;border-radius:8px;border:1px solid #f79009;"
        + "background:#fffaeb;color:#7a2e0e;font-size:15px;line-height:1.5;box-shadow:0 2px 8px rgba(0,0,0,.15)";
      (root === document ? document.body : root).appendChild(el);
    }
    el.textContent = text;
  };
  const keepTyped = () => {  // the text of a question the server never took stays in (or goes back to) the box
    for (const [root, w] of waits) {
      const box = root.querySelector("#citeqa-question textarea");
      if (box && !box.value && w.value) {
        box.value = w.value;
        box.dispatchEvent(new Event("input", {bubbles: true}));  // Gradio's value follows the box
      }
    }
  };
  const healthUrl = () => {
    const any = [...roots][0];
    const el = any && (any === document ? document.body : any.host || any);
    return new URL("healthz", el ? appBase(el) : location.href).href;
  };
  const realFetch = window.fetch.bind(window);
  const wentDown = () => {
    keepTyped();
    if (down) return;
    roots.forEach((r) => notice(r, DOWN));
    down = {since: Date.now(), timer: setInterval(probe, 2000)};
  };
  const healthy = async () => {
    try {
      return (await realFetch(healthUrl(), {cache: "no-store", credentials: "same-origin"})).ok;
    } catch (e) { return false; }
  };
  const probe = async () => {
    const ok = await healthy();
    if (!ok || !down) return;
    clearInterval(down.timer);
    down = null;
    for (const r of roots) {
      notice(r, UP);
      setTimeout(() => { if (!down) notice(r, ""); }, 4000);
      waits.delete(r);  // nothing of the refused question is waiting on the server
      const button = syncButton(r);
      if (button) button.click();  // repaint from the server: the event path works again
    }
  };
  const call = (input) => {
    const url = typeof input === "string" ? input : (input && input.url) || String(input);
    return /\/gradio_api\/queue\/join\b/.test(url) ? "join" : /\/gradio_api\/queue\/data\b/.test(url) ? "data" : "";
  };
  // The reply Gradio takes most quietly: a 422 whose every input is valid ends the event at once, with
  // no error toast and no "錯誤" badge over the chat (an error reply would cover the conversation).
  const refused = (init) => {
    let inputs = 1;
    try { inputs = Math.max(1, JSON.parse(init.body).data.length); } catch (e) { inputs = 1; }
    const detail = Array.from({length: inputs}, () => ({is_valid: true, message: ""}));
    return new Response(JSON.stringify({detail}), {status: 422, headers: {"Content-Type": "application/json"}});
  };
  // A stream that breaks or ends without Gradio's close message ends with one: Gradio then opens a
  // new stream for its next event (it keeps a stream it believes open, and would never hear back).
  const CLOSE = new TextEncoder().encode('data: {"msg": "close_stream"}\n\n');
  const quietEnd = (res, signal) => {
    if (!res.body) return res;
    const reader = res.body.getReader(), text = new TextDecoder();
    let closed = false;
    const body = new ReadableStream({
      async pull(ctrl) {
        try {
          const {done, value} = await reader.read();
          if (!done) {
            closed = closed || text.decode(value, {stream: true}).includes("close_stream");
            ctrl.enqueue(value);
            return;
          }
          if (!closed) { ctrl.enqueue(CLOSE); suspect(); }
        } catch (e) {
          if (!(signal && signal.aborted)) { if (!closed) ctrl.enqueue(CLOSE); wentDown(); }
        }
        ctrl.close();
      },
      cancel(reason) { return reader.cancel(reason); },
    });
    return new Response(body, {status: res.status, statusText: res.statusText, headers: res.headers});
  };
  const suspect = async () => {  // a stream ended early: the server may be going away
    if (!(await healthy())) wentDown();
  };
  const ended = () => new Response("", {status: 200, headers: {"Content-Type": "text/event-stream"}});
  window.fetch = async (input, init) => {
    const kind = call(input);
    if (!kind) return realFetch(input, init);
    const signal = (init && init.signal) || (input instanceof Request ? input.signal : null);
    let res;
    try {
      res = await realFetch(input, init);
    } catch (e) {
      if (signal && signal.aborted) throw e;
      wentDown();
      return kind === "join" ? refused(init) : ended();
    }
    if (res.status === 502 || res.status === 504) {  // a proxy in front says the server is away
      wentDown();
      return kind === "join" ? refused(init) : ended();
    }
    return kind === "data" ? quietEnd(res, signal) : res;
  };
  // Should Gradio still put up its English "connection lost" toast, it is hidden: the notice says it.
  const gradioToast = /Connection (to the server was lost|errored out)|與伺服器的連線中斷/;
  const hideToasts = (root) => {
    root.querySelectorAll(".toast-body").forEach((t) => {
      if (gradioToast.test(t.textContent || "")) {
        const item = t.closest(".toast-item") || t;
        item.style.display = "none";
        item.setAttribute("aria-hidden", "true");
      }
    });
  };
  const toastWatch = new MutationObserver(() => { for (const r of roots) hideToasts(r); });
  toastWatch.observe(document.body, {subtree: true, childList: true, characterData: true});
  const addRoot = (root) => {
    if (roots.has(root)) return;
    roots.add(root);
    if (root !== document) toastWatch.observe(root, {subtree: true, childList: true, characterData: true});
  };
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

CHAT_JS = _TEMPLATE.replace(
    "__VOTE__", json.dumps({rating: label for rating, _, label, _ in RATING_BUTTONS}, ensure_ascii=False)
).replace("__REFUSED__", json.dumps(RATING_REFUSED, ensure_ascii=False))
