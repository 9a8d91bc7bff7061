"""The chat script's part for a server that goes away and comes back (``ui.chat.script`` puts it in place).

Why the page handles the server going away itself: Gradio 6.31's client marks its connection
"lost" on the first failed call (a refused ``queue/join`` or a broken ``queue/data`` stream),
shows an English toast, and from then on sends no event at all; it recovers only by reloading the
page once ``gradio_api/app_id`` answers (a route this app does not open, ``ui.middleware.firewall``), and a
reload would drop what the user typed. So this script wraps ``fetch`` for those two calls: a join
the server cannot take gets a reply Gradio ends the event on quietly (a 422 with nothing invalid:
an error reply would put an English toast up and a "錯誤" badge over the chat), and a stream that
breaks just ends, so the "lost" state is never reached; any such toast that still shows is hidden. While the
server is away the page shows its own notice, keeps the box's text (restoring it if anything
cleared it) and sends nothing; it polls ``healthz`` every 2 s, and once that answers it says so and
repaints the conversation from the server (the sync event), which proves the event path works.
It shares the script's scope, so it is inlined, not loaded on its own.
"""

RECONNECT_JS = r"""  // --- the server going away and coming back ---------------------------------------------------
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
  };"""
