"""The chat page in Gradio: header, conversation, question box, example questions and the sources panel.

Layout: on a wide screen the sources panel sits beside the conversation; on a phone it is hidden
and each answer's sources open right under it (``render``), so nothing a user needs is below the
input. Example questions sit inside the empty conversation, where the placeholder points at them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import escape
from typing import TYPE_CHECKING, Any

import gradio as gr  # this module is the Gradio page: imported only when the app is built

from citeqa.corpus.loader import BUNDLED_NAME
from citeqa.corpus.outline import topic
from citeqa.errors import CiteqaError
from citeqa.ui.chat.conversation import Chat, explain
from citeqa.ui.chat.render import CSS as RENDER_CSS
from citeqa.ui.chat.render import sources_html
from citeqa.ui.chat.session import Sessions
from citeqa.ui.server.admission import GatedEngine

if TYPE_CHECKING:
    from citeqa.qa.engine import Engine
    from citeqa.store.recorder import Recorder

# Questions the bundled document answers (each quotes its answer: checked by a browser test); another
# collection gets questions from its outline instead.
BUNDLED_EXAMPLES = ("駐孟買辦事處何時揭牌？", "拜登政府宣布對台軍售幾次？", "總統12月出訪了哪些友邦？")
# The bundled document by the name its readers know it by: its own title is a slogan, and its publisher
# and year are in its text, not its headings (``corpus.loader.bundled_corpus_path``).
BUNDLED_DOCUMENT = "外交部《2024 年外交工作回顧》"
HEADER_TOPICS = 4  # sections named in the header
STORAGE_KEY = "citeqa-conversation"  # localStorage: the conversation id, nothing else

CSS = RENDER_CSS + """
#citeqa-header h1 { margin: 0; font-size: 1.5rem; }
#citeqa-header p { margin: 4px 0 0 0; }
#citeqa-header p.citeqa-covers { color: #57606a; font-size: 0.9em; }
.dark #citeqa-header p.citeqa-covers { color: #9198a1; }
#citeqa-sources { max-height: 560px; overflow-y: auto; }
.citeqa-status { color: #b42318; background: #fef3f2; border: 1px solid #fda29b; border-radius: 6px;
  padding: 6px 10px; }
#citeqa-sync { display: none !important; }  /* clicked by the page script only (chatjs) */
/* Gradio's own controls at WCAG AA in both themes too (its orange send button was 2.8:1 with white). */
#citeqa-send { background: #c2410c; border-color: #c2410c; color: #fff; }
#citeqa-send:hover { background: #9a3412; border-color: #9a3412; }
#citeqa-question textarea { resize: none; }
#citeqa-question textarea::placeholder { color: #6e7781; opacity: 1; }
.dark #citeqa-question textarea::placeholder { color: #a1a1aa; }
/* Gradio's footer is outside the part of the page its scoping reaches inside @media: sized for phones here. */
.gradio-container footer button.settings { color: #57606a; min-height: 44px; padding: 0 12px; }
.dark .gradio-container footer button.settings { color: #9198a1; }
.gradio-container footer .divider { display: none; }  /* it separated links the page does not show */
/* The chat's label and its trash button sit in a bar above the messages, never over their text. */
#citeqa-chat .wrapper { display: flex; flex-direction: column; }
#citeqa-chat label[data-testid="block-label"] { position: static; flex: none; align-self: flex-start; }
#citeqa-chat .bubble-wrap { flex: 1 1 auto; min-height: 0; }
/* Gradio's ↓ (shown while newer messages are below) says so in words, in the corner, not over the
   middle of an answer's text (UX P15). */
#citeqa-chat .scroll-down-button-container { left: auto; right: 12px; transform: none; }
#citeqa-chat .scroll-down-button-container button { width: auto; gap: 4px; padding: 0 12px 0 8px;
  border-radius: 999px; border: 1px solid #8c959f; }
#citeqa-chat .scroll-down-button-container button::after { content: "看最新訊息"; font-size: 0.875rem;
  white-space: nowrap; }
/* 新對話 is a button under the send button, not a detached bar; the empty status line takes no room. */
#citeqa-status:not(:has(.citeqa-status)) { display: none; }
#citeqa-new { align-self: flex-end; width: auto; flex: none; padding: 4px 16px; }
@media (max-width: 760px) {
  #citeqa-side { display: none !important; }
  #citeqa-header h1 { font-size: 1.2rem; }
  #citeqa-header .citeqa-topics { display: block; }
  #citeqa-header .citeqa-sep { display: none; }
  /* Phones: every button and link at least 44 px square to the finger (WCAG 2.5.5). */
  #citeqa-send, #citeqa-new, #citeqa-question textarea { min-height: 44px; }
  #citeqa-chat button.icon-button { min-width: 44px; min-height: 44px; }
  #citeqa-header a.citeqa-open { display: inline-block; min-height: 44px; line-height: 44px; padding: 0 8px; }
}
@media (min-width: 761px) {
  details.citeqa-msrc { display: none; }
}
"""


def header_html(engine: Engine, root: str = "") -> str:
    """The page header: the documents by names a reader knows, what they cover, and where the API is.

    The bundled document is ``BUNDLED_DOCUMENT``; another is named by its title from the index outline
    (its first heading, else its file name), and a single document's top-level sections say what it
    covers: ``{"faq.md": {"title": "辦公室手冊", "sections": ["一、請假規定", "二、報帳流程"]}}`` →
    「根據《辦公室手冊》回答問題…」 and 「內容：請假規定、報帳流程」. All text is escaped.
    """
    outline = engine.index.manifest.get("outline") or {}
    sources = engine.index.source_counts()
    titles = [str(o.get("title") or s) for s, o in sorted(outline.items())] or sorted(sources)
    if set(sources) == {BUNDLED_NAME}:
        names = f'<span title="{escape(titles[0])}">{escape(BUNDLED_DOCUMENT)}</span>'
    else:
        more = f"等 {len(titles)} 份文件" if len(titles) > 3 else ""
        names = "、".join(f"《{escape(t)}》" for t in titles[:3]) + more
    sections = [topic(str(h)) for o in outline.values() for h in o.get("sections") or []] if len(outline) == 1 else []
    topics = escape("、".join(sections[:HEADER_TOPICS]))
    covers = f'<span class="citeqa-topics">內容：{topics}</span><span class="citeqa-sep"> · </span>' if sections else ""
    return (
        '<div id="citeqa-header"><h1>citeqa 文件問答</h1>'
        f"<p>根據{names}回答問題，每一句答案都標出原文出處。</p>"
        f'<p class="citeqa-covers">{covers}<span>共 {engine.index.passage_count:,} 個段落'
        f' · <a class="citeqa-open" href="{escape(root)}/docs" target="_blank">API 文件</a></span></p></div>'
    )


def example_questions(engine: Engine) -> list[str]:
    """Three questions to start with: curated for the bundled document, else about its first sections."""
    sources = engine.index.source_counts()
    if set(sources) == {BUNDLED_NAME}:
        return list(BUNDLED_EXAMPLES)
    outline = engine.index.manifest.get("outline") or {}
    sections = [topic(s) for o in outline.values() for s in o.get("sections") or []]
    titles = [topic(str(o.get("title") or s)) for s, o in outline.items()]
    return [f"{t}有哪些重點？" for t in (sections or titles)[:3]]


def build_chat(
    gated: GatedEngine, root: str = "", sessions: Sessions | None = None, recorder: Recorder | None = None
) -> gr.Blocks:
    """Build the chat page around the server's gated engine; ``root`` is the app's root path (document links).

    Every engine call waits at ``gated``'s gate, the one the REST API uses too; ``sessions`` holds
    the conversations (kept in memory only by default); ``recorder`` logs each answer (the question
    log, off by default).
    Mount it with ``js=chatjs.CHAT_JS`` (Gradio 6 takes a page script at mount, not here).
    """
    chat = Chat(gated, root, sessions if sessions is not None else Sessions())  # an empty one is falsy
    chat.recorder = recorder or chat.recorder
    engine = gated.engine
    with gr.Blocks(title="citeqa 文件問答", analytics_enabled=False) as demo:
        gr.HTML(header_html(engine, root), js_on_load=None)
        # A fixed secret: Gradio's default is a new random one per start, and a browser's stored id
        # then cannot be read after a restart. It is sent to every page (the "encryption" is in the
        # browser), so it guards nothing; the id itself is the random, unguessable part.
        saved = gr.BrowserState("", storage_key=STORAGE_KEY, secret=STORAGE_KEY)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="對話",
                    elem_id="citeqa-chat",
                    height=480,
                    render_markdown=False,
                    sanitize_html=True,
                    latex_delimiters=[],
                    allow_tags=False,
                    feedback_options=None,
                    buttons=[],  # each answer has its own plain-text copy button (render)
                    placeholder="請在下方輸入問題，或點選範例問題：",
                    examples=[{"text": q} for q in example_questions(engine)],
                )
                with gr.Row():
                    box = gr.Textbox(
                        label="問題",
                        placeholder="輸入問題後按 Enter",
                        elem_id="citeqa-question",
                        lines=1,
                        max_lines=4,
                        scale=5,
                    )  # no max_length: an over-long question is refused with its length, not cut
                    send = gr.Button("提問", variant="primary", scale=1, elem_id="citeqa-send")
                status = gr.HTML("", elem_id="citeqa-status", js_on_load=None)
                restart = gr.Button("新對話", variant="secondary", size="sm", elem_id="citeqa-new")
                sync = gr.Button("更新對話", size="sm", elem_id="citeqa-sync")  # hidden: chatjs clicks it
            with gr.Column(scale=2, elem_id="citeqa-side"):
                sources = gr.HTML(sources_html([]), elem_id="citeqa-sources", js_on_load=None)
        _wire(chat, demo, saved, chatbot, box, send, status, (restart, sync), sources)
    return demo


def _wire(chat: Chat, demo: gr.Blocks, saved: Any, chatbot: Any, box: Any, send: Any,
          status: Any, buttons: tuple[Any, Any], sources: Any) -> None:
    """The events. The chat history is an output only: the client cannot hand it in (``ui.chat.session``).

    A question is one event that shows it at once, then its answer: two chained events raced
    Gradio's stream handling (the server closes a page's stream when its last event ends; an event
    joined by ``.then`` in that moment never heard its result, so a question sent during another's
    answer was lost). Engine calls wait at the gate the REST API uses (``ui.server.admission.GatedEngine``).
    """

    # Gradio hands each event the page's session hash (``gr.Request``): one page, one conversation.
    async def on_submit(question: object, stored: object, request: gr.Request) -> AsyncIterator[tuple[Any, ...]]:
        tab = _tab(request)
        shown = chat.submit(question, stored, tab)
        yield shown
        if shown[3]:  # refused (status line set): nothing was queued
            return
        rendered = await chat.answer(shown[4], tab)
        yield (gr.skip(), *rendered, gr.skip(), gr.skip())  # the box: whatever the user has typed since

    async def on_example(event: gr.SelectData, stored: object, request: gr.Request) -> AsyncIterator[tuple[Any, ...]]:
        value = event.value if isinstance(event.value, dict) else {}
        async for update in on_submit(value.get("text"), stored, request):
            yield update

    def start_over(stored: object, request: gr.Request) -> tuple[Any, ...]:
        return chat.start_over(stored, _tab(request))

    def restore(stored: object, request: gr.Request) -> tuple[Any, ...]:
        return chat.restore(stored, _tab(request))

    restart, sync = buttons
    # Unlimited in Gradio's queue: the admission gate bounds engine calls, and every other step is instant.
    quick: dict[str, Any] = {"concurrency_limit": None, "show_progress": "hidden", "api_visibility": "private"}
    ask: dict[str, Any] = {"outputs": [box, chatbot, sources, status, saved], "trigger_mode": "multiple", **quick}
    box.submit(on_submit, inputs=[box, saved], **ask)
    send.click(on_submit, inputs=[box, saved], **ask)
    chatbot.example_select(on_example, inputs=[saved], **ask)
    restart.click(start_over, inputs=[saved], outputs=[chatbot, sources, status, saved], **quick)
    chatbot.clear(start_over, inputs=[saved], outputs=[chatbot, sources, status, saved], **quick)  # its trash button
    # Off the queue: a queued load opens the page's event stream and closes it on finishing, and a
    # question sent in that moment was never heard from (the race above CHAT_JS), before the page
    # script that recovers from it may even be running.
    demo.load(restore, inputs=[saved], outputs=[chatbot, sources, saved], queue=False, **quick)
    sync.click(restore, inputs=[saved], outputs=[chatbot, sources, saved], **quick)  # chatjs: a missed reply

    async def ask_api(question: str) -> dict[str, Any]:
        """Answer one question (no conversation): the same object as POST /api/ask."""
        try:
            return (await chat.ask_one(question)).to_dict()
        except CiteqaError as exc:  # said as the chat says it, without a traceback in the log
            raise gr.Error(explain(exc), print_exception=False) from None

    # Unlimited in Gradio's queue, like the chat's events: the engine gate is the one bound.
    gr.api(ask_api, api_name="ask", concurrency_limit=None)


def _tab(request: gr.Request | None) -> str | None:
    """The page's session hash, as its client sent it (``Sessions`` checks its shape)."""
    value = getattr(request, "session_hash", None) if request is not None else None
    return value if isinstance(value, str) else None
