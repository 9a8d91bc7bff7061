"""``BatchingEmbedder``: questions that arrive together are encoded in one model call (dynamic batching).

The technique of text-embeddings-inference and Triton's dynamic batcher, for ``citeqa serve``: each
request thread puts its question in one bounded queue and waits; one worker thread takes every
question waiting (up to ``max_batch``), having waited at most ``max_wait_s`` after the first for
others to join, encodes them in one call and hands each thread its vector. On 2 cores this replaces
up to 40 threads each running the model at once (and fighting over the cores) by one model call at
a time, with less work per question (onnxruntime: ~14 ms alone, ~12 ms in a batch of 4;
sentence-transformers: ~37 ms alone, ~19 ms in a batch of 8; docs/benchmarks.md).

Back-pressure: when ``max_queue`` questions are already waiting, ``encode_queries`` raises
``Overloaded`` at once (the web app answers 503 with Retry-After: the queue's expected wait), so the
backlog never grows without bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from concurrent.futures import Future

import numpy as np

from citeqa.embedding.embedder import Embedder
from citeqa.errors import CiteqaError, Overloaded


class BatchingEmbedder:
    """Wraps an ``Embedder``: single questions are batched by one worker thread; everything else passes through.

    ``close()`` stops the worker; questions still waiting then fail with ``CiteqaError``.
    """

    def __init__(
        self, inner: Embedder, *, max_batch: int = 32, max_wait_s: float = 0.002, max_queue: int = 64
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError(f"max_batch {max_batch}, max_queue {max_queue} (≥ 1) or max_wait_s {max_wait_s} (≥ 0)")
        self.inner = inner
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint
        self.max_batch, self.max_wait_s, self.max_queue = max_batch, max_wait_s, max_queue
        self._queue: deque[tuple[str, float, Future[np.ndarray]]] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._seconds_per_question = 0.02  # running estimate, for Retry-After
        self.batches = 0  # counters for benchmarks and tests
        self.questions = 0
        self.rejected = 0
        self._worker = threading.Thread(target=self._run, name="citeqa-batcher", daemon=True)
        self._worker.start()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """One question: queued, batched with others, its vector returned. Several: straight to the model."""
        if len(texts) != 1:
            return self.inner.encode_queries(texts)
        future: Future[np.ndarray] = Future()
        with self._ready:
            if self._closed:
                raise CiteqaError("the question encoder is stopped")
            waiting = len(self._queue)
            if waiting >= self.max_queue:
                self.rejected += 1
                raise Overloaded(waiting, max(1, math.ceil(waiting * self._seconds_per_question)))
            self._queue.append((texts[0], time.monotonic(), future))
            self._ready.notify()
        return future.result()[None, :]

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Passages come in batches already (index builds): straight to the model."""
        return self.inner.encode_passages(texts, progress=progress)

    def close(self) -> None:
        """Stop the worker after the batch it is encoding; questions still queued get an error."""
        self._stop()
        self._worker.join(timeout=30)

    def _stop(self) -> None:
        with self._ready:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self._ready.notify_all()
        for _, _, future in left:
            future.set_exception(CiteqaError("the question encoder is stopped"))

    def _run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._encode(batch)
        finally:  # however the worker ends, no question waits for it forever
            self._stop()

    def _next_batch(self) -> list[tuple[str, float, Future[np.ndarray]]] | None:
        """Wait for a question, then up to ``max_wait_s`` from its arrival for more (never past ``max_batch``)."""
        with self._ready:
            while not self._queue and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            deadline = self._queue[0][1] + self.max_wait_s
            while len(self._queue) < self.max_batch and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
            count = min(len(self._queue), self.max_batch)
            return [self._queue.popleft() for _ in range(count)]

    def _encode(self, batch: list[tuple[str, float, Future[np.ndarray]]]) -> None:
        texts = list(dict.fromkeys(text for text, _, _ in batch))  # a question asked twice is encoded once
        started = time.monotonic()
        try:
            vectors = self.inner.encode_queries(texts)
        except BaseException as exc:  # every waiting thread gets the error; the worker lives on
            for _, _, future in batch:
                future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        per_question = (time.monotonic() - started) / len(texts)
        self._seconds_per_question = 0.8 * self._seconds_per_question + 0.2 * per_question
        self.batches += 1
        self.questions += len(batch)
        row = {text: i for i, text in enumerate(texts)}
        for text, _, future in batch:
            vector = np.array(vectors[row[text]], dtype=np.float32)  # a copy each: callers may keep it
            future.set_result(vector)


__all__ = ["BatchingEmbedder"]
