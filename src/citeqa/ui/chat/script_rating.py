"""The chat script's 👍 / 👎 part (``ui.chat.script`` puts it in place): rating an answer (``POST /api/feedback``).

Gradio's sanitizer drops ``data-*`` and ``aria-*`` attributes, so the answer's id travels in a class
name (``citeqa-rate-id-<id>``) and this part adds the labels and ``aria-pressed``. It shares the
script's scope (its helpers, ``rootOf`` and the like), so it is inlined, not loaded on its own.
"""

RATING_JS = r"""  // --- 👍 / 👎 -----------------------------------------------------------------------------------
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
  }, true);"""
