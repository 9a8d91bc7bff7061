"""The web app against the second probe (N1, N2, N5-N8 of probe-6c2afaa): a real server on 127.0.0.1.

Each test sends what the probe sent. N3, N4 and N9 (the LLM endpoint) are in ``test_llm*.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import chat_fn, gradio_event, live_server


def _file(path: Path | str) -> dict:
    return {"path": str(path), "meta": {"_type": "gradio.FileData"}, "orig_name": "x"}


def _healthy_within(base: str, seconds: float) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=seconds).status_code == 200
    except httpx.HTTPError:
        return False


def test_file_shaped_inputs_never_reach_gradio(fake_engine, tmp_path, monkeypatch):
    """N1: a chat input shaped as Gradio's FileData made Gradio hash and copy the named server file on
    the event loop: ``/dev/zero`` or a FIFO froze every route; a regular file was copied into its cache."""
    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    secret = tmp_path / "secret.txt"
    secret.write_text("CANARY")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    app = create_app(fake_engine, ServeSettings())
    submit, load, select = chat_fn(app, "submit"), chat_fn(app, "load"), chat_fn(app, "example_select")
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=5) as c:
            for target in (secret, fifo, "/dev/zero"):  # the FIFO before /dev/zero: a regression fails, not hangs
                bodies = [
                    ("/gradio_api/call/ask", {"data": [_file(target)]}),
                    ("/gradio_api/call/ask", {"data": [["x", {"deep": [_file(target)]}]]}),
                    ("/gradio_api/queue/join", {"data": [_file(target), ""], "fn_index": submit, "session_hash": "a1"}),
                    ("/gradio_api/run/predict", {"data": [_file(target)], "fn_index": load, "session_hash": "a1"}),
                    ("/gradio_api/queue/join", {"data": [""], "fn_index": select, "session_hash": "a1",
                                                "event_data": {"index": 0, "value": {"f": _file(target)}}}),
                ]
                for path, body in bodies:
                    r = c.post(path, json=body)
                    assert r.status_code == 422 and r.json()["error"], (path, body, r.text)
                    assert _healthy_within(base, 1.0), f"the server stopped answering after {path} {target}"
            assert c.post("/gradio_api/call/ask", json={"data": ["駐孟買辦事處何時揭牌？"]}).status_code == 200
    finally:
        _release(fifo)
    copied = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert copied == [], f"Gradio copied server files into its cache: {copied}"


def _release(fifo: Path) -> None:
    """A regression leaves Gradio blocked reading the FIFO: opening and closing its other end ends that."""
    with contextlib.suppress(OSError):  # ENXIO: nobody is reading it
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_deeply_nested_json_is_a_400_without_a_traceback(fake_engine, caplog):
    """N5: 30,000-deep JSON to queue/join and run/predict was a 500 and a RecursionError traceback."""
    deep = ('{"fn_index": 0, "data": ' + "[" * 30000 + "]" * 30000 + "}").encode()
    with caplog.at_level(logging.ERROR), live_server(create_app(fake_engine, ServeSettings())) as base:
        for path in ("/gradio_api/queue/join", "/gradio_api/run/predict", "/gradio_api/call/ask"):
            r = httpx.post(base + path, content=deep, headers={"content-type": "application/json"}, timeout=10)
            assert r.status_code == 400 and "nested too deeply" in r.json()["error"], (path, r.text)
    assert not [rec for rec in caplog.records if rec.exc_info], "a refused body left a traceback"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_memory_per_client_is_bounded_in_count_and_size(fake_engine):
    """N2: each new session hash kept a copy of the page-load event's outputs (the whole chat's HTML):
    RSS 0.5 → 1.9 GB after 800 calls, never returned. Forged conversation ids must create nothing."""
    from citeqa.ui.chat.gradio_state import STATE_SESSIONS

    app = create_app(fake_engine, ServeSettings())
    submit, load = chat_fn(app, "submit"), chat_fn(app, "load")
    with live_server(app) as base, httpx.Client(base_url=base, timeout=10) as c:
        opened = c.post("/gradio_api/run/predict", json={"data": [""], "fn_index": load, "session_hash": "builder1"})
        cid = opened.json()["data"][-1]  # the id the page's load hands out
        for i in range(10):  # a long conversation, as the probe built
            assert gradio_event(base, submit, "builder1", [f"駐孟買辦事處何時揭牌？第{i}次", cid]).get("success")
        page = c.post("/gradio_api/run/predict", json={"data": [cid], "fn_index": load, "session_hash": "z0"}).json()
        assert len(json.dumps(page)) > 50_000  # what each replay returns: the whole conversation
        conversations = len(app.state.sessions)
        before = _rss_mb()
        for i in range(150):
            r = c.post("/gradio_api/run/predict", json={"data": [cid], "fn_index": load, "session_hash": f"h{i}"})
            assert r.status_code == 200
        for i in range(150):  # ids of the right shape that the server never issued
            forged = f"{i:032x}"
            r = c.post("/gradio_api/run/predict", json={"data": [forged], "fn_index": load, "session_hash": f"f{i}"})
            assert r.json()["data"][-1] != forged
        grown = _rss_mb() - before
    holder = app.state.chat.state_holder
    assert len(holder.session_data) <= STATE_SESSIONS
    kept = max(len(json.dumps(s.config_values, default=str)) for s in holder.session_data.values())
    assert kept < 20_000, f"a session keeps {kept:,} bytes of component config: outputs copied into session state"
    assert len(app.state.sessions) == conversations, "a page load or a forged id created a conversation"
    assert grown < 25, f"RSS grew {grown:.0f} MB over 300 new session hashes"


class CountingEngine:
    """The fake engine, counting how many engine calls (prepare, search) run at once."""

    def __init__(self, inner, hold: float = 0.15, network: float = 0.0) -> None:
        self.inner, self.hold, self.network = inner, hold, network
        self.now = self.most = self.calls = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def _inside(self, call, *args, **kwargs):
        with self._lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(self.hold)
            return call(*args, **kwargs)
        finally:
            with self._lock:
                self.now -= 1

    def prepare(self, *args, **kwargs):
        draft = self._inside(self.inner.prepare, *args, **kwargs)
        return SlowDraft(draft, self.network) if self.network else draft

    def search(self, *args, **kwargs):
        return self._inside(self.inner.search, *args, **kwargs)


class SlowDraft:
    """A draft whose finish waits on the network (a slow LLM endpoint) for ``seconds``."""

    waits_on_network = True

    def __init__(self, draft, seconds: float) -> None:
        self.draft, self.seconds = draft, seconds

    def finish(self):
        time.sleep(self.seconds)
        return self.draft.finish()


def test_one_engine_gate_for_every_entry_point(fake_engine):
    """N8: the chat's public Gradio API called the engine outside the gate the REST API and the chat use,
    so more questions ran at once than CITEQA_ENGINE_SLOTS allows."""
    engine = CountingEngine(fake_engine)
    app = create_app(engine, ServeSettings(engine_slots=2))  # type: ignore[arg-type]
    submit = chat_fn(app, "submit")
    with live_server(app) as base:

        def rest(i: int) -> int:
            return httpx.post(f"{base}/api/ask", json={"question": f"孟買{i}"}, timeout=30).status_code

        def search(i: int) -> int:
            return httpx.get(f"{base}/api/search", params={"q": f"孟買{i}"}, timeout=30).status_code

        def gradio_api(i: int) -> int:
            with httpx.Client(base_url=base, timeout=30) as c:
                event = c.post("/gradio_api/call/ask", json={"data": [f"孟買{i}"]}).json()["event_id"]
                text = c.get(f"/gradio_api/call/ask/{event}").text
            return 200 if "event: complete" in text else 500

        def chat(i: int) -> int:
            done = gradio_event(base, submit, f"tab{i}", [f"孟買{i}", ""])
            return 200 if done.get("success") else 500

        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(f, i) for i in range(3) for f in (rest, search, gradio_api, chat)]
            assert [f.result() for f in futures] == [200] * 12
    assert engine.calls == 12 and engine.most <= 2, (engine.calls, engine.most)


def test_a_slow_llm_endpoint_holds_no_engine_slot(fake_engine):
    """N3: a generative answer waited on the endpoint inside the gate: four slow replies held every slot
    and a plain search waited 25 s. The wait now happens after the slot is given back."""
    engine = CountingEngine(fake_engine, hold=0.0, network=2.0)
    app = create_app(engine, ServeSettings(engine_slots=1))  # type: ignore[arg-type]
    with live_server(app) as base, ThreadPoolExecutor(3) as pool:
        asks = [pool.submit(httpx.post, f"{base}/api/ask", json={"question": "孟買"}, timeout=30) for _ in range(2)]
        time.sleep(0.5)  # both are now waiting on the "endpoint"
        started = time.monotonic()
        assert httpx.get(f"{base}/api/search", params={"q": "孟買"}, timeout=30).status_code == 200
        waited = time.monotonic() - started
        assert all(a.result().status_code == 200 for a in asks)
    assert waited < 1.0, f"a search waited {waited:.1f} s behind LLM calls"


@pytest.mark.parametrize("line", [
    "/api/search?q=x&%74oken=s3cret",  # N7: accepted as the token, logged in clear
    "/api/search?q=x&tok%65n=s3cret",
    "/api/search?TOKEN=s3cret&q=x",
    "/gradio_api/queue/data?session_hash=s3cret",  # N6: replaying it returned the conversation
    "/gradio_api/heartbeat/s3cret",
    "/gradio_api/heartbeat/s3cret?x=1",
])
def test_secrets_are_redacted_from_request_lines_by_meaning(line, caplog):
    from citeqa.ui.server.redact import redact_secrets_in_logs

    redact_secrets_in_logs()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", line, "1.1", 200)
    assert "s3cret" not in caplog.text and "[redacted]" in caplog.text


def test_conversation_ids_are_redacted_and_other_values_kept():
    from citeqa.ui.server.redact import redact

    cid = "0123456789abcdef0123456789abcdef"
    assert redact(f"restored {cid} for tab") == "restored [redacted] for tab"
    assert redact("/api/search?q=token%3Dx&k=5") == "/api/search?q=token%3Dx&k=5"  # a value is not a key
    assert redact("/x?%2574oken=a&b=2") == "/x?%2574oken=[redacted]&b=2"  # encoded twice: still a token key


def test_an_encoded_token_key_is_accepted_and_not_logged(fake_engine, caplog):
    """N7 end to end: the server accepts ``?%74oken=`` (it decodes to ``token``); the log never shows it."""
    from citeqa.ui.server.redact import RedactSecrets

    app = create_app(fake_engine, ServeSettings(access_token="s3cret"))
    with live_server(app) as base:
        r = httpx.get(f"{base}/api/search?q=x&%74oken=s3cret", timeout=10)
        assert r.status_code == 200
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s"', ("c", "GET", str(r.url)), None)
    RedactSecrets().filter(record)
    assert "s3cret" not in record.getMessage()
