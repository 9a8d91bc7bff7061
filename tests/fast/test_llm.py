"""Generative answers against a protocol double of an OpenAI-compatible server on 127.0.0.1.

The server below is a PROTOCOL DOUBLE, not a language model: it speaks the `/chat/completions`
wire format and returns scripted replies (good, hallucinated marker, unsupported claim, garbage,
HTTP error, slow), so the verification and fallback logic can be tested without a model.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from citeqa.qa.engine import Engine
from citeqa.qa.grounding import AbstainSettings

SCRIPT: dict[str, str] = {}  # keyword in the question → scripted behaviour
SEEN: list[dict] = []


class _Double(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        question = body["messages"][-1]["content"].rsplit("Question:", 1)[-1]
        mode = next((m for k, m in SCRIPT.items() if k in question), "good")
        if mode == "slow":
            time.sleep(3)
        if mode == "http500":
            self.send_response(500)
            self.end_headers()
            return
        if mode == "garbage":
            payload = b"<html>not json"
        else:
            content = {
                "good": "駐孟買辦事處於 10 月正式揭牌對外運作[1]。",
                "hallucinated": "駐孟買辦事處於 10 月正式揭牌對外運作[9]。",
                "unsupported": "駐孟買辦事處於 1999 年由火星總統揭牌[1]。",
                "mixed": "駐孟買辦事處於 10 月正式揭牌對外運作[1]。它由外星人管理[1]。",
                "notfound": "NOT_IN_DOCUMENTS",
            }.get(mode, mode)
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except BrokenPipeError:  # the "slow" reply: the client already gave up, as intended
            pass


@pytest.fixture(scope="module")
def double_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Double)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.fixture()
def engine(fake_engine, double_url) -> Engine:
    settings = fake_engine.settings.with_(
        llm_base_url=double_url, llm_model="double", llm_api_key="sekret", llm_timeout=1.0
    )
    always = dataclasses.replace(fake_engine.answerer.settings, abstain=AbstainSettings(threshold=float("-inf")))
    eng = Engine.assemble(settings, fake_engine.embedder, fake_engine.index)
    SCRIPT.clear()
    answerer = type(eng.answerer)(eng.index, eng.embedder, eng.retrievers["hybrid"], always)
    return dataclasses.replace(eng, answerer=answerer)


Q = "駐孟買辦事處何時揭牌？"


def test_good_reply_is_kept_with_verified_citation(engine):
    a = engine.ask(Q)
    assert a.grounded and a.answer == "駐孟買辦事處於 10 月正式揭牌對外運作[1]。"
    c = a.citations[0]
    assert "孟買" in c.passage.text and "揭牌" in c.passage.text[c.quote_start : c.quote_end]
    req = SEEN[-1]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sekret"
    assert "[1]" in req["body"]["messages"][-1]["content"]  # the passages are numbered for the model


@pytest.mark.parametrize("mode", ["hallucinated", "unsupported", "garbage", "http500", "slow", ""])
def test_unverifiable_or_failed_replies_fall_back_to_the_quote(engine, mode):
    SCRIPT["孟買"] = mode or "   "
    a = engine.ask(Q)
    extractive = engine.answerer.answer(Q)
    assert a == extractive  # the extractive answer, verbatim quotes and all


def test_the_models_not_in_documents_marker_is_honoured(engine):
    """The model read the passages and says they do not answer: the user is told so, with the passages."""
    SCRIPT["孟買"] = "notfound"
    a = engine.ask(Q)
    assert a.outcome == "not_found" and not a.grounded and "沒有找到" in a.answer
    assert a.citations and all(c.quote_start is None for c in a.citations)  # reference only, no markers
    assert engine.answerer.answer(Q).grounded  # the extractive answerer alone would have quoted


def test_unsupported_sentence_is_dropped_supported_one_kept(engine):
    SCRIPT["孟買"] = "mixed"
    a = engine.ask(Q)
    assert a.answer == "駐孟買辦事處於 10 月正式揭牌對外運作[1]。" and len(a.citations) == 1


def test_abstention_is_decided_before_asking_the_model(fake_engine, double_url):
    settings = fake_engine.settings.with_(llm_base_url=double_url, llm_model="double", llm_timeout=1.0)
    eng = Engine.assemble(settings, fake_engine.embedder, fake_engine.index)
    n = len(SEEN)
    a = eng.ask("台北101有多高？", abstain=AbstainSettings(threshold=float("inf")))
    assert not a.grounded and len(SEEN) == n
