"""The chat readable everywhere (issue 25): contrast of every text and button in light and dark, phone tap targets.

Measured in real Chromium on the rendered page (``AUDIT``): the colour behind each element is sampled,
not assumed, so Gradio's own buttons are held to the same bar as ours.
"""

from __future__ import annotations

from browsing import DESKTOP, PHONE, WAIT_MS, ask, open_chat

AUDIT = """() => {
  const cv = document.createElement("canvas"); cv.width = cv.height = 1;
  const cx = cv.getContext("2d", {willReadFrequently: true});
  const rgba = (c) => { cx.clearRect(0, 0, 1, 1); cx.fillStyle = "#000"; cx.fillStyle = c; cx.fillRect(0, 0, 1, 1);
    const d = cx.getImageData(0, 0, 1, 1).data; return [d[0], d[1], d[2], d[3] / 255]; };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
  const lum = (c) => { const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (x, y) => { const [a, b] = [lum(x), lum(y)];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
  const up = (el) => el.parentElement || el.getRootNode().host || null;
  const behind = (el) => {
    const chain = []; for (let e = el; e; e = up(e)) chain.push(e);
    let bg = [255, 255, 255, 1], image = null;
    for (const e of chain.reverse()) {
      const s = getComputedStyle(e);
      if (s.backgroundImage !== "none") image = e.tagName;
      bg = over(rgba(s.backgroundColor), bg);
    }
    return {bg, image};
  };
  const shown = (el) => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.opacity !== "0"; };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\\s+/)[0] : "")
    + " " + (el.innerText || el.getAttribute("aria-label") || el.getAttribute("placeholder") || "").trim().slice(0, 16);
  const all = (sel) => { const out = [];
    const walk = (root) => { root.querySelectorAll(sel).forEach((e) => out.push(e));
      root.querySelectorAll("*").forEach((e) => e.shadowRoot && walk(e.shadowRoot)); };
    walk(document); return out; };
  const text = [];
  for (const el of all("body *")) {
    const control = el.matches("button, input, textarea");
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!shown(el) || el.closest("svg") || !(control || own)) continue;
    const {bg, image} = behind(el);
    text.push({el: name(el), ratio: ratio(over(rgba(getComputedStyle(el).color), bg), bg), image});
    if (el.matches("textarea, input")) {
      const hint = over(rgba(getComputedStyle(el, "::placeholder").color), bg);
      text.push({el: name(el) + "::placeholder", ratio: ratio(hint, bg), image});
    }
  }
  const targets = all("button, a[href], summary, input:not([type=hidden]), textarea, select, [role=button]")
    .filter(shown).map((el) => { const r = el.getBoundingClientRect();
      return {el: name(el), w: r.width, h: r.height}; });
  return {text, targets};
}"""
# Every kind of control the chat draws, Gradio's own included: each must be among what was measured
# (the examples show in an empty chat only, the sources' summary on a phone only).
SCROLLED_UP = """() => {
  const wrap = document.querySelector("#citeqa-chat .bubble-wrap");
  if (wrap) wrap.scrollTop = 0;
  return !!document.querySelector("#citeqa-chat .scroll-down-button-container button");
}"""
CONTROLS = ("button#citeqa-send", "button#citeqa-new", "button.citeqa-copy", "清空對話", "button.settings",
            "a.citeqa-cite", "a.citeqa-open", "textarea", "mark")


def audit(page: object, where: str, also: tuple[str, ...] = (), *, before: dict | None = None) -> dict:
    """Measure the page (plus ``before``, a measurement of the empty chat) and check AA contrast: 4.5:1
    for every text, ``CONTROLS`` and ``also`` among them."""
    seen = page.evaluate(AUDIT)  # type: ignore[attr-defined]
    if before:
        seen = {k: seen[k] + before[k] for k in seen}
    low = sorted({(round(t["ratio"], 2), t["el"]) for t in seen["text"] if t["ratio"] < 4.5})
    assert not low, f"{where}: text under 4.5:1: {low[:8]}"
    assert not [t for t in seen["text"] if t["image"]], f"{where}: text on a gradient, not measured"
    named = " | ".join(t["el"] for t in seen["text"])
    assert all(c in named for c in CONTROLS + also), (where, [c for c in CONTROLS + also if c not in named])
    return seen


def test_readable_in_both_themes_and_big_enough_on_phones(new_tab, server):
    """Issue 25 item 6 (UX P4, P8, P17, P19): in light and dark, at phone and desktop width, every text,
    the highlighted quote and every button (the send button, 新對話, the examples, copy, trash, 設定)
    reach 4.5:1 against what is computed to be behind them; on a phone every button and link is at
    least 44×44 CSS px ([n] included, above WCAG 2.5.8's 24). Before: 「複製答案」 1.03:1 in dark, the
    quote white on pale yellow, 提問 2.8:1, grey text 3:1 in dark; [1] 28×20, trash 18×18, 設定 52×21."""
    tab = new_tab(PHONE)
    page = tab.page
    open_chat(tab, server + "/?__theme=dark")
    page.locator("#citeqa-chat button.example").first.wait_for(timeout=WAIT_MS)
    empty = page.evaluate(AUDIT)  # the examples show only before the first question
    assert page.evaluate("document.body.classList.contains('dark')")
    for question in ("台北101有多高？", "駐孟買辦事處何時揭牌？"):  # a not-found badge, then an answer
        ask(page, question)
    assert page.locator(".citeqa-abstain").count() == 1
    for theme, width in (("dark", PHONE), ("light", PHONE), ("light", DESKTOP), ("dark", DESKTOP)):
        where = f"{theme} {width['width']} px"
        if (theme, width) != ("dark", PHONE):
            page.set_viewport_size(width)
            open_chat(tab, f"{server}/?__theme={theme}")  # the conversation comes back
            page.locator(".citeqa-answer").nth(1).wait_for(timeout=WAIT_MS)
        if width is PHONE:
            for summary in page.locator("details.citeqa-msrc > summary").all():
                summary.click()
            # Scrolled up, Gradio shows its ↓ button; it may scroll back down as late content lands, so
            # scroll up again on every poll until the button is there.
            page.wait_for_function(SCROLLED_UP, timeout=15_000)
        first = theme == "dark" and width is PHONE
        also = ("summary",) * (width is PHONE) + ("button.example",) * first
        seen = audit(page, where, also, before=empty if first else None)
        if width is PHONE:
            small = [(t["el"], round(t["w"]), round(t["h"])) for t in seen["targets"] if min(t["w"], t["h"]) < 44]
            assert not small, f"{where}: targets under 44×44 px: {small}"
            cites = [t for t in seen["targets"] if t["el"].startswith("a.citeqa-cite")]
            assert cites and all(min(t["w"], t["h"]) >= 24 for t in cites)
        tab.shot(f"readable-{'phone' if width is PHONE else 'desktop'}-{theme}")
