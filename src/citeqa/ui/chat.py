"""The Gradio chat: ask in Traditional Chinese, read each answer with linked ``[n]`` markers and its sources.

Messages are HTML built by ``citeqa.ui.render`` from escaped text; the Chatbot renders them with
Markdown and LaTeX off and its sanitizer on, so document and question text is never markup. The
conversation lives on the server (``ui.session``); the browser keeps only its id, so a reload finds it.

A question takes two steps of one event (``ui.page``): ``submit`` (instant) checks it and shows it
with a pending bubble; ``answer`` answers whatever is pending, in order, each question through the
server's one engine gate (``ui.admission.GatedEngine``). A second question sent before the first is
answered therefore waits its turn instead of replacing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from citeqa.errors import CiteqaError, InputError, Overloaded, QuestionEmpty, QuestionTooLong
from citeqa.qa.query import clean_query
from citeqa.ui import render
from citeqa.ui.session import Conversation, Sessions

if TYPE_CHECKING:
    from citeqa.ui.admission import GatedEngine

Message = dict[str, Any]
Rendered = tuple[list[Message], str]  # chat messages, sources panel


@dataclass
class Chat:
    """The chat's behaviour, apart from Gradio: what each event does to a conversation."""

    engine: GatedEngine
    root: str = ""  # the app's root path: source cards link to ``{root}/doc``
    sessions: Sessions = field(default_factory=Sessions)

    def restore(self, saved: object, tab: str | None = None) -> tuple[list[Message], str, str]:
        """Page load: the conversation the browser's stored id names, or a new one → (messages, panel, id).

        ``tab`` (Gradio's session hash of the page) keeps every event of one page on one conversation.
        """
        cid = self.sessions.resolve(tab, saved)
        return (*self.render(self.sessions.find(cid)), cid)

    def submit(self, question: object, saved: object, tab: str | None = None) -> tuple[Any, ...]:
        """Check a question and queue it → (box, messages, panel, status, id); a refusal keeps the box."""
        cid = self.sessions.resolve(tab, saved)
        try:
            text = clean_query(question, self.engine.settings.max_question_chars)
        except CiteqaError as exc:
            kept = question if isinstance(question, str) else ""
            return (kept, *self.render(self.sessions.find(cid)), status_html(explain(exc)), cid)
        conv = self.sessions.get(cid)
        conv.add(text)
        return ("", *self.render(conv), status_html(""), cid)

    async def answer(self, saved: object, tab: str | None = None) -> Rendered:
        """Answer the conversation's waiting questions, in order, each against the ones before.

        One answerer per conversation at a time, so its answers leave in the order made. A question
        the full server cannot take says so in its place (``Overloaded``), as does any other refusal.
        """
        conv = self.sessions.find(self.sessions.resolve(tab, saved))
        async with conv.answering:
            while (turn := conv.next_pending()) is not None:
                try:
                    conv.record(turn, await self.engine.ask(turn.question, previous=conv.anchor or None))
                except CiteqaError as exc:
                    turn.error = exc
            return self.render(conv)

    def start_over(self, saved: object, tab: str | None = None) -> tuple[list[Message], str, str, str]:
        """The "new conversation" button → (messages, panel, status, new id)."""
        self.sessions.drop(self.sessions.resolve(tab, saved))
        cid = self.sessions.rebind(tab)
        return (*self.render(self.sessions.find(cid)), "", cid)

    def render(self, conv: Conversation) -> Rendered:
        """The chat messages and the sources panel, from the server's conversation only."""
        messages: list[Message] = []
        for turn in conv.turns:
            messages.append({"role": "user", "content": render.question_html(turn.question)})
            if turn.answer is not None:
                content = render.answer_html(turn.answer, turn.number, root=self.root)
            elif turn.error is not None:
                content = render.error_html(explain(turn.error))
            else:
                content = render.pending_html()
            messages.append({"role": "assistant", "content": content})
        return messages, render.sources_html(conv.answered(), root=self.root)


def explain(exc: CiteqaError) -> str:
    """Say the engine's refusal in Chinese, from the error's type and fields (never its English text)."""
    if isinstance(exc, QuestionEmpty):
        return "問題無法處理：請先輸入問題。"
    if isinstance(exc, QuestionTooLong):
        return f"問題太長：目前有 {exc.length:,} 個字，上限是 {exc.limit:,} 個字。請縮短後再送出。"
    if isinstance(exc, Overloaded):
        return f"目前提問的人很多，請 {exc.retry_after} 秒後再試一次。"
    if isinstance(exc, InputError):
        return "問題無法處理：請以文字輸入問題。"
    return "目前無法回答，請稍後再試一次。"


def status_html(message: str) -> str:
    """Render the line under the input: empty, or an (escaped) error message."""
    from html import escape

    return f'<div class="citeqa-status" role="alert">{escape(message)}</div>' if message else ""
