"""The Gradio chat: ask in Traditional Chinese, read each answer with linked ``[n]`` markers and its sources.

Messages are HTML built by ``citeqa.ui.chat.render`` from escaped text; the Chatbot renders them with
Markdown and LaTeX off and its sanitizer on, so document and question text is never markup. The
conversation lives on the server (``ui.chat.session``); the browser keeps only its id, so a reload finds it.

A question takes two steps of one event (``ui.chat.page``): ``submit`` (instant) checks it and shows it
with a pending bubble; ``answer`` answers whatever is pending, in order, each question through the
server's one engine gate (``ui.server.admission.GatedEngine``). A second question sent before the first is
answered therefore waits its turn instead of replacing it. Each answered turn is then written to the
conversation store, off the event loop; a store that cannot be read or written (``StoreError``) is
said in Chinese on the status line, or logged when an answer could not be kept: never a traceback.
With ``CITEQA_QUESTION_LOG=on`` each answer is also logged (channel "chat"), off the event loop;
a log that cannot be written is logged on the server and the answer is shown all the same.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from citeqa.errors import CiteqaError, InputError, Overloaded, QuestionEmpty, QuestionTooLong
from citeqa.qa.query import clean_query
from citeqa.qa.types import Answer
from citeqa.store import StoreError
from citeqa.store.recorder import Recorder, record_off_loop
from citeqa.ui.chat import render
from citeqa.ui.chat.session import Conversation, Sessions, stored_id

if TYPE_CHECKING:
    from citeqa.ui.server.admission import GatedEngine

log = logging.getLogger(__name__)
Message = dict[str, Any]
Rendered = tuple[list[Message], str]  # chat messages, sources panel


@dataclass
class Chat:
    """The chat's behaviour, apart from Gradio: what each event does to a conversation."""

    engine: GatedEngine
    root: str = ""  # the app's root path: source cards link to ``{root}/doc``
    sessions: Sessions = field(default_factory=Sessions)
    recorder: Recorder = field(default_factory=lambda: Recorder(None, "chat"))  # the question log: off

    def restore(self, saved: object, tab: str | None = None) -> tuple[list[Message], str, str]:
        """Page load: the conversation the browser's stored id names, or a new one → (messages, panel, id).

        ``tab`` (Gradio's session hash of the page) keeps every event of one page on one conversation.
        """
        try:
            cid = self.sessions.resolve(tab, saved)
            return (*self.render(self.sessions.find(cid)), cid)
        except StoreError as exc:  # the page opens; the browser keeps its id for when the store is back
            log.warning("citeqa: %s", exc)
            return (*self.render(Conversation()), stored_id(saved) or "")

    def submit(self, question: object, saved: object, tab: str | None = None) -> tuple[Any, ...]:
        """Check a question and queue it → (box, messages, panel, status, id); a refusal keeps the box."""
        kept = question if isinstance(question, str) else ""
        try:
            cid = self.sessions.resolve(tab, saved)
            try:
                text = clean_query(question, self.engine.settings.max_question_chars)
            except CiteqaError as exc:
                return (kept, *self.render(self.sessions.find(cid)), status_html(explain(exc)), cid)
            conv = self.sessions.get(cid)
        except StoreError as exc:  # the question stays in the box, to send again
            log.warning("citeqa: %s", exc)
            return (kept, *self.render(Conversation()), status_html(explain(exc)), stored_id(saved) or "")
        conv.add(text)  # the same question twice in a row, still waiting, is asked once
        return ("", *self.render(conv), status_html(""), cid)

    async def answer(self, saved: object, tab: str | None = None) -> Rendered:
        """Answer the conversation's waiting questions, in order, each against the ones before.

        One answerer per conversation at a time, so its answers leave in the order made. A question
        the full server cannot take says so in its place (``Overloaded``), as does any other refusal.
        """
        cid = self.sessions.resolve(tab, saved)
        conv = self.sessions.find(cid)
        async with conv.answering:
            while (turn := conv.next_pending()) is not None:
                try:
                    conv.record(turn, await self.ask_one(turn.question, previous=conv.anchor or None))
                except CiteqaError as exc:
                    turn.error = explain(exc)
                try:  # a thread: the write waits for the disk (and any lock), never the event loop
                    await asyncio.to_thread(self.sessions.save, cid, conv, turn)
                except StoreError as exc:  # the answer is shown and kept in memory, not on disk
                    log.warning("citeqa: an answer was not saved: %s", exc)
            return self.render(conv)

    async def ask_one(self, question: str, previous: str | None = None) -> Answer:
        """One answer through the gate, logged when the question log is on (the chat and its public API)."""
        answer = await self.engine.ask(question, previous=previous)
        await record_off_loop(self.recorder, answer)
        return answer

    def start_over(self, saved: object, tab: str | None = None) -> tuple[list[Message], str, str, str]:
        """The "new conversation" button → (messages, panel, status, new id)."""
        try:
            self.sessions.drop(self.sessions.resolve(tab, saved))
        except StoreError as exc:
            log.warning("citeqa: %s", exc)
            return (*self.render(Conversation()), status_html(explain(exc)), stored_id(saved) or "")
        cid = self.sessions.rebind(tab)
        return (*self.render(Conversation()), "", cid)

    def render(self, conv: Conversation) -> Rendered:
        """The chat messages and the sources panel, from the server's conversation only."""
        messages: list[Message] = []
        for turn in conv.turns:
            messages.append({"role": "user", "content": render.question_html(turn.question)})
            if turn.answer is not None:
                content = render.answer_html(turn.answer, turn.number, root=self.root)
            elif turn.error is not None:
                content = render.error_html(turn.error)
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
    if isinstance(exc, StoreError):
        return "目前無法讀寫對話紀錄，請稍後再試一次；問題仍在輸入框中。"
    return "目前無法回答，請稍後再試一次。"


def status_html(message: str) -> str:
    """Render the line under the input: empty, or an (escaped) error message."""
    from html import escape

    return f'<div class="citeqa-status" role="alert">{escape(message)}</div>' if message else ""
