"""``BatchingEmbedder``: single questions batched by one worker thread, with a fake model.

The queue is filled deterministically: the fake model holds the worker inside a call until the test
opens its gate, so what waits behind it is known before anything is asserted. Every wait has a
timeout, so a batcher that loses a question fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

import numpy as np
import pytest

from citeqa.embedding.batching import BatchingEmbedder
from citeqa.errors import CiteqaError, Overloaded
from support import HashEmbedder, in_thread

WAIT_S = 10.0  # generous: only a bug ever waits this long
REFERENCE = HashEmbedder()


class GatedModel(HashEmbedder):
    """The hash embedder, recording each call; a closed gate holds the call until the test opens it.

    ``fail`` holds exceptions raised by the calls to come, in order (None: that call succeeds).
    """

    def __init__(self, *, gated: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.passages: list[tuple[list[str], bool]] = []
        self.threads: list[str] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.fail: list[BaseException | None] = []

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.gate.wait(WAIT_S), "the test never opened the gate"
        error = self.fail.pop(0) if self.fail else None
        if error is not None:
            raise error
        return super().encode_queries(texts)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.passages.append((list(texts), progress))
        return REFERENCE.encode_passages(texts)


@pytest.fixture
def make() -> Iterator:
    """Build batchers that are closed after the test, whatever it left waiting."""
    made: list[BatchingEmbedder] = []

    def build(inner, **kwargs) -> BatchingEmbedder:
        made.append(BatchingEmbedder(inner, **kwargs))
        return made[-1]

    yield build
    for batcher in made:
        getattr(batcher.inner, "gate", threading.Event()).set()
        batcher.close()


def expected(text: str) -> np.ndarray:
    return REFERENCE.encode_queries([text])


def queued(batcher: BatchingEmbedder, count: int) -> None:
    """Wait (polling a condition, bounded) until ``count`` questions wait in the batcher's queue."""
    deadline = time.monotonic() + WAIT_S
    while True:
        with batcher._ready:
            waiting = len(batcher._queue)
        if waiting == count:
            return
        assert waiting < count, f"{waiting} questions queued, expected {count}"
        assert time.monotonic() < deadline, f"only {waiting} of {count} questions reached the queue"
        time.sleep(0.001)


def ask_in(batcher: BatchingEmbedder, text: str) -> Future:
    return in_thread(batcher.encode_queries, [text])


def in_flight(model: GatedModel, batcher: BatchingEmbedder, text: str) -> Future:
    """Ask ``text`` and wait until the worker is inside the model with it (held by the closed gate)."""
    future = ask_in(batcher, text)
    assert model.entered.wait(WAIT_S), "the worker never called the model"
    assert model.calls == [[text]]
    return future


# --- batching -------------------------------------------------------------------------------------


def test_concurrent_questions_share_one_model_call_and_each_gets_its_own_vector(make):
    model = GatedModel()
    texts = [f"問題 {i}：駐孟買辦事處何時揭牌？" for i in range(8)]
    # The batch waits up to 10 s for a full batch of 8: all eight are in one call, whatever the timing.
    batcher = make(model, max_batch=8, max_wait_s=WAIT_S)
    futures = {t: ask_in(batcher, t) for t in texts}
    for text, future in futures.items():
        vector = future.result(WAIT_S)
        assert vector.shape == (1, REFERENCE.dim) and vector.dtype == np.float32
        np.testing.assert_array_equal(vector, expected(text))
    assert len(model.calls) == 1 and sorted(model.calls[0]) == sorted(texts)
    assert model.threads == ["citeqa-batcher"]
    assert (batcher.batches, batcher.questions, batcher.rejected) == (1, 8, 0)


def test_a_batch_never_exceeds_max_batch(make):
    model = GatedModel(gated=True)
    batcher = make(model, max_batch=3, max_wait_s=0, max_queue=64)
    first = in_flight(model, batcher, "q0")
    rest = {f"q{i}": ask_in(batcher, f"q{i}") for i in range(1, 11)}
    queued(batcher, 10)
    model.gate.set()
    np.testing.assert_array_equal(first.result(WAIT_S), expected("q0"))
    for text, future in rest.items():
        np.testing.assert_array_equal(future.result(WAIT_S), expected(text))
    # Ten waiting, at most three a call: 3 + 3 + 3 + 1 after the first question's own call.
    assert [len(c) for c in model.calls] == [1, 3, 3, 3, 1]
    assert sorted(t for c in model.calls for t in c) == sorted(["q0", *rest])
    assert (batcher.batches, batcher.questions) == (5, 11)


def test_duplicate_questions_in_one_batch_are_encoded_once(make):
    model = GatedModel()
    batcher = make(model, max_batch=4, max_wait_s=WAIT_S)
    texts = ["外交部", "外交部", "台美關係", "外交部"]
    futures = [ask_in(batcher, t) for t in texts]
    vectors = [f.result(WAIT_S) for f in futures]
    assert len(model.calls) == 1 and sorted(model.calls[0]) == ["台美關係", "外交部"]
    for text, vector in zip(texts, vectors, strict=True):
        np.testing.assert_array_equal(vector, expected(text))
    same = [v for t, v in zip(texts, vectors, strict=True) if t == "外交部"]
    assert not np.shares_memory(same[0], same[1])  # a copy each: one caller's edit never reaches another
    assert batcher.questions == 4


# --- back-pressure, errors, shutdown ---------------------------------------------------------------


def test_a_full_queue_raises_overloaded_at_once_and_drains_afterwards(make):
    model = GatedModel(gated=True)
    batcher = make(model, max_batch=8, max_wait_s=0, max_queue=2)
    first = in_flight(model, batcher, "q0")
    waiting = [ask_in(batcher, "q1"), ask_in(batcher, "q2")]
    queued(batcher, 2)
    with pytest.raises(Overloaded) as refused:
        batcher.encode_queries(["q3"])  # in this thread: it must not block behind the closed gate
    assert refused.value.waiting == 2
    assert isinstance(refused.value.retry_after, int) and refused.value.retry_after >= 1
    assert batcher.rejected == 1
    model.gate.set()
    for text, future in zip(["q0", "q1", "q2"], [first, *waiting], strict=True):
        np.testing.assert_array_equal(future.result(WAIT_S), expected(text))
    np.testing.assert_array_equal(batcher.encode_queries(["q3"]), expected("q3"))  # room again
    assert batcher.rejected == 1 and model.calls[-1] == ["q3"]


def test_a_model_error_reaches_every_waiter_and_the_worker_serves_on(make):
    model = GatedModel(gated=True)
    model.fail = [None, RuntimeError("model exploded")]  # the held call succeeds, the next batch fails
    batcher = make(model, max_batch=8, max_wait_s=0)
    first = in_flight(model, batcher, "q0")
    doomed = [ask_in(batcher, f"q{i}") for i in (1, 2, 3)]
    queued(batcher, 3)
    model.gate.set()
    np.testing.assert_array_equal(first.result(WAIT_S), expected("q0"))
    for future in doomed:
        with pytest.raises(RuntimeError, match="model exploded"):
            future.result(WAIT_S)
    assert [sorted(c) for c in model.calls] == [["q0"], ["q1", "q2", "q3"]]
    np.testing.assert_array_equal(batcher.encode_queries(["q4"]), expected("q4"))
    assert batcher._worker.is_alive()


def test_close_fails_waiting_questions_and_refuses_later_ones(make):
    model = GatedModel(gated=True)
    batcher = make(model, max_batch=8, max_wait_s=0)
    first = in_flight(model, batcher, "q0")
    waiting = [ask_in(batcher, "q1"), ask_in(batcher, "q2")]
    queued(batcher, 2)
    closer = in_thread(batcher.close)  # joins the worker, which is still inside the model
    for future in waiting:  # failed at once, not after the batch being encoded
        with pytest.raises(CiteqaError, match="stopped"):
            future.result(WAIT_S)
    with pytest.raises(CiteqaError, match="stopped"):
        batcher.encode_queries(["q3"])
    assert not closer.done()
    model.gate.set()
    np.testing.assert_array_equal(first.result(WAIT_S), expected("q0"))  # the batch in flight completes
    closer.result(WAIT_S)
    assert not batcher._worker.is_alive()
    assert model.calls == [["q0"]]


def test_a_worker_killed_by_a_base_exception_fails_waiters_instead_of_hanging(make):
    class Stop(BaseException):
        pass

    model = GatedModel(gated=True)
    model.fail = [Stop()]
    batcher = make(model, max_batch=8, max_wait_s=0)
    first = in_flight(model, batcher, "q0")
    waiting = ask_in(batcher, "q1")
    queued(batcher, 1)
    seen: list[type[BaseException]] = []
    hook = threading.excepthook  # the worker dies of Stop: record it instead of printing a traceback
    threading.excepthook = lambda args: seen.append(args.exc_type)
    try:
        model.gate.set()
        with pytest.raises(Stop):
            first.result(WAIT_S)
        with pytest.raises(CiteqaError, match="stopped"):
            waiting.result(WAIT_S)
        batcher._worker.join(WAIT_S)
    finally:
        threading.excepthook = hook
    assert seen == [Stop] and not batcher._worker.is_alive()
    with pytest.raises(CiteqaError, match="stopped"):
        batcher.encode_queries(["q2"])


# --- what is not batched --------------------------------------------------------------------------


@pytest.mark.parametrize("texts", [[], ["台美關係", "外交部", "台美關係"]], ids=["none", "three"])
def test_several_questions_go_straight_to_the_model_in_the_calling_thread(make, texts):
    model = GatedModel()
    batcher = make(model)
    vectors = batcher.encode_queries(texts)
    assert vectors.shape == (len(texts), REFERENCE.dim)
    np.testing.assert_array_equal(vectors, REFERENCE.encode_queries(texts))
    assert model.calls == [texts] and model.threads == [threading.current_thread().name]
    assert batcher.batches == batcher.questions == 0


@pytest.mark.parametrize("progress", [False, True])
def test_passages_go_straight_to_the_model(make, progress):
    model = GatedModel()
    batcher = make(model)
    texts = ["第一段。", "第二段。"]
    np.testing.assert_array_equal(batcher.encode_passages(texts, progress=progress),
                                  REFERENCE.encode_passages(texts))
    assert model.passages == [(texts, progress)] and model.calls == []


def test_it_poses_as_the_model_it_wraps(make):
    batcher = make(GatedModel())
    assert (batcher.name, batcher.dim, batcher.fingerprint) == (REFERENCE.name, REFERENCE.dim, REFERENCE.fingerprint)


@pytest.mark.parametrize("kwargs", [{"max_batch": 0}, {"max_queue": 0}, {"max_wait_s": -0.1}])
def test_nonsense_sizes_are_refused(kwargs):
    with pytest.raises(ValueError, match=str(next(iter(kwargs.values())))):
        BatchingEmbedder(GatedModel(), **kwargs)
