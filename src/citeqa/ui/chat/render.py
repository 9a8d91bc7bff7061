"""Answers and sources as HTML for the chat. Every piece of text is escaped before it meets a tag.

Document passages and questions are data, never markup: they go through ``html.escape`` and the chat
shows them with Markdown rendering off, so ``<img onerror=…>``, ``**`` or ``$$`` in a passage or a
question appear literally.

Each answer carries its own sources, twice: collapsed under the answer (``citeqa-msrc-<turn>-<n>``,
what a phone shows) and in the side panel (``citeqa-src-<turn>-<n>``, newest answer first). Marker
``[n]`` links to the copy under its answer, so it works with no script at all (the browser opens the
``<details>`` it lands in); on a wide screen ``chatjs`` sends it to the panel instead.

An answer with an ``id`` (one that can be rated) carries 👍 / 👎 (``rating_html``); the page script
(``ui.chat.script``) sends the rating to ``POST /api/feedback`` and says how it went.
"""

from __future__ import annotations

import re
from html import escape

from citeqa.qa.types import Answer, Hit, Outcome

NOT_IN_DOCUMENT = "文件中沒有提到"
UNCERTAIN = "不確定：文件可能沒有直接回答"
PENDING = "回答中…"
# Confidence in words: how likely the quoted answer is right. 高 only from 0.9, the band whose quotes
# were right 94 % of the time on dev; on the blind test batches the bands read high (README "Measured").
CONFIDENCE_WORDS = ((0.9, "高", "high"), (0.6, "中", "mid"), (0.0, "低", "low"))
_MARKER = re.compile(r"\[(\d{1,3})\]")

CSS = """
.citeqa-answer a.citeqa-cite { color: #0969da; text-decoration: none; font-weight: 600; padding: 0 1px; }
.citeqa-answer a.citeqa-cite:hover { text-decoration: underline; }
.citeqa-resolved { color: #57606a; font-size: 0.85em; margin-bottom: 4px; }
.citeqa-pending { color: #57606a; }
.citeqa-error { color: #b42318; }
.citeqa-abstain { display: inline-block; margin-bottom: 4px; padding: 2px 10px; border-radius: 999px;
  background: #fff4e5; color: #8a4b00; border: 1px solid #f0c27b; font-weight: 600; }
.citeqa-uncertain { display: inline-block; margin-bottom: 4px; padding: 2px 10px; border-radius: 999px;
  background: #fffbe6; color: #6b4e00; border: 1px dashed #c99a00; font-weight: 600; }
.citeqa-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
.citeqa-conf { display: inline-block; font-size: 0.85em; padding: 0 8px; border-radius: 999px; border: 1px solid; }
.citeqa-conf-high { color: #1a7f37; border-color: #8fd19e; background: #effbf1; }
.citeqa-conf-mid { color: #6b4e00; border-color: #e0c36a; background: #fffbe6; }
.citeqa-conf-low { color: #b42318; border-color: #fda29b; background: #fef3f2; }
.citeqa-tools { display: flex; gap: 12px; align-items: center; margin-top: 6px; flex-wrap: wrap; }
.citeqa-copy { border: 1px solid #d0d7de; background: #f6f8fa; color: #24292f; border-radius: 6px; padding: 1px 10px;
  font-size: 0.85em; cursor: pointer; }
.citeqa-rate { display: inline-flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.citeqa-vote { border: 1px solid #d0d7de; background: #f6f8fa; color: #24292f; border-radius: 6px; padding: 1px 8px;
  font-size: 0.85em; cursor: pointer; line-height: 1.5; }
.citeqa-vote[aria-pressed="true"] { background: #ddf4ff; border-color: #0969da; color: #0a3069; }
.citeqa-vote:disabled { cursor: default; }
.citeqa-rate-note { font-size: 0.85em; color: #57606a; }
.citeqa-rate-note.citeqa-rate-bad { color: #b42318; }
.citeqa-rate-form { display: flex; gap: 6px; align-items: flex-start; flex-wrap: wrap; width: 100%; margin-top: 4px; }
.citeqa-rate-form textarea { flex: 1 1 16em; min-height: 2.6em; font: inherit; font-size: 0.9em; color: #1f2328;
  background: #ffffff; border: 1px solid #8c959f; border-radius: 6px; padding: 4px 8px; resize: vertical; }
.citeqa-rate-form textarea::placeholder { color: #6e7781; opacity: 1; }
details.citeqa-msrc { margin-top: 6px; }
details.citeqa-msrc > summary { cursor: pointer; color: #0969da; font-size: 0.9em; }
.citeqa-sources { display: flex; flex-direction: column; gap: 10px; }
.citeqa-sources h3 { margin: 0 0 2px 0; font-size: 1rem; }
.citeqa-sources .citeqa-empty { color: #57606a; }
.citeqa-sources .citeqa-intro { margin: 0; padding: 16px; border: 1px dashed #d0d7de; border-radius: 6px; }
.citeqa-turn { display: flex; flex-direction: column; gap: 8px; }
.citeqa-turn + .citeqa-turn { border-top: 1px dashed #d0d7de; padding-top: 10px; }
.citeqa-source { border: 1px solid #d0d7de; border-left: 4px solid #2f6feb; border-radius: 6px;
  padding: 8px 10px; margin-top: 6px; scroll-margin-top: 12px; }
.citeqa-source.citeqa-nearby { border-left-color: #9aa4ae; }
.citeqa-source:target, .citeqa-source.citeqa-focus { box-shadow: 0 0 0 3px #9ec1ff; }
.citeqa-source .citeqa-num { font-weight: 700; color: #0969da; margin-right: 6px; }
.citeqa-source .citeqa-label { font-weight: 600; }
.citeqa-source .citeqa-section { color: #57606a; font-size: 0.85em; margin: 2px 0 6px 0; }
.citeqa-source .citeqa-passage { margin: 0; line-height: 1.7; white-space: pre-wrap; }
.citeqa-source mark { background: #fff1a8; color: #1f2328; padding: 1px 0; border-radius: 2px; }
/* Colours are WCAG AA (text at least 4.5:1 on what it is drawn on) in both themes; the browser test
   computes every ratio. Dark theme (Gradio sets .dark on the page): the badges and the highlighted
   quote keep their own light background and dark text; grey, blue and red text get lighter.
   One selector per .dark rule: Gradio scopes only the first selector of a list under .dark, and the
   others then lose to the scoped light rule. */
.dark .citeqa-copy { background: #2d333b; color: #e6edf3; border-color: #545d68; }
.dark .citeqa-vote { background: #2d333b; color: #e6edf3; border-color: #545d68; }
.dark .citeqa-vote[aria-pressed="true"] { background: #12304f; border-color: #58a6ff; color: #e6edf3; }
.dark .citeqa-rate-note { color: #9198a1; }
.dark .citeqa-rate-note.citeqa-rate-bad { color: #ff7b72; }
.dark .citeqa-rate-form textarea { background: #0d1117; color: #e6edf3; border-color: #6e7681; }
.dark .citeqa-rate-form textarea::placeholder { color: #9198a1; }
.dark .citeqa-resolved { color: #9198a1; }
.dark .citeqa-pending { color: #9198a1; }
.dark .citeqa-sources .citeqa-empty { color: #9198a1; }
.dark .citeqa-source .citeqa-section { color: #9198a1; }
.dark .citeqa-source .citeqa-file { color: #9198a1; }
.dark .citeqa-answer a.citeqa-cite { color: #58a6ff; }
.dark details.citeqa-msrc > summary { color: #58a6ff; }
.dark .citeqa-source .citeqa-num { color: #58a6ff; }
.dark .citeqa-error { color: #ff7b72; }
/* Phones: every control is at least 44 px square to the finger (padding on inline links widens what a
   tap hits without moving the text around it). */
@media (max-width: 760px) {
  .citeqa-answer a.citeqa-cite { padding: 12px 10px; margin: -12px -4px; }
  .citeqa-copy { min-height: 44px; min-width: 88px; padding: 8px 14px; }
  .citeqa-vote { min-height: 44px; min-width: 44px; padding: 8px 10px; }
  .citeqa-rate-form textarea { min-height: 44px; }
  .citeqa-source .citeqa-links a, details.citeqa-msrc > summary { display: inline-block; min-height: 44px;
    line-height: 44px; padding: 0 8px; }
}
.citeqa-source .citeqa-file { color: #57606a; font-size: 0.8em; margin-top: 6px; }
.citeqa-source .citeqa-links { display: flex; gap: 14px; margin-top: 4px; font-size: 0.85em; }
"""


def anchor_id(turn: int, n: int, *, panel: bool = True) -> str:
    """Name source ``n`` of answer ``turn``, in the side panel or under the answer; unique on the page."""
    return f"citeqa-{'src' if panel else 'msrc'}-{turn}-{n}"


def answer_id(turn: int) -> str:
    """Name answer ``turn`` (the sources' "back to the answer" links land here)."""
    return f"citeqa-ans-{turn}"


def question_html(question: str) -> str:
    """Render a user message: the question as literal text."""
    return f'<span class="citeqa-question">{escape(question)}</span>'


def pending_html() -> str:
    """The bubble of a question still waiting for its answer."""
    return f'<div class="citeqa-pending" role="status">{PENDING}</div>'


def error_html(message: str) -> str:
    """The bubble of a question that could not be answered (the message says why, in Chinese)."""
    return f'<div class="citeqa-error" role="alert">{escape(message)}</div>'


def answer_html(answer: Answer, turn: int, *, root: str = "") -> str:
    """Render the answer: badge when not found, ``[n]`` linked to its sources, the sources, a copy button.

    >>> a = Answer("q", "<b>19 次</b>[1]", True, ())
    >>> answer_html(a, 3)
    '<div class="citeqa-bubble"><div class="citeqa-answer" id="citeqa-ans-3">&lt;b&gt;19 次&lt;/b&gt;[1]</div>\
<div class="citeqa-tools"><button type="button" class="citeqa-copy">複製答案</button></div></div>'
    """
    body = _MARKER.sub(lambda m: _marker_link(m, turn, len(answer.citations)), escape(answer.answer))
    badge = {
        Outcome.NOT_FOUND: f'<div class="citeqa-abstain">{NOT_IN_DOCUMENT}</div>',
        Outcome.UNCERTAIN: f'<div class="citeqa-uncertain">{UNCERTAIN}</div>',
    }.get(answer.outcome or Outcome.NOT_FOUND, "")
    understood = f'<div class="citeqa-resolved">理解為：{escape(answer.resolved)}</div>' if answer.resolved else ""
    sources = ""
    if answer.citations and answer.outcome != Outcome.CONVERSATION:
        titles = {Outcome.ANSWERED: "來源", Outcome.UNCERTAIN: "相關段落"}
        title = titles.get(answer.outcome or Outcome.NOT_FOUND, "最接近的段落")
        cards = _cards(answer, turn, panel=False, root=root)
        sources = f'<details class="citeqa-msrc"><summary>{title}（{len(answer.citations)}）</summary>{cards}</details>'
    copy = '<button type="button" class="citeqa-copy">複製答案</button>'
    return (
        f'<div class="citeqa-bubble">{understood}{badge}<div class="citeqa-answer" id="{answer_id(turn)}">{body}</div>'
        f'{sources}<div class="citeqa-tools">{confidence_html(answer)}{copy}{rating_html(answer)}</div></div>'
    )


def rating_html(answer: Answer) -> str:
    """👍 / 👎 for an answer that can be rated: one with an ``id`` and an outcome other than conversation.

    The id rides in the class list (``citeqa-rate-id-<id>``): the chat's sanitizer keeps ``class``
    but drops ``data-*`` and ``aria-*``, so the page script reads it from there and adds the
    ``aria-label`` and ``aria-pressed`` itself; the hidden text names each button meanwhile.

    >>> rating_html(Answer("q", "a", False, ()))
    ''
    """
    rid = getattr(answer, "id", None)  # ``Answer.id``: set where the answer can be rated
    if not rid or not _RATE_ID.fullmatch(str(rid)) or answer.outcome == Outcome.CONVERSATION:
        return ""
    # The word beside the icon: the icon alone is an empty box where no emoji font is installed.
    buttons = "".join(
        f'<button type="button" class="citeqa-vote citeqa-vote-{rating}" title="{label}">{icon} {word}'
        f'<span class="citeqa-sr">（{label}）</span></button>'
        for rating, icon, label, word in RATING_BUTTONS
    )
    return f'<span class="citeqa-rate citeqa-rate-id-{escape(str(rid))}">{buttons}</span>'


# (rating, icon, label for screen readers, the word shown: part of the label, WCAG 2.5.3)
RATING_BUTTONS = (("up", "👍", "這個回答有幫助", "有幫助"), ("down", "👎", "這個回答沒有幫助", "沒有幫助"))
# What the chat and the widget say when POST /api/feedback refuses a rating, by HTTP status.
RATING_REFUSED = {
    401: "需要登入才能回饋，請重新開啟頁面。",
    404: "回饋功能未開啟，或這個回答已不在紀錄中。",
    409: "評分只能更改一次，已無法再更改。",
    413: "意見太長，請縮短後再送出。",
    422: "意見太長或格式有誤，請縮短後再送出（上限 1,000 字）。",
    429: "目前回饋的人很多，請稍後再試。",
    503: "目前回饋的人很多，請稍後再試。",
}
_RATE_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")  # what an id may be to ride in a class name (a 128-bit token)


def confidence_html(answer: Answer) -> str:
    """「信心：高」 for a quote shown as the answer or as uncertain; the number on hover and for screen readers.

    >>> confidence_html(Answer("q", "a[1]", True, (), confidence=0.913))[-58:]
    '>信心：高<span class="citeqa-sr">（答案正確的可能性約 91%）</span></span>'
    """
    if answer.confidence is None or answer.outcome not in (Outcome.ANSWERED, Outcome.UNCERTAIN):
        return ""
    word, level = next((w, c) for floor, w, c in CONFIDENCE_WORDS if answer.confidence >= floor)
    pct = f"{answer.confidence:.0%}"
    # The number is in the tooltip and in text only screen readers read (the chat's sanitizer drops aria-*).
    return (f'<span class="citeqa-conf citeqa-conf-{level}" title="答案正確的可能性約 {pct}">信心：{word}'
            f'<span class="citeqa-sr">（答案正確的可能性約 {pct}）</span></span>')


def _marker_link(match: re.Match[str], turn: int, count: int) -> str:
    n = int(match.group(1))
    if not 1 <= n <= count:
        return match.group(0)
    return f'<a class="citeqa-cite" href="#{anchor_id(turn, n, panel=False)}" title="來源 {n}">[{n}]</a>'


def sources_html(answered: list[tuple[int, Answer]], *, root: str = "") -> str:
    """Render the side panel: every answer's sources, the newest answer first.

    ``answered`` is (turn number, answer) in the order asked; a turn without sources says why.
    ``root`` is the app's root path, for the links to the document view.
    """
    if not answered:
        return _panel('<p class="citeqa-empty citeqa-intro">提問後，答案引用的原文段落會顯示在這裡，'
                      "支持答案的句子以黃色標出；點答案裡的 [1] 看它的出處。</p>")
    return _panel("".join(_turn_sources(turn, answer, root) for turn, answer in reversed(answered)))


def _turn_sources(turn: int, answer: Answer, root: str) -> str:
    head = f'<h3>第 {turn} 題：{escape(answer.question)}</h3>'
    if answer.outcome == Outcome.CONVERSATION:
        inner = '<p class="citeqa-empty">這則回覆不是文件內容，沒有引用來源。</p>'
    elif not answer.citations:
        inner = f'<p class="citeqa-empty">{NOT_IN_DOCUMENT}，也沒有相近的段落。</p>'
    else:
        notes = {
            Outcome.ANSWERED: "",
            Outcome.UNCERTAIN: '<p class="citeqa-empty">文件可能沒有直接回答：以下段落最相關，請自行確認。</p>',
        }
        nearby = f'<p class="citeqa-empty">{NOT_IN_DOCUMENT}：以下是最接近的段落，僅供參考。</p>'
        note = notes.get(answer.outcome or Outcome.NOT_FOUND, nearby)
        inner = note + _cards(answer, turn, panel=True, root=root)
    return f'<section class="citeqa-turn">{head}{inner}</section>'


def _panel(inner: str) -> str:
    return f'<div class="citeqa-sources">{inner}</div>'


def _cards(answer: Answer, turn: int, *, panel: bool, root: str) -> str:
    return "".join(
        source_card(hit, n, turn, cited=answer.outcome != Outcome.NOT_FOUND, panel=panel, root=root)
        for n, hit in enumerate(answer.citations, 1)
    )


def source_card(hit: Hit, n: int, turn: int, *, cited: bool = True, panel: bool = True, root: str = "") -> str:
    """One source; the quoted sentence (``quote_start:quote_end`` of the passage) is in ``<mark>``.

    Its links open the paragraph in its document and, in the panel, go back to the answer.
    """
    from citeqa.ui.pages.document import doc_url

    p = hit.passage
    section = " › ".join(p.section)
    cls = "citeqa-source" if cited else "citeqa-source citeqa-nearby"
    page = f" · 第 {p.page} 頁" if p.page is not None else ""
    back = f'<a class="citeqa-back" href="#{answer_id(turn)}">回到答案</a>' if panel else ""
    return (
        f'<div class="{cls}" id="{anchor_id(turn, n, panel=panel)}">'
        f'<div><span class="citeqa-num">[{n}]</span><span class="citeqa-label">{escape(p.label)}</span></div>'
        f'<div class="citeqa-section">{escape(section)}</div>'
        f'<p class="citeqa-passage">{highlighted(p.text, hit.quote_start, hit.quote_end)}</p>'
        f'<div class="citeqa-file">來源：{escape(p.source)}{page}</div>'
        f'<div class="citeqa-links"><a class="citeqa-open" href="{escape(root)}/{escape(doc_url(p.source, p.id))}" '
        f'target="_blank">在文件中開啟</a>{back}</div>'
        "</div>"
    )


def highlighted(text: str, start: int | None, end: int | None) -> str:
    """Escape ``text`` and wrap ``text[start:end]`` in ``<mark>``; no span or a bad one marks nothing.

    >>> highlighted("a<b>c", 1, 4)
    'a<mark>&lt;b&gt;</mark>c'
    """
    if start is None or end is None or not 0 <= start < end <= len(text):
        return escape(text)
    return f"{escape(text[:start])}<mark>{escape(text[start:end])}</mark>{escape(text[end:])}"
