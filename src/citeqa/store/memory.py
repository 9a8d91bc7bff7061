"""The conversation store in memory: for a server given no data directory (tests, library callers).

Same bounds and behaviour as the SQLite store, kept in this process only: nothing survives a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from citeqa.store import Limits, StoredConversation, StoredTurn

DAY_S = 24 * 3600


class MemoryStore:
    """``ConversationStore`` in a dict; ``clock`` (Unix seconds) is for tests."""

    def __init__(self, limits: Limits | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, StoredConversation] = {}
        self._pruned_at = self._clock()

    def load(self, cid: str) -> StoredConversation | None:
        """The conversation, or None (unknown, or untouched for ``days``)."""
        with self._lock:
            conv = self._items.get(cid)
        return conv if conv is not None and conv.updated >= self._cutoff() else None

    def save(self, cid: str, turn: StoredTurn, anchor: str) -> None:
        """Add or replace a turn of ``cid`` and set its anchor."""
        now = self._clock()
        with self._lock:
            old = self._items.pop(cid, None)
            turns = [t for t in (old.turns if old else ()) if t.number != turn.number]
            turns.append(StoredTurn(turn.number, turn.question, turn.answer, turn.error, now))
            turns.sort(key=lambda t: t.number)
            kept = tuple(t for t in turns if t.number > turn.number - self.limits.max_turns)
            self._items[cid] = StoredConversation(cid, kept, anchor, now)
            if len(self._items) > self.limits.max_conversations or now - self._pruned_at >= DAY_S:
                self._prune(now)

    def delete(self, cid: str) -> None:
        """Forget a conversation."""
        with self._lock:
            self._items.pop(cid, None)

    def prune(self) -> int:
        """Delete conversations past the age and count bounds; how many went."""
        with self._lock:
            return self._prune(self._clock())

    def close(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()

    def count(self) -> int:
        """How many conversations are held."""
        return len(self._items)

    def _cutoff(self) -> float:
        return self._clock() - self.limits.days * DAY_S

    def _prune(self, now: float) -> int:
        self._pruned_at = now
        cutoff = now - self.limits.days * DAY_S
        old = [cid for cid, c in self._items.items() if c.updated < cutoff]
        by_age = sorted(self._items, key=lambda cid: self._items[cid].updated)
        old += by_age[len(old): max(len(old), len(self._items) - self.limits.max_conversations)]
        for cid in old:
            del self._items[cid]
        return len(old)
