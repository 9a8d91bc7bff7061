"""``Admission``: at most a few engine calls at once; the rest wait their turn, in arrival order.

Why: FastAPI runs sync routes in a pool of 40 threads. On 2 cores, 32 requests answering at once
share the cores and the GIL unfairly, so some wait many times the mean (p99 3.5× p50 under the
32-client load test). Letting ``slots`` requests into the engine, first come first served, makes
each one's wait about its place in the line; throughput stays (the cores were busy anyway), and
the questions of the requests inside still meet in the batching encoder.

The line is kept on the event loop, not in threads: a request waiting costs no thread, so the line
can be longer than the thread pool, and its bound is real — when ``max_waiting`` requests already
wait, the next is refused with ``Overloaded`` (the API's 503 with Retry-After) instead of joining
a backlog hidden in the thread pool's own queue. All methods run on the server's one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio

from citeqa.errors import Overloaded

if TYPE_CHECKING:
    from citeqa.qa.engine import Engine
    from citeqa.qa.types import Answer, Hit
    from citeqa.settings import Settings


class Admission:
    """A FIFO gate: ``async with gate.admit(): ...`` runs once one of ``slots`` is free."""

    def __init__(self, slots: int, max_waiting: int) -> None:
        if slots < 1 or max_waiting < 0:
            raise ValueError(f"slots {slots} must be ≥ 1 and max_waiting {max_waiting} ≥ 0")
        self.slots, self.max_waiting = slots, max_waiting
        self._running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._seconds = 0.05  # running mean of one call, for Retry-After

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return sum(not turn.done() for turn in self._waiting)

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Wait for a slot (FIFO); raise ``Overloaded`` at once when the line is full."""
        if self._running < self.slots and not self.waiting:
            self._running += 1
        else:
            await self._wait_turn()
        started = time.monotonic()
        try:
            yield
        finally:
            self._leave(time.monotonic() - started)

    async def _wait_turn(self) -> None:
        waiting = self.waiting
        if waiting >= self.max_waiting:
            raise Overloaded(waiting, max(1, math.ceil(waiting * self._seconds / self.slots)))
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # set by a call leaving, which hands its slot straight to the first in line
        except asyncio.CancelledError:  # the client went away while waiting
            if turn.done() and not turn.cancelled():
                self._leave(None)  # the slot had just been handed over: pass it on
            raise

    def _leave(self, seconds: float | None) -> None:
        if seconds is not None:
            self._seconds = 0.9 * self._seconds + 0.1 * seconds
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():  # a cancelled waiter's future is done: skip it
                turn.set_result(None)
                return
        self._running -= 1


# Threads that may wait on the LLM endpoint at once. Its own limit, apart from the thread pool (40) that
# runs engine calls and sync routes: slow replies then never take the threads a search needs.
NETWORK_WAITS = 16


class GatedEngine:
    """The engine as every entry point of the server calls it: through one ``Admission``.

    The REST API, the chat and the chat's public API all hold one of these around the same gate, so
    ``CITEQA_ENGINE_SLOTS`` bounds engine calls whichever door a question came in by. A generative
    answer's wait on the LLM endpoint happens after the slot is given back (``Engine.prepare`` does
    the CPU work, ``Draft.finish`` the network call): a slow endpoint cannot hold the slots that
    searches and other questions need.
    """

    def __init__(self, engine: Engine, gate: Admission, network_waits: int = NETWORK_WAITS) -> None:
        self.engine, self.gate = engine, gate
        self.network_waits = network_waits
        self._waits: anyio.CapacityLimiter | None = None  # made on the server's loop, at first use

    @property
    def settings(self) -> Settings:
        """The engine's settings (limits a question is checked against before it waits at the gate)."""
        return self.engine.settings

    async def ask(self, question: str, k: int | None = None, *, previous: str | None = None) -> Answer:
        """``Engine.ask`` with its CPU work admitted by the gate; raises ``Overloaded`` when the line is full."""
        from starlette.concurrency import run_in_threadpool

        async with self.gate.admit():
            draft = await run_in_threadpool(self.engine.prepare, question, k, previous=previous)
        if not draft.waits_on_network:
            return draft.finish()
        self._waits = self._waits or anyio.CapacityLimiter(self.network_waits)
        return await anyio.to_thread.run_sync(draft.finish, limiter=self._waits)

    async def search(self, query: str, k: int | None, retriever: str) -> list[Hit]:
        """``Engine.search``, admitted by the gate."""
        from starlette.concurrency import run_in_threadpool

        async with self.gate.admit():
            return await run_in_threadpool(self.engine.search, query, k, retriever)


__all__ = ["Admission", "GatedEngine"]
