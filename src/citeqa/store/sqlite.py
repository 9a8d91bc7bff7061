"""The store in one SQLite file (conversations, the question log, feedback): WAL, one writer, a versioned schema.

- One writer: every write takes ``_lock`` and runs as one ``BEGIN IMMEDIATE`` transaction on the one
  writer connection, so a crash leaves each write whole or absent, never half. Readers use their
  own connection per thread; WAL lets them read while a write is under way.
- ``synchronous=FULL``: a write the chat has reported is on disk, also after a power cut (an answer
  is written once per question, so the fsync costs nothing anyone notices).
- The schema is ``MIGRATIONS``, applied in order inside one transaction; ``PRAGMA user_version``
  says how many have run. A file written by a newer citeqa (a higher version) is refused, never
  "migrated" backwards. Version 2 added the question log (``logged_answers``) and ``feedback``.
- The file is created readable by its owner only (0600; SQLite gives its -wal and -shm files the
  same mode), in a data directory created 0700 if it is missing: conversations are people's questions.
- Pruning (age, then count) runs on open, once a day on a write, and whenever a new conversation
  would go past the count bound; turns past ``max_turns`` go as each new one is saved. The question
  log is pruned by age (``log_days``) on open and on its first write of a day; reads never return
  what is past either age, pruned yet or not.
- ``secure_delete``: pruned and deleted rows are overwritten, not left in free pages, so a question
  past retention is gone from the file, not merely unlisted.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from citeqa.qa.types import Answer
from citeqa.store import Limits, StoredConversation, StoredTurn, StoreError
from citeqa.store.questions import Feedback, LoggedAnswer, check_rating, second_change, unknown_answer

BUSY_S = 5.0  # how long a write waits for another process's lock before saying the file is locked
PRUNE_EVERY_S = 24 * 3600
DAY_S = 24 * 3600

# Migration n (0-based) takes the schema from version n to n + 1. Append; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            anchor TEXT NOT NULL DEFAULT '',
            created REAL NOT NULL,
            updated REAL NOT NULL
        ) STRICT""",
        "CREATE INDEX conversations_by_updated ON conversations (updated)",
        """CREATE TABLE turns (
            conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            question TEXT NOT NULL,
            answer TEXT,
            error TEXT,
            at REAL NOT NULL,
            PRIMARY KEY (conversation, number)
        ) STRICT""",
    ),
    (
        # cited: a JSON array of passage ids. No client address, no answer text: the question, what it got.
        """CREATE TABLE logged_answers (
            id TEXT PRIMARY KEY,
            at REAL NOT NULL,
            channel TEXT NOT NULL,
            question TEXT NOT NULL,
            resolved TEXT,
            outcome TEXT NOT NULL,
            confidence REAL,
            cited TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX logged_answers_by_at ON logged_answers (at)",
        """CREATE TABLE feedback (
            answer TEXT PRIMARY KEY REFERENCES logged_answers (id) ON DELETE CASCADE,
            rating TEXT NOT NULL,
            comment TEXT NOT NULL DEFAULT '',
            at REAL NOT NULL,
            changed INTEGER NOT NULL DEFAULT 0
        ) STRICT""",
        "CREATE INDEX feedback_by_at ON feedback (at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class SqliteStore:
    """``ConversationStore`` in the SQLite file ``path``; ``clock`` (Unix seconds) is for tests."""

    def __init__(
        self,
        path: Path,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float] = time.time,
        prune_conversations: bool = True,
    ) -> None:
        self.path = Path(path)
        self.limits = limits or Limits()
        self._clock = clock
        self._lock = threading.Lock()  # the one writer path
        self._local = threading.local()  # each thread's reader connection
        self._readers: list[sqlite3.Connection] = []
        self._pruned_at = 0.0
        self._log_pruned_at = 0.0
        _create_private(self.path)
        self._writer = self._connect()
        try:
            mode = self._writer.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"the conversation store {self.path} cannot use WAL (journal mode {mode})")
            self._writer.execute("PRAGMA synchronous=FULL")
            self._writer.execute("PRAGMA secure_delete=ON")
            self._migrate()
            if prune_conversations:
                self.prune()
            self.prune_log(self.limits.log_days)
        except sqlite3.Error as exc:
            self._writer.close()
            raise _error(self.path, exc) from exc
        except BaseException:
            self._writer.close()
            raise

    # --- ConversationStore ------------------------------------------------------------------------

    def load(self, cid: str) -> StoredConversation | None:
        """The conversation's last ``max_turns`` turns, or None (unknown, or older than ``days``)."""
        cutoff = self._clock() - self.limits.days * DAY_S
        c = self._reader()
        try:
            c.execute("BEGIN")  # one snapshot for both reads
            try:
                row = c.execute("SELECT anchor, updated FROM conversations WHERE id = ? AND updated >= ?",
                                (cid, cutoff)).fetchone()
                rows = [] if row is None else c.execute(
                    "SELECT number, question, answer, error, at FROM turns WHERE conversation = ?"
                    " ORDER BY number DESC LIMIT ?", (cid, self.limits.max_turns)).fetchall()
            finally:
                c.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from exc
        if row is None:
            return None
        turns = tuple(_turn(self.path, r) for r in reversed(rows))
        return StoredConversation(cid, turns, anchor=row[0], updated=row[1])

    def save(self, cid: str, turn: StoredTurn, anchor: str) -> None:
        """Add or replace a turn of ``cid`` and set its anchor: one transaction, with any pruning due."""
        now = self._clock()
        answer = None
        if turn.answer is not None:
            answer = json.dumps({**turn.answer.to_dict(), "follows": turn.answer.follows}, ensure_ascii=False)
        with self._write() as c:
            created = c.execute("SELECT 1 FROM conversations WHERE id = ?", (cid,)).fetchone() is None
            c.execute(
                "INSERT INTO conversations (id, anchor, created, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET anchor = excluded.anchor, updated = excluded.updated",
                (cid, anchor, now, now),
            )
            c.execute(
                "INSERT INTO turns (conversation, number, question, answer, error, at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (conversation, number) DO UPDATE SET question = excluded.question,"
                " answer = excluded.answer, error = excluded.error, at = excluded.at",
                (cid, turn.number, turn.question, answer, turn.error, now),
            )
            c.execute("DELETE FROM turns WHERE conversation = ? AND number <= ?",
                      (cid, turn.number - self.limits.max_turns))
            if now - self._pruned_at >= PRUNE_EVERY_S:
                self._prune(c, now)
            elif created:
                self._bound_count(c)

    def delete(self, cid: str) -> None:
        """Forget a conversation; its turns go with it (ON DELETE CASCADE)."""
        with self._write() as c:
            c.execute("DELETE FROM conversations WHERE id = ?", (cid,))

    def prune(self) -> int:
        """Delete conversations untouched for ``days``, then the oldest past ``max_conversations``."""
        with self._write() as c:
            return self._prune(c, self._clock())

    def close(self) -> None:
        """Close the writer and every reader connection."""
        with self._lock:
            for conn in [*self._readers, self._writer]:
                conn.close()
            self._readers.clear()

    # --- QuestionLog ------------------------------------------------------------------------------

    def record(self, entry: LoggedAnswer) -> None:
        """Keep one logged answer (an id already kept is left as it is), with the log's daily pruning."""
        with self._write() as c:
            c.execute(
                "INSERT INTO logged_answers (id, at, channel, question, resolved, outcome, confidence, cited)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (entry.id, entry.at, entry.channel, entry.question, entry.resolved, entry.outcome,
                 entry.confidence, json.dumps(list(entry.cited), ensure_ascii=False)),
            )
            self._prune_log_daily(c)

    def rate(self, answer_id: str, rating: str, comment: str = "") -> Feedback:
        """Set, repeat or change once the rating of a logged answer (``store.questions``: the rules)."""
        comment = check_rating(rating, comment)
        now = self._clock()
        with self._write() as c:
            known = c.execute("SELECT 1 FROM logged_answers WHERE id = ? AND at >= ?",
                              (answer_id, self._log_cutoff(now))).fetchone()
            if known is None:
                raise unknown_answer(answer_id)
            row = c.execute("SELECT rating, comment, changed FROM feedback WHERE answer = ?", (answer_id,)).fetchone()
            if row is None:
                kept = Feedback(answer_id, rating, comment, now, 0)
            elif row[0] == rating:
                kept = Feedback(answer_id, rating, comment or str(row[1]), now, int(row[2]))
            elif int(row[2]) >= 1:
                raise second_change(answer_id)
            else:
                kept = Feedback(answer_id, rating, comment, now, int(row[2]) + 1)
            c.execute(
                "INSERT INTO feedback (answer, rating, comment, at, changed) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (answer) DO UPDATE SET rating = excluded.rating, comment = excluded.comment,"
                " at = excluded.at, changed = excluded.changed",
                (kept.answer_id, kept.rating, kept.comment, kept.at, kept.changed),
            )
            self._prune_log_daily(c)  # last: a refused rating rolls back, and the day's pruning is not lost
        return kept

    def answers(self, since: float = 0.0) -> list[LoggedAnswer]:
        """Logged answers at or after ``since`` and within ``log_days``, oldest first."""
        rows = self._read(
            "SELECT id, at, channel, question, resolved, outcome, confidence, cited FROM logged_answers"
            " WHERE at >= ? ORDER BY at, id", since)
        return [_logged(self.path, r) for r in rows]

    def feedback(self, since: float = 0.0) -> list[Feedback]:
        """Ratings of the answers logged at or after ``since`` and within ``log_days``, oldest answer first."""
        rows = self._read(
            "SELECT f.answer, f.rating, f.comment, f.at, f.changed FROM feedback f"
            " JOIN logged_answers a ON a.id = f.answer WHERE a.at >= ? ORDER BY a.at, a.id", since)
        return [Feedback(str(r[0]), str(r[1]), str(r[2]), float(r[3]), int(r[4])) for r in rows]

    def prune_log(self, days: int) -> int:
        """Delete logged answers older than ``days`` (their ratings go with them: ON DELETE CASCADE)."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be a whole number of at least 1, got {days!r}")
        with self._write() as c:
            now = self._clock()
            self._log_pruned_at = now
            return int(c.execute("DELETE FROM logged_answers WHERE at < ?", (now - days * DAY_S,)).rowcount)

    def count(self) -> int:
        """How many conversations the file holds (for tests and the admin's curiosity)."""
        try:
            return int(self._reader().execute("SELECT count(*) FROM conversations").fetchone()[0])
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from exc

    # --- inside -----------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: transactions are the explicit BEGIN/COMMIT below, nothing implicit.
            conn = sqlite3.connect(self.path, timeout=BUSY_S, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from exc
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction on the writer connection, under the writer lock: committed whole or rolled back."""
        with self._lock:
            c = self._writer
            try:
                c.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _error(self.path, exc) from exc
            try:
                yield c
                c.execute("COMMIT")
            except BaseException as exc:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _error(self.path, exc) from exc
                raise

    def _log_cutoff(self, now: float) -> float:
        return now - self.limits.log_days * DAY_S

    def _prune_log_daily(self, c: sqlite3.Connection) -> None:
        now = self._clock()
        if now - self._log_pruned_at >= PRUNE_EVERY_S:
            c.execute("DELETE FROM logged_answers WHERE at < ?", (self._log_cutoff(now),))
            self._log_pruned_at = now

    def _read(self, sql: str, since: float) -> list[tuple[Any, ...]]:
        """One query of the log, from ``since`` but never past retention."""
        try:
            return self._reader().execute(sql, (max(since, self._log_cutoff(self._clock())),)).fetchall()
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from exc

    def _migrate(self) -> None:
        with self._write() as c:
            version = int(c.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the conversation store {self.path} has schema version {version}, newer than this citeqa "
                    f"knows ({SCHEMA_VERSION}): run the citeqa that wrote it, or move the file away to start afresh"
                )
            for n in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[n]:
                    c.execute(statement)
                c.execute(f"PRAGMA user_version = {n + 1}")  # a PRAGMA takes no parameters; n is ours

    def _prune(self, c: sqlite3.Connection, now: float) -> int:
        gone = c.execute("DELETE FROM conversations WHERE updated < ?", (now - self.limits.days * DAY_S,)).rowcount
        self._pruned_at = now
        return gone + self._bound_count(c)

    def _bound_count(self, c: sqlite3.Connection) -> int:
        excess = int(c.execute("SELECT count(*) FROM conversations").fetchone()[0]) - self.limits.max_conversations
        if excess <= 0:
            return 0
        return c.execute(
            "DELETE FROM conversations WHERE id IN (SELECT id FROM conversations ORDER BY updated, id LIMIT ?)",
            (excess,),
        ).rowcount


def _create_private(path: Path) -> None:
    """The data directory (0700 if new) and an empty database file readable by its owner only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # an existing file keeps its mode
    except OSError as exc:
        raise StoreError(f"cannot create the conversation store {path}: {exc.strerror or exc}") from exc


def _turn(path: Path, row: tuple[Any, ...]) -> StoredTurn:
    number, question, answer, error, at = row
    try:
        parsed = None if answer is None else Answer.from_dict(json.loads(str(answer)))
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"the conversation store {path} holds a damaged answer (turn {number}): {exc}") from exc
    return StoredTurn(int(number), str(question), parsed, None if error is None else str(error), float(at))


def _logged(path: Path, row: tuple[Any, ...]) -> LoggedAnswer:
    answer_id, at, channel, question, resolved, outcome, confidence, cited = row
    try:
        ids = tuple(str(x) for x in json.loads(str(cited)))
        return LoggedAnswer(str(answer_id), float(at), str(channel), str(question),
                            None if resolved is None else str(resolved), str(outcome),
                            None if confidence is None else float(confidence), ids)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"the store {path} holds a damaged logged answer ({answer_id}): {exc}") from exc


def _error(path: Path, exc: sqlite3.Error) -> StoreError:
    """Say what is wrong with the file and what to do, with SQLite's own words."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(f"the conversation store {path} is locked by another program (waited {BUSY_S:g} s): {text}")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"the conversation store {path} is damaged ({text}): move it away to start with no saved conversations"
        )
    return StoreError(f"the conversation store {path} cannot be used: {text}")
