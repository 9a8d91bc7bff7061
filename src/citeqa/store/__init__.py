"""Where the chat's conversations and the question log are kept: small interfaces, one SQLite file by default.

The web layer talks to a ``ConversationStore`` of five methods and a ``QuestionLog`` of five more
(``store.questions``), together a ``Store``, so a deployment with several ``serve`` replicas can put
a server database behind the same interfaces (one SQLite file belongs to one host).
``open_store(data_dir)`` gives the SQLite store in ``<data_dir>/citeqa.sqlite3`` (``store.sqlite``),
or, with no data directory, a store in memory (``store.memory``: tests and library callers that must
not write to disk). The question log's tables are in the same file, added by the migration list.

Answers are kept whole (``Answer.to_dict`` plus ``follows``), so a conversation read back renders
exactly as it was shown. Every implementation is bounded: turns per conversation, conversations in
all, and their age.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from citeqa.errors import CiteqaError
from citeqa.qa.types import Answer
from citeqa.store.questions import DEFAULT_LOG_DAYS, QuestionLog

DB_NAME = "citeqa.sqlite3"
MAX_TURNS = 50  # kept per conversation: older turns are dropped as new ones are saved
MAX_CONVERSATIONS = 10_000  # kept in all: the least recently updated go first
DEFAULT_DAYS = 30  # a conversation not touched for this long is deleted (CITEQA_CONVERSATION_DAYS)


class StoreError(CiteqaError):
    """The conversation store cannot be opened, read or written (damaged, locked, too new)."""


@dataclass(frozen=True)
class StoredTurn:
    """A question and what it got: an answer, or the refusal shown in its place (``error``)."""

    number: int  # stable: turn numbers do not shift when older turns are dropped
    question: str
    answer: Answer | None = None
    error: str | None = None
    at: float = 0.0  # when it was saved (Unix time)


@dataclass(frozen=True)
class StoredConversation:
    """A conversation read back: its last turns in order, and the question follow-ups lean on."""

    id: str
    turns: tuple[StoredTurn, ...]
    anchor: str = ""
    updated: float = 0.0


@dataclass(frozen=True)
class Limits:
    """The bounds every store keeps: turns per conversation, conversations in all, and days kept.

    ``log_days`` is how long a logged answer and its rating are kept (``CITEQA_QUESTION_LOG_DAYS``).
    """

    max_turns: int = MAX_TURNS
    max_conversations: int = MAX_CONVERSATIONS
    days: int = DEFAULT_DAYS
    log_days: int = DEFAULT_LOG_DAYS

    def __post_init__(self) -> None:
        for name, value in (("max_turns", self.max_turns), ("max_conversations", self.max_conversations),
                            ("days", self.days), ("log_days", self.log_days)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")


class ConversationStore(Protocol):
    """Conversations by id. Thread-safe; every write is one transaction, all of it or nothing."""

    def load(self, cid: str) -> StoredConversation | None:
        """The conversation, or None if the store has no such id (never creates one)."""
        ...

    def save(self, cid: str, turn: StoredTurn, anchor: str) -> None:
        """Add or replace one turn of ``cid`` (creating the conversation) and set its anchor."""
        ...

    def delete(self, cid: str) -> None:
        """Forget a conversation and its turns (nothing happens for an unknown id)."""
        ...

    def prune(self) -> int:
        """Delete conversations past the age and count bounds now; how many went."""
        ...

    def close(self) -> None:
        """Release files and connections; the store is not used afterwards."""
        ...


class Store(ConversationStore, QuestionLog, Protocol):
    """What ``open_store`` gives: the conversations and the question log, in one database."""


def open_store(data_dir: Path | None, limits: Limits | None = None, *, prune_conversations: bool = True) -> Store:
    """The store for a server: SQLite in ``data_dir`` (created, private to this user), or memory if None.

    Opening prunes what is past the bounds: the question log always (``limits.log_days``), the
    conversations unless ``prune_conversations`` is False, for a caller that does not know their
    bounds (``open_question_log``). A damaged, locked or newer database raises ``StoreError``.
    """
    limits = limits or Limits()
    if data_dir is None:
        from citeqa.store.memory import MemoryStore

        return MemoryStore(limits)
    from citeqa.store.sqlite import SqliteStore

    return SqliteStore(Path(data_dir) / DB_NAME, limits, prune_conversations=prune_conversations)


def open_question_log(data_dir: Path, days: int) -> Store:
    """The store as the CLI opens it for the question log (``citeqa ask``, ``citeqa gaps``).

    ``days`` is ``Settings.question_log_days``. The conversations in the file are left as they are:
    their bound (``CITEQA_CONVERSATION_DAYS``) is the server's setting, so only ``serve`` prunes them.
    """
    return open_store(data_dir, Limits(log_days=days), prune_conversations=False)


__all__ = [
    "DB_NAME", "ConversationStore", "Limits", "QuestionLog", "Store", "StoreError", "StoredConversation",
    "StoredTurn", "open_question_log", "open_store",
]
