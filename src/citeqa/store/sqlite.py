"""The conversation store in one SQLite file: WAL, one writer connection, a versioned schema.

- One writer: every write takes ``_lock`` and runs as one ``BEGIN IMMEDIATE`` transaction on the one
  writer connection, so a crash leaves each write whole or absent, never half. Readers use their
  own connection per thread; WAL lets them read while a write is under way.
- ``synchronous=FULL``: a write the chat has reported is on disk, also after a power cut (an answer
  is written once per question, so the fsync costs nothing anyone notices).
- The schema is ``MIGRATIONS``, applied in order inside one transaction; ``PRAGMA user_version``
  says how many have run. A file written by a newer citeqa (a higher version) is refused, never
  "migrated" backwards. The question log and feedback (the next issue) append their tables here.
- The file is created readable by its owner only (0600; SQLite gives its -wal and -shm files the
  same mode), in a data directory created 0700 if it is missing: conversations are people's questions.
- Pruning (age, then count) runs on open, once a day on a write, and whenever a new conversation
  would go past the count bound; turns past ``max_turns`` go as each new one is saved.
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
)
SCHEMA_VERSION = len(MIGRATIONS)


class SqliteStore:
    """``ConversationStore`` in the SQLite file ``path``; ``clock`` (Unix seconds) is for tests."""

    def __init__(self, path: Path, limits: Limits | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.limits = limits or Limits()
        self._clock = clock
        self._lock = threading.Lock()  # the one writer path
        self._local = threading.local()  # each thread's reader connection
        self._readers: list[sqlite3.Connection] = []
        self._pruned_at = 0.0
        _create_private(self.path)
        self._writer = self._connect()
        try:
            mode = self._writer.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"the conversation store {self.path} cannot use WAL (journal mode {mode})")
            self._writer.execute("PRAGMA synchronous=FULL")
            self._migrate()
            self.prune()
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
