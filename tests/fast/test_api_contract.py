"""The REST contract and its input validation, on a real uvicorn in this process with the fake engine.

None of these requests reaches the model, so the fake engine proves the same as the real one; what
the real model answers is checked in tests/model/test_real_api.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import ALLOWED, ANSWER_KEYS, assert_error, assert_hit, live_server


@pytest.fixture(scope="module")
def server(fake_engine) -> Iterator[str]:
    """Default settings: no token, no CORS origins, served at "/"."""
    with live_server(create_app(fake_engine, ServeSettings())) as base:
        yield base


@pytest.fixture(scope="module")
def api(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


def test_healthz(api, fake_engine):
    r = api.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "passages": fake_engine.index.passage_count, "model": "hash-bigram-test"}
    assert fake_engine.index.passage_count > 0


def test_ask_contract(api):
    r = api.post("/api/ask", json={"question": "駐孟買辦事處何時揭牌？", "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == ANSWER_KEYS and body["question"] == "駐孟買辦事處何時揭牌？"
    assert isinstance(body["grounded"], bool) and isinstance(body["answer"], str) and body["answer"]
    assert 1 <= len(body["citations"]) <= 3
    for c in body["citations"]:
        assert_hit(c)


def test_ask_accepts_previous_question(api):
    r = api.post("/api/ask", json={"question": "那荷蘭呢？", "previous": "駐孟買辦事處何時揭牌？"})
    assert r.status_code == 200, r.text
    assert set(r.json()) == ANSWER_KEYS | {"resolved"} and r.json()["resolved"] == "駐荷蘭辦事處何時揭牌？"


def test_search_contract(api):
    r = api.get("/api/search", params={"q": "駐孟買辦事處", "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"query", "hits"} and body["query"] == "駐孟買辦事處"
    assert 1 <= len(body["hits"]) <= 3
    for h in body["hits"]:
        assert_hit(h)
    for retriever in ("dense", "bm25", "hybrid"):
        r = api.get("/api/search", params={"q": "駐孟買辦事處", "k": 2, "retriever": retriever})
        assert r.status_code == 200 and len(r.json()["hits"]) == 2, r.text


def test_openapi_docs(api):
    r = api.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    spec = api.get("/openapi.json").json()
    assert {"/api/ask", "/api/search", "/healthz"} <= set(spec["paths"])
    assert "AskRequest" in json.dumps(spec)


LONG = "問" * 1001
BAD_ASKS = {
    "empty": {"question": ""},
    "whitespace": {"question": "  \n\t "},
    "too long": {"question": LONG},
    "number": {"question": 123},
    "null": {"question": None},
    "list": {"question": ["拜登"]},
    "missing": {},
    "top_k string": {"question": "拜登", "top_k": "5"},
    "top_k zero": {"question": "拜登", "top_k": 0},
    "top_k too big": {"question": "拜登", "top_k": 101},
    "top_k float": {"question": "拜登", "top_k": 1.5},
    "top_k bool": {"question": "拜登", "top_k": True},
    "previous number": {"question": "拜登", "previous": 5},
    "previous too long": {"question": "那荷蘭呢？", "previous": LONG},
    "unknown field": {"question": "拜登", "topk": 3},
    "array body": ["拜登"],
    "string body": "拜登",
}


@pytest.mark.parametrize("body", BAD_ASKS.values(), ids=BAD_ASKS.keys())
def test_ask_rejects_bad_input(api, body):
    assert_error(api.post("/api/ask", json=body), 400, 422)


@pytest.mark.parametrize(
    "content",
    [b"{", b'{"question": "x",}', b"\xff\xfe", b""],
    ids=["truncated", "trailing comma", "not utf-8", "empty"],
)
def test_ask_rejects_malformed_json(api, content):
    r = api.post("/api/ask", content=content, headers={"content-type": "application/json"})
    assert_error(r, 400, 422)


def test_ask_rejects_huge_body_by_content_length(api):
    r = api.post("/api/ask", json={"question": "拜登" * 40_000})
    assert_error(r, 413)


def test_ask_rejects_huge_body_by_actual_size(api):
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked, counted as it arrives
        yield b'{"question": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    r = api.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_error(r, 413)


def test_ask_wrong_method(api):
    assert_error(api.get("/api/ask"), 405)


BAD_SEARCHES = {
    "no q": {},
    "empty q": {"q": ""},
    "blank q": {"q": "   "},
    "too long q": {"q": LONG},
    "k zero": {"q": "孟買", "k": 0},
    "k too big": {"q": "孟買", "k": 1000},
    "k not a number": {"q": "孟買", "k": "abc"},
    "k negative": {"q": "孟買", "k": -3},
    "unknown retriever": {"q": "孟買", "retriever": "magic"},
}


@pytest.mark.parametrize("params", BAD_SEARCHES.values(), ids=BAD_SEARCHES.keys())
def test_search_rejects_bad_input(api, params):
    assert_error(api.get("/api/search", params=params), 400, 422)


def test_no_cors_by_default(api):
    r = api.post("/api/ask", json={"question": "台北101有多高？"}, headers={"Origin": ALLOWED})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    pre = api.options(
        "/api/ask", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in pre.headers


def test_gradio_client_gets_the_answer_object(server):
    from gradio_client import Client

    client = Client(server + "/", verbose=False, analytics_enabled=False, download_files=False)
    question = "<img src=x onerror=alert(1)>台北101有多高？"
    got = client.predict(question, api_name="/ask")
    assert got["question"] == question and set(got) >= ANSWER_KEYS and isinstance(got["citations"], list)


# The keys the brief promises other tools; the response models may add fields, never drop these.
STABLE_HIT_KEYS = {"id", "section", "label", "text", "score", "source", "start", "end"}
STABLE_ANSWER_KEYS = {"question", "answer", "grounded", "citations", "outcome", "confidence"}


def test_the_models_keep_the_stable_keys_and_describe_every_answer(fake_engine):
    """The HTTP models are the contract: every ``to_dict`` fits them, with no key they do not name."""
    from citeqa.ui.api.routes import AnswerOut, HitOut

    assert {k for k, f in HitOut.model_fields.items() if f.is_required()} >= STABLE_HIT_KEYS
    assert {k for k, f in AnswerOut.model_fields.items() if f.is_required()} >= STABLE_ANSWER_KEYS
    plain = fake_engine.ask("駐孟買辦事處何時揭牌？")
    follow = fake_engine.ask("那荷蘭呢？", previous="駐孟買辦事處何時揭牌？")
    greeting = fake_engine.ask("你好")
    for a in (plain, follow, greeting):
        AnswerOut.model_validate(a.to_dict())  # extra="forbid": a key the model lacks fails here
    assert "resolved" in follow.to_dict() and "resolved" in AnswerOut.model_fields
    with pytest.raises(ValueError, match="extra"):
        AnswerOut.model_validate({**plain.to_dict(), "unexpected": 1})
