"""``citeqa serve``'s wiring under overload: ``serve()`` itself, in this process, with the fake model.

The model holds the first question until the test lets it go, so every later question waits in the
admission line (ui/server/admission.py) or is turned away: once ``CITEQA_QUEUE_SIZE`` requests wait, each
request past them gets 503 with Retry-After at once, not after the model frees up (the web app's
contract, ui/api/routes.py). More requests are sent than FastAPI has request threads (40): a line kept in
those threads could never fill, and nothing would ever be refused.
"""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn

from citeqa.embedding import batching
from citeqa.errors import CiteqaError
from citeqa.index import update
from citeqa.settings import Settings
from citeqa.ui.server.config import ServeSettings
from citeqa.ui.server.serve import serve
from support import HashEmbedder, free_port, in_thread

WAIT_S = 30.0


class HeldModel(HashEmbedder):
    """The fake model; once ``hold`` is set, each question call waits until ``release`` is set."""

    def __init__(self) -> None:
        self.hold, self.release, self.entered = threading.Event(), threading.Event(), threading.Event()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if self.hold.is_set():
            self.entered.set()
            assert self.release.wait(WAIT_S), "the test never released the model"
        return super().encode_queries(texts)


def wait_for(condition, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_full_question_queue_answers_503_with_retry_after(monkeypatch, fake_index_dir, tmp_path):
    model = HeldModel()
    servers: list[uvicorn.Server] = []
    batchers: list[batching.BatchingEmbedder] = []

    class Server(uvicorn.Server):
        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            servers.append(self)

    class Batcher(batching.BatchingEmbedder):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            batchers.append(self)

    monkeypatch.setattr(update, "embedder_for", lambda settings, progress=True: model)
    monkeypatch.setattr(uvicorn, "Server", Server)
    monkeypatch.setattr(batching, "BatchingEmbedder", Batcher)
    port = free_port()
    settings = Settings.from_env({}, index_dir=fake_index_dir, cache_dir=tmp_path)
    web = ServeSettings(port=port, queue_size=8, engine_slots=1)
    served = in_thread(lambda: serve(settings, web, log_level="warning"))
    wait_for(lambda: served.done() or (servers and servers[0].started), "the server to start")
    assert not served.done(), served.exception()
    (batcher,) = batchers
    base = f"http://127.0.0.1:{port}"

    def ask(i: int) -> httpx.Response:
        question = f"第 {i} 問：駐孟買辦事處何時揭牌？"
        return httpx.post(f"{base}/api/ask", json={"question": question}, timeout=2 * WAIT_S)

    try:
        model.hold.set()
        first = in_thread(ask, 0)
        assert model.entered.wait(WAIT_S), "the first question never reached the model"
        # More requests than the server has request threads (40): whatever bounds the line fills.
        rest = [in_thread(ask, i) for i in range(1, 61)]
        wait_for(lambda: sum(f.done() for f in rest) == 60 - 8, "52 requests turned away while the model is held")
        turned_away = [f.result() for f in rest if f.done()]
        for r in turned_away:  # answered at once, not after the model frees up
            assert r.status_code == 503, (r.status_code, r.text)
            assert int(r.headers["Retry-After"]) >= 1
            assert r.headers["content-type"].startswith("application/json")
            assert "busy" in r.json()["error"]
        model.release.set()
        responses = [first.result(WAIT_S), *(f.result(WAIT_S) for f in rest)]
        codes = [r.status_code for r in responses]
        # One in the engine, 8 in line, the other 52 turned away.
        assert codes[0] == 200 and codes.count(200) == 1 + 8 and codes.count(503) == 52, codes
        assert all(r.json()["answer"] for r in responses if r.status_code == 200)
    finally:
        model.release.set()
        if servers:
            servers[0].should_exit = True
    assert served.result(WAIT_S) == 0
    with pytest.raises(CiteqaError, match="stopped"):  # serve() closed its batcher on the way out
        batcher.encode_queries(["駐孟買辦事處何時揭牌？"])
