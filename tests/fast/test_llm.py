"""Generative answers against a protocol double of an OpenAI-compatible server on 127.0.0.1.

The server below is a PROTOCOL DOUBLE, not a language model: it speaks the `/chat/completions`
wire format and returns scripted replies (good, hallucinated marker, unsupported claim, garbage,
HTTP error, slow, dripping, oversize, repeating, negating), so the deadline, the size cap, the
verification and the fallback can be tested without a model.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from citeqa.qa.decision.score import AbstainSettings
from citeqa.qa.engine import Engine

SCRIPT: dict[str, str] = {}  # keyword in the question → scripted behaviour
SEEN: list[dict] = []
CONNECTIONS: list[float] = []  # when each connection to the double was accepted
GOOD = "駐孟買辦事處於 10 月正式揭牌對外運作[1]。"
DRIP_SECONDS = 6.0  # how long a dripping reply goes on: far past the 1 s deadline the tests set
# Replies that open normally and then never finish: one byte every 0.2 s, each read well inside
# httpx's per-read timeout, in the body ("drip") or in the headers ("driphead").
DRIP_OPENINGS = {
    "drip": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
    "driphead": b"HTTP/1.1 200 OK\r\nX-Slow: ",
}


def _drip(w, opening: bytes) -> None:
    t0 = time.monotonic()
    try:
        w.write(opening)
        while time.monotonic() - t0 < DRIP_SECONDS:
            w.write(b"a" if opening.endswith(b": ") else b" ")
            w.flush()
            time.sleep(0.2)
    except OSError:  # the client hung up: it gave up, as intended
        pass


class _Double(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def setup(self):
        CONNECTIONS.append(time.monotonic())
        super().setup()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        question = body["messages"][-1]["content"].rsplit("Question:", 1)[-1]
        mode = next((m for k, m in SCRIPT.items() if k in question), "good")
        if mode in DRIP_OPENINGS:
            _drip(self.wfile, DRIP_OPENINGS[mode])
            return
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
                "good": GOOD,
                "huge": GOOD * 4000,  # about 600 KB of JSON, past the 256 KiB cap
                # One sentence, forty times, with its spacing and punctuation varied.
                "repeat": (GOOD + "駐孟買辦事處於10月，正式揭牌對外運作 [1]！") * 20,
                "negated": "駐孟買辦事處於 10 月取消揭牌，未對外運作[1]。",
                "negated_mixed": GOOD + "駐孟買辦事處 10 月並未揭牌，也沒有對外運作[1]。",
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
    anything = AbstainSettings(threshold=float("-inf"), answer_threshold=float("-inf"))
    always = dataclasses.replace(fake_engine.answerer.settings, abstain=anything)
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


# --- the endpoint is untrusted input: one deadline, a size cap, no repetition, no contradiction ----


@pytest.mark.parametrize("mode", ["drip", "driphead"])
def test_a_dripping_endpoint_is_cut_at_the_deadline(engine, mode):
    """CITEQA_LLM_TIMEOUT (1 s here) bounds the whole call, not each read: the reply drips for 6 s."""
    SCRIPT["孟買"] = mode
    t0 = time.monotonic()
    a = engine.ask(Q)
    took = time.monotonic() - t0
    assert a == engine.answerer.answer(Q)
    assert took < 3.0, f"the call took {took:.1f} s under a 1 s deadline"


def test_an_oversize_reply_falls_back_to_the_quote(engine):
    SCRIPT["孟買"] = "huge"
    assert engine.ask(Q) == engine.answerer.answer(Q)


def test_a_repeated_sentence_is_kept_once(engine):
    SCRIPT["孟買"] = "repeat"
    assert engine.ask(Q).answer == GOOD


@pytest.mark.parametrize(("mode", "kept"), [("negated", None), ("negated_mixed", GOOD)])
def test_a_sentence_that_negates_its_passage_is_dropped(engine, mode, kept):
    """The passage says the office opened in October; a reply saying it did not is not verified by it."""
    SCRIPT["孟買"] = mode
    a = engine.ask(Q)
    assert a.answer == kept if kept else a == engine.answerer.answer(Q)


def test_a_generative_answer_carries_the_extractive_confidence(engine):
    a = engine.ask(Q)
    assert a.answer == GOOD  # the model's sentence, not the quote
    d = a.to_dict()
    assert "confidence" in d and d["confidence"] == engine.answerer.answer(Q).confidence is not None


# --- Engine.prepare / Draft.finish: the CPU part and the network part -----------------------------


def test_prepare_does_no_network_io_and_finish_calls_the_model(engine):
    n = len(CONNECTIONS)
    draft = engine.prepare(Q)
    assert draft.waits_on_network and len(CONNECTIONS) == n  # retrieval, quote and decision only
    a = draft.finish()
    assert len(CONNECTIONS) == n + 1 and a.answer == GOOD
    assert a == engine.ask(Q)


def test_a_draft_that_is_not_answered_waits_on_nothing(fake_engine, double_url):
    settings = fake_engine.settings.with_(llm_base_url=double_url, llm_model="double", llm_timeout=1.0)
    eng = Engine.assemble(settings, fake_engine.embedder, fake_engine.index)
    never = AbstainSettings(threshold=float("inf"))
    n = len(CONNECTIONS)
    draft = eng.prepare("台北101有多高？", abstain=never)
    assert not draft.waits_on_network
    assert draft.finish() == fake_engine.ask("台北101有多高？", abstain=never) and len(CONNECTIONS) == n


@pytest.mark.parametrize(
    ("question", "previous"),
    [(Q, None), ("那荷蘭呢？", Q), ("他們簽了什麼？", "台灣與以色列簽署了什麼協定？"), ("你好", None), ("?", None)],
)
def test_ask_is_prepare_then_finish_without_a_model(fake_engine, question, previous):
    draft = fake_engine.prepare(question, previous=previous)
    assert not draft.waits_on_network and draft.model is None
    assert draft.finish() == fake_engine.ask(question, previous=previous)
    assert fake_engine.ask_with(fake_engine.answerer, question, previous=previous) == draft.finish()  # eval's way


def test_a_conversation_turn_gets_the_same_reply_with_a_model(fake_engine, double_url):
    """The outcome is decided before the model is asked, and the same way: "你好" is a turn, not a miss."""
    settings = fake_engine.settings.with_(llm_base_url=double_url, llm_model="double", llm_timeout=1.0)
    eng = Engine.assemble(settings, fake_engine.embedder, fake_engine.index)
    n = len(CONNECTIONS)
    a = eng.ask("你好")
    assert a == fake_engine.ask("你好") and a.outcome == "conversation" and len(CONNECTIONS) == n


def test_a_follow_up_is_resolved_alike_with_and_without_a_model(engine):
    extractive = dataclasses.replace(engine, llm=None)
    a, b = engine.ask("那荷蘭呢？", previous=Q), extractive.ask("那荷蘭呢？", previous=Q)
    assert a.question == b.question == "那荷蘭呢？"
    assert a.resolved == b.resolved == "駐荷蘭辦事處何時揭牌？"
