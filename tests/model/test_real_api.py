"""What the real model answers through the web app: the REST API, the Gradio chat endpoint, a token.

One in-process server per session (``real_server``, ``guarded_real_server`` in conftest), shared with
the browser tests. The HTTP contract and input validation never reach the model: tests/fast.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from support import ANSWER_KEYS, TOKEN, assert_cited_quote, assert_error, assert_hit, same_answer


@pytest.fixture(scope="module")
def api(real_server):
    with httpx.Client(base_url=real_server, timeout=60) as client:
        yield client


def test_healthz(api, real_engine):
    body = api.get("/healthz").json()
    assert body == {"status": "ok", "passages": 27, "model": real_engine.embedder.name}
    assert real_engine.index.passage_count == 27


def test_ask_contract_and_cited_quote(api):
    r = api.post("/api/ask", json={"question": "拜登政府宣布對台軍售幾次？"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == ANSWER_KEYS and body["question"] == "拜登政府宣布對台軍售幾次？"
    assert body["grounded"] is True
    assert "19" in body["answer"] and "[1]" in body["answer"]
    assert_cited_quote(body)


def test_ask_not_in_document(api):
    r = api.post("/api/ask", json={"question": "台北101有多高？", "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grounded"] is False
    assert len(body["citations"]) <= 3
    assert "[1]" not in body["answer"]


def test_ask_passes_previous_question_to_the_engine(api, real_engine):
    question, previous = "那荷蘭呢？", "哪些歐洲國家派軍艦通過台灣海峽？"
    r = api.post("/api/ask", json={"question": question, "previous": previous})
    assert r.status_code == 200, r.text
    assert same_answer(r.json()) == same_answer(real_engine.ask(question, previous=previous).to_dict())
    # the previous question changed the answer
    assert same_answer(r.json()) != same_answer(real_engine.ask(question).to_dict())


def test_search_contract(api):
    r = api.get("/api/search", params={"q": "駐孟買辦事處", "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"query", "hits"} and body["query"] == "駐孟買辦事處"
    assert 1 <= len(body["hits"]) <= 3
    for h in body["hits"]:
        assert_hit(h)
    assert "孟買" in body["hits"][0]["text"]


def test_chat_endpoint_with_gradio_client(real_server):
    from gradio_client import Client

    client = Client(real_server + "/", verbose=False, analytics_enabled=False, download_files=False)
    got = client.predict("拜登政府宣布對台軍售幾次？", api_name="/ask")
    # The chat's API is the answer object of /api/ask, not the page's HTML.
    assert got["grounded"] is True and "19" in got["answer"] and "[1]" in got["answer"]
    cited = got["citations"][0]
    assert "堅定挺台" in cited["label"] and cited["source"].startswith("mofa-2024-review")
    assert "19 度宣布對台軍售" in cited["text"][cited["quote_start"] : cited["quote_end"]]


def test_token_guarded_server_answers_with_the_token(guarded_real_server):
    question = {"question": "拜登政府宣布對台軍售幾次？"}
    assert_error(httpx.post(f"{guarded_real_server}/api/ask", json=question), 401)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    r = httpx.post(f"{guarded_real_server}/api/ask", json=question, headers=bearer, timeout=60)
    assert r.status_code == 200 and "19" in r.json()["answer"]


def test_gradio_client_with_token(guarded_real_server):
    from gradio_client import Client

    client = Client(
        guarded_real_server + "/", verbose=False, analytics_enabled=False, download_files=False,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    got = client.predict("駐孟買辦事處何時揭牌？", api_name="/ask")
    assert "10 月" in got["answer"]


QUESTIONS = ["駐孟買辦事處何時揭牌？", "拜登政府宣布對台軍售幾次？", "台北101有多高？", "林部長 11 月訪問了哪些國家？",
             "Which office opened in Mumbai?"]


def test_50_parallel_requests_match_sequential_answers(api):
    sequential = {q: api.post("/api/ask", json={"question": q}).json() for q in QUESTIONS}
    jobs = [QUESTIONS[i % len(QUESTIONS)] for i in range(50)]
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda q: api.post("/api/ask", json={"question": q}), jobs))
    for q, r in zip(jobs, responses, strict=True):
        assert r.status_code == 200
        got, want = r.json(), sequential[q]
        assert got["answer"] == want["answer"] and got["grounded"] == want["grounded"]
        assert [c["id"] for c in got["citations"]] == [c["id"] for c in want["citations"]]


def test_paths_in_a_question_are_just_text(api):
    """The API never reads a file the client names: a path is just a question."""
    r = api.post("/api/ask", json={"question": "/etc/passwd"})
    assert r.status_code == 200 and "root:" not in r.text
    r = api.get("/api/search", params={"q": "../../../../etc/passwd"})
    assert r.status_code == 200 and "root:" not in r.text
