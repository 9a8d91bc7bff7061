"""The chat survives its server: stopped and started again under an open page, on the same port and data.

While the server is down the page says so in Chinese (never Gradio's English toast) and keeps the typed
question in the box; once it is back, the next Enter is answered without a reload, and a reload shows
the whole conversation (kept in the data directory's store). A double Enter sends one question.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import WAIT_MS, ask, open_chat
from playwright.sync_api import expect

from support import free_port

QUESTIONS = ("駐孟買辦事處何時揭牌？", "拜登政府宣布對台軍售幾次？", "總統12月出訪了哪些友邦？")


class Restartable:
    """The real engine served by uvicorn in a thread on one fixed port, stopped and started at will.

    Each start builds a new app (a new Gradio app id, nothing in memory) over the same data directory.
    """

    def __init__(self, engine: object, data_dir: Path) -> None:
        self.engine, self.data_dir = engine, data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.server: object | None = None

    def start(self) -> None:
        import uvicorn

        from citeqa.ui.server.app import create_app
        from citeqa.ui.server.config import ServeSettings

        app = create_app(self.engine, ServeSettings(port=self.port, data_dir=self.data_dir))  # type: ignore[arg-type]
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port again, as `serve` binds it
        self.sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(app, log_level="warning", proxy_headers=False, timeout_graceful_shutdown=1)
        self.server = server = uvicorn.Server(config)
        self.thread = threading.Thread(target=server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.should_exit = True  # type: ignore[attr-defined]
        self.thread.join(10)
        self.sock.close()
        self.server = None


@pytest.fixture(scope="module")
def restartable(real_engine, tmp_path_factory) -> Iterator[Restartable]:
    server = Restartable(real_engine, tmp_path_factory.mktemp("restart-data"))  # never the user's own
    server.start()
    yield server
    server.stop()


def test_the_chat_survives_its_server(restartable, new_tab):
    tab = new_tab()
    page = tab.page
    open_chat(tab, restartable.url)
    ask(page, QUESTIONS[0])
    box = page.locator("#citeqa-question textarea")
    questions, answers = page.locator(".citeqa-question"), page.locator(".citeqa-answer")

    box.fill(QUESTIONS[1])
    box.press("Enter")
    box.press("Enter")  # a double Enter, a few ms apart
    expect(answers).to_have_count(2, timeout=WAIT_MS)
    page.wait_for_timeout(1500)  # a second question would have shown by now
    expect(questions).to_have_count(2)
    expect(answers).to_have_count(2)

    restartable.stop()
    box.fill(QUESTIONS[2])
    box.press("Enter")
    notice = page.locator("#citeqa-offline")
    expect(notice).to_contain_text("與伺服器的連線中斷", timeout=10_000)
    page.wait_for_timeout(500)  # Gradio's own toast would be up by now
    assert "Connection" not in page.locator("body").inner_text()  # no English toast in sight
    expect(box).to_have_value(QUESTIONS[2])  # the question typed stays in the box
    box.press("Enter")  # again, still down: nothing is lost or sent
    page.wait_for_timeout(300)
    expect(box).to_have_value(QUESTIONS[2])
    expect(questions).to_have_count(2)
    tab.shot("restart-1-server-down")

    restartable.start()
    expect(notice).to_contain_text("已重新連線", timeout=15_000)  # found by itself, no reload
    box.press("Enter")
    expect(answers).to_have_count(3, timeout=WAIT_MS)
    expect(box).to_have_value("")
    expect(notice).to_have_count(0, timeout=10_000)
    tab.shot("restart-2-answered-after-restart")

    page.reload(wait_until="load")
    open_chat(tab, restartable.url)
    expect(answers).to_have_count(3, timeout=WAIT_MS)  # the whole conversation, from the store
    assert [q.strip() for q in questions.all_inner_texts()] == list(QUESTIONS)
    tab.shot("restart-3-after-reload")
