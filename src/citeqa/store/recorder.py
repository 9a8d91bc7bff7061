"""``Recorder``: what each channel calls after an answer, so the question log never costs an answer.

The channels (chat, REST API, ``citeqa ask``) answer first and log second: a log that cannot be
written (``StoreError``: locked, damaged, disk full) is reported through ``warn`` and the answer is
still given. With the log off a channel holds ``Recorder(None, ...)``, which writes nothing at all,
so "off" is decided once, where the channel is built, not at each question.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from citeqa.qa.types import Answer
from citeqa.store import StoreError
from citeqa.store.questions import CHANNELS, LoggedAnswer, QuestionLog

_log = logging.getLogger("citeqa.questions")
# How long a server's request waits for its log write before answering anyway (the write goes on).
# Waiting at all means an answer's id can be rated as soon as the client has it; the bound means a
# store locked by another program (up to ``store.sqlite.BUSY_S``) delays no answer by more than this.
RECORD_WAIT_S = 1.0
_writing: set[asyncio.Future[None]] = set()


def _warn(message: str) -> None:
    _log.warning("%s", message)


@dataclass(frozen=True)
class Recorder:
    """Logs each answer of one channel in ``log``; ``log`` None (the log is off) writes nothing."""

    log: QuestionLog | None
    channel: str
    warn: Callable[[str], None] = _warn  # the CLI prints to stderr; the server uses logging
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}")

    @property
    def on(self) -> bool:
        """Whether answers are being logged (``CITEQA_QUESTION_LOG=on``)."""
        return self.log is not None

    def __call__(self, answer: Answer) -> None:
        """Keep ``answer`` in the log; a store error is reported, never raised. Blocks on the disk."""
        if self.log is None or answer.id is None:
            return
        try:
            self.log.record(LoggedAnswer.of(answer, self.channel, self.clock()))
        except StoreError as exc:
            self.warn(f"citeqa: a question was answered but not logged: {exc}")


async def record_off_loop(recorder: Recorder, answer: Answer, wait_s: float = RECORD_WAIT_S) -> None:
    """``recorder(answer)`` in a worker thread, so the disk never holds the event loop; at most ``wait_s``."""
    if not recorder.on:
        return
    write = asyncio.ensure_future(asyncio.to_thread(recorder, answer))
    _writing.add(write)  # held until done: a write outliving its wait is not garbage-collected midway
    write.add_done_callback(_writing.discard)
    try:
        await asyncio.wait_for(asyncio.shield(write), wait_s)
    except TimeoutError:
        recorder.warn(f"citeqa: logging a question took over {wait_s:g} s; answered without waiting for it")


__all__ = ["RECORD_WAIT_S", "Recorder", "record_off_loop"]
