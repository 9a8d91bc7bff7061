"""The chat's conversations: kept in the store (``citeqa.store``), the recent ones cached in memory.

The client never hands the history back: it sends a question and an opaque conversation id (kept in
the browser's storage, so a reload finds its conversation), so no message it makes up (a "file"
naming a server path) is ever echoed, copied or served. Questions sent while one is being answered
wait in the conversation and are answered in order, each against the one before (follow-ups).
Each answered turn is written to the store, so a conversation survives a reload and a server
restart; memory holds at most ``limit`` conversations of at most ``MAX_TURNS`` turns each, and a
question still waiting for its answer lives in memory only. A conversation is created only when a
question is asked, under an id the server issued: a page load, a reload or an id the server never
handed out creates nothing, so a client cycling through new ids or session hashes costs no memory
and evicts nobody's conversation. After a restart an id is taken back only if the store has it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from citeqa.qa.types import Answer, Outcome
from citeqa.store import MAX_TURNS, ConversationStore, StoredConversation, StoredTurn, open_store

MAX_SESSIONS = 500  # conversations cached in memory at once; the store keeps the rest
REPEAT_S = 2.0  # the same question again this soon, still unanswered, is one question sent twice
_ID = re.compile(r"[0-9a-f]{32}")

__all__ = ["MAX_SESSIONS", "MAX_TURNS", "REPEAT_S", "Conversation", "Sessions", "Turn", "new_id", "stored_id"]


@dataclass
class Turn:
    """A question and, once answered, its answer (or the refusal shown instead, in Chinese)."""

    number: int
    question: str
    answer: Answer | None = None
    error: str | None = None
    asked_at: float = field(default_factory=time.monotonic, repr=False)

    @property
    def pending(self) -> bool:
        """Still waiting for its answer."""
        return self.answer is None and self.error is None

    def stored(self) -> StoredTurn:
        """The turn as the store keeps it."""
        return StoredTurn(self.number, self.question, self.answer, self.error)


@dataclass
class Conversation:
    """One browser session's turns; ``anchor`` is the last question that stood on its own."""

    turns: list[Turn] = field(default_factory=list)
    anchor: str = ""
    # One answerer per conversation at a time, so its answers are made and shown in the order asked.
    answering: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    asked: int = 0  # questions ever added: turn numbers stay stable when old turns are dropped

    @classmethod
    def from_stored(cls, stored: StoredConversation) -> Conversation:
        """A conversation read back from the store."""
        turns = [Turn(t.number, t.question, t.answer, t.error) for t in stored.turns[-MAX_TURNS:]]
        return cls(turns, stored.anchor, asked=max((t.number for t in turns), default=0))

    def add(self, question: str) -> bool:
        """Queue a question (the oldest turns go past ``MAX_TURNS``); False if it repeats the last one.

        The same text as the last question, still waiting, within ``REPEAT_S`` is one question sent
        twice (a double Enter, an IME's Enter then Enter). Once answered, the same text is asked
        again (a reload and the same question: the page script stops a double Enter on one page).
        """
        last = self.turns[-1] if self.turns else None
        if last and last.pending and last.question == question and time.monotonic() - last.asked_at < REPEAT_S:
            return False
        self.asked += 1
        self.turns.append(Turn(self.asked, question))
        del self.turns[:-MAX_TURNS]
        return True

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
    """Conversations by id: the store's, the ``limit`` most recently used cached in memory; thread-safe.

    Each open page (Gradio's per-tab session hash) is bound to one conversation id on its first event.
    The browser's stored id reaches the server only with each event, and a question asked before the
    page has applied the id its load was given would otherwise start a second conversation: the
    binding, not the id an event happens to carry, decides which conversation a tab's events touch.
    The store raises ``citeqa.store.StoreError`` when it cannot be read or written; the chat says so.
    """

    def __init__(self, store: ConversationStore | None = None, limit: int = MAX_SESSIONS) -> None:
        self.store = store if store is not None else open_store(None)  # in memory: nothing on disk
        self._items: OrderedDict[str, Conversation] = OrderedDict()
        self._tabs: OrderedDict[str, str] = OrderedDict()  # page's session hash -> conversation id
        self._lock = threading.Lock()
        self.limit = limit

    def resolve(self, tab: str | None, saved: object) -> str:
        """The conversation id for an event: the tab's bound one, else the stored one, else a new one.

        A stored id is taken back only while its conversation exists (cached or in the store): an id
        the server never issued (or has dropped) gets a new one instead of a conversation under the
        client's choice of name.
        """
        key = _tab_key(tab)
        with self._lock:
            if key and (bound := self._tabs.get(key)) is not None:
                self._tabs.move_to_end(key)
                return bound
        stored = stored_id(saved)
        cid = stored if stored is not None and self._lookup(stored) is not None else new_id()
        if key:
            with self._lock:  # a concurrent event of the same page may have bound it meanwhile: one wins
                cid = self._tabs.setdefault(key, cid)
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

    def _lookup(self, cid: str) -> Conversation | None:
        """The cached conversation, else the store's (then cached), else None."""
        with self._lock:
            conv = self._items.get(cid)
            if conv is not None:
                self._items.move_to_end(cid)
                return conv
        stored = self.store.load(cid)
        if stored is None:
            return None
        with self._lock:  # another thread may have cached it meanwhile: one object per conversation
            conv = self._items.get(cid) or Conversation.from_stored(stored)
            self._cache(cid, conv)
            return conv

    def _cache(self, cid: str, conv: Conversation) -> None:
        self._items[cid] = conv
        self._items.move_to_end(cid)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, session: str) -> Conversation:
        """The session's conversation, new if it has none (a question is being asked)."""
        conv = self._lookup(session)
        if conv is None:
            with self._lock:
                conv = self._items.get(session) or Conversation()
                self._cache(session, conv)
        return conv

    def find(self, session: str) -> Conversation:
        """The session's conversation to show, or an empty one that is not kept."""
        return self._lookup(session) or Conversation()

    def save(self, session: str, conv: Conversation, turn: Turn) -> None:
        """Write a turn that got its answer (or refusal) to the store: it survives a restart from now on."""
        self.store.save(session, turn.stored(), conv.anchor)

    def __len__(self) -> int:
        return len(self._items)

    def drop(self, session: str) -> None:
        """Forget a conversation (the user started a new one), in memory and in the store."""
        with self._lock:
            self._items.pop(session, None)
        self.store.delete(session)


def new_id() -> str:
    """A conversation id: random, so one browser cannot guess another's."""
    return secrets.token_hex(16)


def _tab_key(tab: str | None) -> str | None:
    """Gradio's session hash as the client sent it: any short printable string, else no binding."""
    return tab if isinstance(tab, str) and 0 < len(tab) <= 64 and tab.isprintable() else None


def stored_id(value: object) -> str | None:
    """The conversation id a browser sent back, if it has the shape we hand out; anything else is ignored."""
    return value if isinstance(value, str) and _ID.fullmatch(value) else None
