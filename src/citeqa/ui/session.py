"""The chat's conversations, kept on the server per browser session, answered in the order asked.

The client never hands the history back: it sends a question and an opaque conversation id (kept in
the browser's storage, so a reload finds its conversation), so no message it makes up (a "file"
naming a server path) is ever echoed, copied or served. Questions sent while one is being answered
wait in the conversation and are answered in order, each against the one before (follow-ups).
Conversations live in memory: a server restart starts everyone afresh. A conversation is created
only when a question is asked, under an id the server issued: a page load, a reload or an id the
server never handed out creates nothing, so a client cycling through new ids or session hashes costs
no memory and evicts nobody's conversation.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from citeqa.errors import CiteqaError
from citeqa.qa.types import Answer, Outcome

MAX_TURNS = 50  # kept per conversation (and replayed after a reload)
MAX_SESSIONS = 2000  # conversations kept at once; the least recently used is dropped
_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class Turn:
    """A question and, once answered, its answer (or the refusal shown instead)."""

    number: int
    question: str
    answer: Answer | None = None
    error: CiteqaError | None = None

    @property
    def pending(self) -> bool:
        """Still waiting for its answer."""
        return self.answer is None and self.error is None


@dataclass
class Conversation:
    """One browser session's turns; ``anchor`` is the last question that stood on its own."""

    turns: list[Turn] = field(default_factory=list)
    anchor: str = ""
    # One answerer per conversation at a time, so its answers are made and shown in the order asked.
    answering: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    asked: int = 0  # questions ever added: turn numbers stay stable when old turns are dropped

    def add(self, question: str) -> None:
        """Queue a question (the oldest turns go past ``MAX_TURNS``)."""
        self.asked += 1
        self.turns.append(Turn(self.asked, question))
        del self.turns[:-MAX_TURNS]

    def next_pending(self) -> Turn | None:
        """The oldest question still waiting for its answer."""
        return next((t for t in self.turns if t.pending), None)

    def record(self, turn: Turn, answer: Answer) -> None:
        """Keep a turn's answer; a question that stood on its own becomes the anchor of follow-ups."""
        turn.answer = answer
        if not answer.follows and answer.outcome != Outcome.CONVERSATION:  # "謝謝" is no topic
            self.anchor = answer.question

    def answered(self) -> list[tuple[int, Answer]]:
        """(turn number, answer) of every answered turn, in the order asked."""
        return [(t.number, t.answer) for t in self.turns if t.answer is not None]


class Sessions:
    """Conversations by session id, least recently used dropped past ``MAX_SESSIONS``; thread-safe.

    Each open page (Gradio's per-tab session hash) is bound to one conversation id on its first event.
    The browser's stored id reaches the server only with each event, and a question asked before the
    page has applied the id its load was given would otherwise start a second conversation: the
    binding, not the id an event happens to carry, decides which conversation a tab's events touch.
    """

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self._items: OrderedDict[str, Conversation] = OrderedDict()
        self._tabs: OrderedDict[str, str] = OrderedDict()  # page's session hash -> conversation id
        self._lock = threading.Lock()
        self.limit = limit

    def resolve(self, tab: str | None, saved: object) -> str:
        """The conversation id for an event: the tab's bound one, else the stored one, else a new one.

        A stored id is taken back only while its conversation exists: an id the server never issued
        (or has dropped) gets a new one instead of a conversation under the client's choice of name.
        """
        with self._lock:
            key = _tab_key(tab)
            cid = self._tabs.pop(key, None) if key else None
            stored = stored_id(saved)
            cid = cid or (stored if stored in self._items else None) or new_id()
            if key:
                self._bind(key, cid)
            return cid

    def rebind(self, tab: str | None) -> str:
        """A new conversation id for the tab ("new conversation")."""
        cid = new_id()
        if key := _tab_key(tab):
            with self._lock:
                self._tabs.pop(key, None)
                self._bind(key, cid)
        return cid

    def _bind(self, key: str, cid: str) -> None:
        self._tabs[key] = cid
        while len(self._tabs) > 2 * self.limit:  # a tab bound to a dropped conversation is harmless
            self._tabs.popitem(last=False)

    def get(self, session: str) -> Conversation:
        """The session's conversation, new if it has none (a question is being asked)."""
        with self._lock:
            conv = self._items.pop(session, None) or Conversation()
            self._items[session] = conv
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
            return conv

    def find(self, session: str) -> Conversation:
        """The session's conversation to show, or an empty one that is not kept."""
        with self._lock:
            conv = self._items.get(session)
            if conv is not None:
                self._items.move_to_end(session)
            return conv or Conversation()

    def __len__(self) -> int:
        return len(self._items)

    def drop(self, session: str) -> None:
        """Forget a conversation (the user started a new one)."""
        with self._lock:
            self._items.pop(session, None)


def new_id() -> str:
    """A conversation id: random, so one browser cannot guess another's."""
    return secrets.token_hex(16)


def _tab_key(tab: str | None) -> str | None:
    """Gradio's session hash as the client sent it: any short printable string, else no binding."""
    return tab if isinstance(tab, str) and 0 < len(tab) <= 64 and tab.isprintable() else None


def stored_id(value: object) -> str | None:
    """The conversation id a browser sent back, if it has the shape we hand out; anything else is ignored."""
    return value if isinstance(value, str) and _ID.fullmatch(value) else None
