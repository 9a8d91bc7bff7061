"""``POST /api/feedback`` on a real uvicorn in this process, with the fake engine and the question log on.

Validation is as strict as ``/api/ask``; an unknown id is a 404; a rating changes once (then 409);
the same rating again is accepted; with the log off every rating is a 404 that says why; with an
access token set, feedback needs it like every other API call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from citeqa.store import open_question_log
from citeqa.store.questions import DEFAULT_LOG_DAYS, MAX_COMMENT_CHARS
from citeqa.ui.api.routes import LOG_OFF
from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import TOKEN, assert_error, live_server

UNKNOWN = "0" * 32


def logging_engine(fake_engine, data_dir, on: bool = True):
    return replace(fake_engine, settings=fake_engine.settings.with_(data_dir=data_dir, question_log=on))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tmp_path_factory.mktemp("feedback-data")


@pytest.fixture(scope="module")
def api(fake_engine, data) -> Iterator[httpx.Client]:
    app = create_app(logging_engine(fake_engine, data), ServeSettings(data_dir=data))
    with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def ask(api: httpx.Client, question: str = "駐孟買辦事處何時揭牌？") -> str:
    r = api.post("/api/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def rate(api: httpx.Client, answer_id: str, rating: str, **more: object) -> httpx.Response:
    return api.post("/api/feedback", json={"id": answer_id, "rating": rating, **more})


BAD = {
    "missing id": {"rating": "up"},
    "missing rating": {"id": UNKNOWN},
    "unknown rating": {"id": UNKNOWN, "rating": "meh"},
    "rating upper case": {"id": UNKNOWN, "rating": "UP"},
    "rating number": {"id": UNKNOWN, "rating": 1},
    "rating null": {"id": UNKNOWN, "rating": None},
    "id number": {"id": 123, "rating": "up"},
    "id not hex": {"id": "not-an-answer-id", "rating": "up"},
    "id too long": {"id": "a" * 33, "rating": "up"},
    "comment number": {"id": UNKNOWN, "rating": "up", "comment": 5},
    "comment too long": {"id": UNKNOWN, "rating": "down", "comment": "字" * (MAX_COMMENT_CHARS + 1)},
    "unknown field": {"id": UNKNOWN, "rating": "up", "ip": "10.0.0.1"},
    "array body": [UNKNOWN, "up"],
    "string body": "up",
}


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
def test_bad_bodies_are_refused(api, body):
    assert_error(api.post("/api/feedback", json=body), 400, 422)


@pytest.mark.parametrize("content", [b"{", b'{"id": "x",}', b"\xff\xfe", b""],
                         ids=["truncated", "trailing comma", "not utf-8", "empty"])
def test_malformed_json_is_refused(api, content):
    assert_error(api.post("/api/feedback", content=content, headers={"content-type": "application/json"}), 400, 422)


def test_not_json_wrong_method_and_huge_bodies(api):
    form = api.post("/api/feedback", data={"id": UNKNOWN, "rating": "up"})
    assert_error(form, 415)
    assert_error(api.get("/api/feedback"), 405)
    assert_error(rate(api, UNKNOWN, "down", comment="字" * 40_000), 413)  # the body limit comes first


def test_an_unknown_id_is_a_404(api):
    r = rate(api, UNKNOWN, "up")
    assert_error(r, 404)
    assert UNKNOWN in r.json()["error"]


def test_a_rating_changes_once_and_repeats_are_accepted(api, data):
    answer_id = ask(api)
    first = rate(api, answer_id, "down", comment="沒有提到日期")
    assert (first.status_code, first.json()) == (200, {"id": answer_id, "rating": "down", "changed": 0})
    again = rate(api, answer_id, "down")
    assert (again.status_code, again.json()) == (200, {"id": answer_id, "rating": "down", "changed": 0})
    changed = rate(api, answer_id, "up", comment="字" * MAX_COMMENT_CHARS)  # exactly at the cap: accepted
    assert (changed.status_code, changed.json()) == (200, {"id": answer_id, "rating": "up", "changed": 1})
    assert rate(api, answer_id, "up").status_code == 200  # the standing rating again: idempotent
    refused = rate(api, answer_id, "down")
    assert_error(refused, 409)
    assert "changed once" in refused.json()["error"]
    store = open_question_log(data, DEFAULT_LOG_DAYS)  # what the server wrote, read back from the file
    try:
        kept = {f.answer_id: f for f in store.feedback()}[answer_id]
        assert (kept.rating, kept.changed, kept.comment) == ("up", 1, "字" * MAX_COMMENT_CHARS)
    finally:
        store.close()


def test_each_answer_is_rated_on_its_own(api):
    a, b = ask(api), ask(api)
    assert a != b
    assert rate(api, a, "up").json()["changed"] == 0
    assert rate(api, b, "down").json() == {"id": b, "rating": "down", "changed": 0}


def test_the_openapi_document_describes_feedback(api):
    spec = api.get("/openapi.json").json()
    op = spec["paths"]["/api/feedback"]["post"]
    assert {"200", "404", "409", "422"} <= set(op["responses"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["FeedbackRequest"]["properties"]) == {"id", "rating", "comment"}
    assert set(schemas["FeedbackOut"]["properties"]) == {"id", "rating", "changed"}
    assert "id" in schemas["AnswerOut"]["required"]


def test_with_the_log_off_feedback_is_a_404_that_says_why(fake_engine, tmp_path):
    app = create_app(logging_engine(fake_engine, tmp_path, on=False), ServeSettings(data_dir=tmp_path))
    with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as api:
        answer_id = ask(api)
        r = rate(api, answer_id, "up")
        assert_error(r, 404)
        assert r.json() == {"error": LOG_OFF} and "CITEQA_QUESTION_LOG=on" in LOG_OFF
        assert_error(rate(api, answer_id, "sideways"), 422)  # validation still comes first


def test_feedback_needs_the_access_token_when_one_is_set(fake_engine, tmp_path):
    app = create_app(logging_engine(fake_engine, tmp_path), ServeSettings(data_dir=tmp_path, access_token=TOKEN))
    with live_server(app) as base:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base, timeout=30, headers=auth) as api:
            answer_id = ask(api)
        with httpx.Client(base_url=base, timeout=30) as anonymous:
            assert_error(rate(anonymous, answer_id, "down"), 401)
            wrong = anonymous.post("/api/feedback", json={"id": answer_id, "rating": "down"},
                                   headers={"Authorization": "Bearer wrong"})
            assert_error(wrong, 401)
        with httpx.Client(base_url=base, timeout=30, headers=auth) as api:
            ok = rate(api, answer_id, "down")
            assert ok.status_code == 200 and ok.json()["changed"] == 0
