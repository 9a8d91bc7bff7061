"""The store in memory (conversations and the question log): for a server given no data directory.

Same bounds and behaviour as the SQLite store, kept in this process only: nothing survives a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from citeqa.store import Limits, StoredConversation, StoredTurn
from citeqa.store.questions import Feedback, LoggedAnswer, check_rating, second_change, unknown_answer

DAY_S = 24 * 3600


class MemoryStore:
    """``ConversationStore`` and ``QuestionLog`` in dicts; ``clock`` (Unix seconds) is for tests."""

    def __init__(self, limits: Limits | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, StoredConversation] = {}
        self._pruned_at = self._clock()
        self._log: dict[str, LoggedAnswer] = {}  # by answer id, in the order recorded
        self._ratings: dict[str, Feedback] = {}
        self._log_pruned_at = self._clock()

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
            self._log.clear()
            self._ratings.clear()

    def record(self, entry: LoggedAnswer) -> None:
        """Keep one logged answer (an id already kept is left as it is)."""
        with self._lock:
            self._log.setdefault(entry.id, entry)
            if self._clock() - self._log_pruned_at >= DAY_S:
                self._prune_log(self.limits.log_days)

    def rate(self, answer_id: str, rating: str, comment: str = "") -> Feedback:
        """Set, repeat or change once the rating of a logged answer (``store.questions``: the rules)."""
        comment = check_rating(rating, comment)
        now = self._clock()
        with self._lock:
            entry = self._log.get(answer_id)
            if entry is None or entry.at < self._log_cutoff():
                raise unknown_answer(answer_id)
            old = self._ratings.get(answer_id)
            if old is None:
                kept = Feedback(answer_id, rating, comment, now, 0)
            elif old.rating == rating:
                kept = replace(old, comment=comment or old.comment, at=now)
            elif old.changed >= 1:
                raise second_change(answer_id)
            else:
                kept = Feedback(answer_id, rating, comment, now, old.changed + 1)
            self._ratings[answer_id] = kept
            return kept

    def answers(self, since: float = 0.0) -> list[LoggedAnswer]:
        """Logged answers at or after ``since`` and within ``log_days``, oldest first."""
        start = max(since, self._log_cutoff())
        with self._lock:
            return sorted((e for e in self._log.values() if e.at >= start), key=lambda e: (e.at, e.id))

    def feedback(self, since: float = 0.0) -> list[Feedback]:
        """Ratings of the answers logged at or after ``since`` and within ``log_days``, oldest answer first."""
        with self._lock:
            rated = {a: f for a, f in self._ratings.items() if a in self._log}
        return [rated[e.id] for e in self.answers(since) if e.id in rated]

    def prune_log(self, days: int) -> int:
        """Delete logged answers older than ``days``, and their ratings."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be a whole number of at least 1, got {days!r}")
        with self._lock:
            return self._prune_log(days)

    def count(self) -> int:
        """How many conversations are held."""
        return len(self._items)

    def _log_cutoff(self) -> float:
        return self._clock() - self.limits.log_days * DAY_S

    def _prune_log(self, days: int) -> int:
        now = self._clock()
        self._log_pruned_at = now
        old = [a for a, e in self._log.items() if e.at < now - days * DAY_S]
        for answer_id in old:
            del self._log[answer_id]
            self._ratings.pop(answer_id, None)
        return len(old)

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
