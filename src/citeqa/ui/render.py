"""Answers and sources as HTML for the chat. Every piece of text is escaped before it meets a tag.

Document passages and questions are data, never markup: they go through ``html.escape`` and the chat
shows them with Markdown rendering off, so ``<img onerror=…>``, ``**`` or ``$$`` in a passage or a
question appear literally. Marker ``[n]`` in an answer links to ``#citeqa-src-<turn>-<n>`` in the panel.
"""

from __future__ import annotations

import re
from html import escape

from citeqa.qa.types import Answer, Hit, Outcome

NOT_IN_DOCUMENT = "文件中沒有提到"
_MARKER = re.compile(r"\[(\d{1,3})\]")

CSS = """
.citeqa-answer a.citeqa-cite { color: #2f6feb; text-decoration: none; font-weight: 600; padding: 0 1px; }
.citeqa-answer a.citeqa-cite:hover { text-decoration: underline; }
.citeqa-abstain { display: inline-block; margin-bottom: 4px; padding: 2px 10px; border-radius: 999px;
  background: #fff4e5; color: #8a4b00; border: 1px solid #f0c27b; font-weight: 600; }
.citeqa-sources { display: flex; flex-direction: column; gap: 10px; }
.citeqa-sources h3 { margin: 0 0 2px 0; font-size: 1rem; }
.citeqa-sources .citeqa-empty { color: #666; }
.citeqa-source { border: 1px solid #d0d7de; border-left: 4px solid #2f6feb; border-radius: 6px;
  padding: 8px 10px; }
.citeqa-source.citeqa-nearby { border-left-color: #9aa4ae; }
.citeqa-source:target { box-shadow: 0 0 0 3px #9ec1ff; }
.citeqa-source .citeqa-num { font-weight: 700; color: #2f6feb; margin-right: 6px; }
.citeqa-source .citeqa-label { font-weight: 600; }
.citeqa-source .citeqa-section { color: #57606a; font-size: 0.85em; margin: 2px 0 6px 0; }
.citeqa-source .citeqa-passage { margin: 0; line-height: 1.7; white-space: pre-wrap; }
.citeqa-source mark { background: #fff1a8; color: inherit; padding: 1px 0; border-radius: 2px; }
.citeqa-source .citeqa-file { color: #57606a; font-size: 0.8em; margin-top: 6px; font-family: monospace; }
"""


def anchor_id(turn: int, n: int) -> str:
    """Name source ``n`` of answer ``turn``: the id is unique on the page across the conversation."""
    return f"citeqa-src-{turn}-{n}"


def question_html(question: str) -> str:
    """Render a user message: the question as literal text."""
    return f'<span class="citeqa-question">{escape(question)}</span>'


def answer_html(answer: Answer, turn: int) -> str:
    """Render the answer with each ``[n]`` linked to its source, and a badge when not grounded.

    >>> a = Answer("q", "<b>19 次</b>[1]", True, ())
    >>> answer_html(a, 3)
    '<div class="citeqa-answer">&lt;b&gt;19 次&lt;/b&gt;[1]</div>'
    """
    body = _MARKER.sub(lambda m: _marker_link(m, turn, len(answer.citations)), escape(answer.answer))
    badge = f'<div class="citeqa-abstain">{NOT_IN_DOCUMENT}</div>' if answer.outcome == Outcome.NOT_FOUND else ""
    return f'{badge}<div class="citeqa-answer">{body}</div>'


def _marker_link(match: re.Match[str], turn: int, count: int) -> str:
    n = int(match.group(1))
    if not 1 <= n <= count:
        return match.group(0)
    return f'<a class="citeqa-cite" href="#{anchor_id(turn, n)}" title="來源 {n}">[{n}]</a>'


def sources_html(answer: Answer | None, turn: int) -> str:
    """Render the sources panel: per citation its label, section path, passage (quote marked), file."""
    if answer is None:
        return _panel('<p class="citeqa-empty">提問後，答案引用的原文段落會顯示在這裡。</p>')
    if answer.outcome == Outcome.CONVERSATION:
        return _panel('<p class="citeqa-empty">這則回覆不是文件內容，沒有引用來源。請提出關於文件內容的問題。</p>')
    if not answer.citations:
        return _panel(f'<p class="citeqa-empty">{NOT_IN_DOCUMENT}，也沒有相近的段落。</p>')
    title = "引用來源" if answer.grounded else f"{NOT_IN_DOCUMENT}：以下是最接近的段落，僅供參考"
    cited = answer.grounded
    cards = "".join(source_card(hit, n, turn, cited=cited) for n, hit in enumerate(answer.citations, 1))
    return _panel(f"<h3>{escape(title)}</h3>{cards}")


def _panel(inner: str) -> str:
    return f'<div class="citeqa-sources">{inner}</div>'


def source_card(hit: Hit, n: int, turn: int, *, cited: bool = True) -> str:
    """One source; the quoted sentence (``quote_start:quote_end`` of the passage) is in ``<mark>``."""
    p = hit.passage
    section = " › ".join(p.section)
    cls = "citeqa-source" if cited else "citeqa-source citeqa-nearby"
    page = f" · 第 {p.page} 頁" if p.page is not None else ""
    return (
        f'<div class="{cls}" id="{anchor_id(turn, n)}">'
        f'<div><span class="citeqa-num">[{n}]</span><span class="citeqa-label">{escape(p.label)}</span></div>'
        f'<div class="citeqa-section">{escape(section)}</div>'
        f'<p class="citeqa-passage">{highlighted(p.text, hit.quote_start, hit.quote_end)}</p>'
        f'<div class="citeqa-file">來源：{escape(p.source)}{page} · 字元 {p.start}–{p.end}</div>'
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
