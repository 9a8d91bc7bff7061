"""The Gradio chat: ask in Traditional Chinese, read the answer with linked ``[n]`` markers and its sources.

Messages are HTML built by ``citeqa.ui.render`` from escaped text; the Chatbot renders them with
Markdown and LaTeX off and its sanitizer on, so document and question text is never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from citeqa.errors import CiteqaError, InputError, Overloaded, QuestionEmpty, QuestionTooLong
from citeqa.qa.query import follow_up_query
from citeqa.qa.types import Outcome
from citeqa.ui.render import CSS as RENDER_CSS
from citeqa.ui.render import answer_html, question_html, sources_html

if TYPE_CHECKING:
    import gradio as gr

    from citeqa.qa.engine import Engine

EXAMPLES = (
    "駐孟買辦事處何時揭牌？",
    "拜登政府宣布對台軍售幾次？",
    "那荷蘭呢？",
    "台北101有多高？",
)
API_NAME = "ask"  # gradio_client: Client(url).predict(question, api_name="/ask")

CSS = RENDER_CSS + """
#citeqa-header h1 { margin: 0; font-size: 1.5rem; }
#citeqa-header p { margin: 4px 0 0 0; color: #57606a; }
#citeqa-sources { max-height: 640px; overflow-y: auto; }
.citeqa-status { color: #b42318; background: #fef3f2; border: 1px solid #fda29b; border-radius: 6px;
  padding: 6px 10px; }
"""

Message = dict[str, Any]


@dataclass(frozen=True)
class Conversation:
    """The chat's state, kept on the server per browser session (``gr.State``).

    The chat history shown is rendered from this and nothing else: the client never sends the
    history back, so no message it makes up (a "file" naming a server path) is ever echoed, copied
    or served. ``anchor`` is the last question that stood on its own (for follow-ups).
    """

    messages: tuple[Message, ...] = ()
    anchor: str = ""

    @property
    def turns(self) -> int:
        """How many answers it holds."""
        return sum(1 for m in self.messages if m["role"] == "assistant")


def respond(engine: Engine, question: object, conversation: Conversation | None) -> tuple[Any, ...]:
    """One chat turn → (input box, chat messages, conversation, sources panel HTML, status line HTML).

    A short follow-up ("那荷蘭呢？") is asked with ``previous=conversation.anchor``, and a chain of
    follow-ups keeps leaning on the same anchor. Input the engine refuses keeps the conversation as
    it is and shows the reason in the status line and a warning toast, instead of Gradio's error
    state (which blanks the chat) or a traceback.
    """
    import gradio as gr

    conv = conversation if isinstance(conversation, Conversation) else Conversation()
    try:
        answer = engine.ask(question, previous=conv.anchor or None)  # type: ignore[arg-type]  # checked there
    except CiteqaError as exc:
        message = explain(exc)
        gr.Warning(message, title="無法回答")
        kept = question if isinstance(question, str) else ""
        return kept, list(conv.messages), conv, gr.skip(), status_html(message)
    turn = conv.turns + 1
    messages = (
        *conv.messages,
        {"role": "user", "content": question_html(answer.question)},
        {"role": "assistant", "content": answer_html(answer, turn)},
    )
    is_follow_up = bool(conv.anchor) and follow_up_query(answer.question, conv.anchor) is not None
    keeps_anchor = is_follow_up or answer.outcome == Outcome.CONVERSATION  # "謝謝" is no topic to follow up on
    new = Conversation(messages, conv.anchor if keeps_anchor else answer.question)
    return "", list(messages), new, sources_html(answer, turn), status_html("")


def explain(exc: CiteqaError) -> str:
    """Say the engine's refusal in Chinese, from the error's type and fields (never its English text)."""
    if isinstance(exc, QuestionEmpty):
        return "問題無法處理：請先輸入問題。"
    if isinstance(exc, QuestionTooLong):
        return f"問題無法處理：問題有 {exc.length:,} 個字，上限是 {exc.limit:,} 個字。"
    if isinstance(exc, InputError):
        return f"問題無法處理：{exc}"
    if isinstance(exc, Overloaded):
        return f"目前提問的人很多，請 {exc.retry_after} 秒後再試一次。"
    return f"目前無法回答：{exc}"


def status_html(message: str) -> str:
    """Render the line under the input: empty, or an (escaped) error message."""
    from html import escape

    return f'<div class="citeqa-status" role="alert">{escape(message)}</div>' if message else ""


def header_html(engine: Engine) -> str:
    """Render the page header; every value in it comes from the index and is escaped."""
    from html import escape

    sources = sorted(engine.index.manifest.get("sources", {})) or sorted(engine.index.source_counts())
    names = "、".join(escape(s) for s in sources[:3]) + ("…" if len(sources) > 3 else "")
    return (
        '<div id="citeqa-header"><h1>citeqa 文件問答</h1>'
        "<p>根據文件回答問題，每一句答案都標出原文出處。"
        f"文件：{names}（共 {engine.index.passage_count} 個段落）</p></div>"
    )


def build_chat(engine: Engine) -> gr.Blocks:
    """Build the chat page: question box, example questions, chat history and the sources panel."""
    import gradio as gr

    max_chars = engine.settings.max_question_chars
    with gr.Blocks(title="citeqa 文件問答", analytics_enabled=False) as demo:
        gr.HTML(header_html(engine), js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="對話",
                    elem_id="citeqa-chat",
                    height=520,
                    render_markdown=False,
                    sanitize_html=True,
                    latex_delimiters=[],
                    allow_tags=False,
                    feedback_options=None,
                    buttons=["copy"],
                    placeholder="請輸入問題，或點選下方的範例問題。",
                )
                with gr.Row():
                    box = gr.Textbox(
                        label="問題",
                        placeholder="例如：駐孟買辦事處何時揭牌？",
                        elem_id="citeqa-question",
                        lines=1,
                        max_lines=4,
                        max_length=max_chars,
                        scale=5,
                        autofocus=True,
                    )
                    send = gr.Button("提問", variant="primary", scale=1, elem_id="citeqa-send")
                status = gr.HTML("", elem_id="citeqa-status", js_on_load=None)
                clear = gr.Button("清除對話", variant="secondary", size="sm")
                gr.Examples(examples=[[q] for q in EXAMPLES], inputs=box, label="範例問題")
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html(None, 0), elem_id="citeqa-sources", js_on_load=None)
        conversation = gr.State(Conversation())

        def on_ask(question: str, conv: Conversation) -> tuple[Any, ...]:
            return respond(engine, question, conv)

        def on_clear() -> tuple[str, list[Message], Conversation, str, str]:
            return "", [], Conversation(), sources_html(None, 0), ""

        outputs = [box, chatbot, conversation, sources, status]
        # The chat history is an output only: the client cannot hand it in (see Conversation).
        io: dict[str, Any] = {
            "inputs": [box, conversation], "outputs": outputs, "show_progress_on": [chatbot],
            "concurrency_limit": 4, "concurrency_id": "citeqa-ask",
        }
        box.submit(on_ask, **io, api_name=API_NAME)
        send.click(on_ask, **io, api_visibility="private")
        clear.click(on_clear, outputs=outputs, api_visibility="private")
        chatbot.clear(on_clear, outputs=outputs, api_visibility="private")
    return demo
