"""The web app: REST contract, input validation, token, root path, CORS and the Gradio chat endpoint.

Most tests run against a real ``citeqa serve`` subprocess on 127.0.0.1 with the real model; the cheap
checks of the middlewares use ``create_app`` in-process with the fake engine.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from citeqa.ui.app import create_app
from citeqa.ui.config import ServeSettings, normalize_root_path, parse_origins
from citeqa.ui.render import highlighted

REPO = Path(__file__).resolve().parents[1]
TOKEN = "s3cret-token"
PREFIX = "/citeqa"
ALLOWED = "http://intranet.example"
HIT_KEYS = {"id", "section", "label", "text", "score", "source", "start", "end"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def run_server(env: dict[str, str], *args: str, prefix: str = "", timeout: float = 180) -> Iterator[str]:
    """Start ``citeqa serve`` on a free port, wait for /healthz, yield its base URL, stop it."""
    port = free_port()
    log = REPO / "test-artifacts"
    log.mkdir(exist_ok=True)
    out = open(log / f"serve-{port}.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "citeqa", "serve", "--port", str(port), "--log-level", "warning", *args],
        env=env, stdout=out, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}{prefix}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"citeqa serve exited with {proc.returncode}; see {out.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"citeqa serve did not answer /healthz in {timeout:.0f} s; see {out.name}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


@pytest.fixture(scope="module")
def server(real_env) -> Iterator[str]:
    """Default settings: no token, no CORS origins, served at "/"."""
    env = {k: v for k, v in real_env.items() if k not in ("CITEQA_ACCESS_TOKEN", "CITEQA_CORS_ORIGINS")}
    with run_server(env) as base:
        yield base


@pytest.fixture(scope="module")
def guarded(real_env) -> Iterator[str]:
    """Behind a proxy sub-path, with an access token and one allowed CORS origin."""
    env = {**real_env, "CITEQA_ACCESS_TOKEN": TOKEN, "CITEQA_CORS_ORIGINS": ALLOWED}
    with run_server(env, "--root-path", PREFIX, prefix=PREFIX) as base:
        yield base


@pytest.fixture(scope="module")
def api(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


def assert_error(r: httpx.Response, *statuses: int) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if statuses:
        assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body


def assert_hit(h: dict) -> None:
    assert set(h) >= HIT_KEYS, h.keys()
    assert isinstance(h["section"], list) and all(isinstance(s, str) for s in h["section"])
    assert isinstance(h["score"], float)
    assert isinstance(h["start"], int) and isinstance(h["end"], int) and h["start"] < h["end"]
    assert h["text"] and h["label"] and h["source"]


# --- the real server -------------------------------------------------------------------------------


@pytest.mark.slow
def test_healthz(api):
    r = api.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert isinstance(body["passages"], int) and body["passages"] > 0
    assert isinstance(body["model"], str) and body["model"]


@pytest.mark.slow
def test_ask_contract_and_cited_quote(api):
    r = api.post("/api/ask", json={"question": "拜登政府宣布對台軍售幾次？"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"question", "answer", "grounded", "citations"}
    assert body["question"] == "拜登政府宣布對台軍售幾次？"
    assert body["grounded"] is True
    assert "19" in body["answer"] and "[1]" in body["answer"]
    first = body["citations"][0]
    assert_hit(first)
    qs, qe = first["quote_start"], first["quote_end"]
    assert 0 <= qs < qe <= len(first["text"])
    assert first["text"][qs:qe] in body["answer"]


@pytest.mark.slow
def test_ask_not_in_document(api):
    r = api.post("/api/ask", json={"question": "台北101有多高？", "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grounded"] is False
    assert len(body["citations"]) <= 3
    assert "[1]" not in body["answer"]


@pytest.mark.slow
def test_ask_accepts_previous_question(api):
    r = api.post("/api/ask", json={"question": "那荷蘭呢？", "previous": "駐孟買辦事處何時揭牌？"})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"question", "answer", "grounded", "citations"}


@pytest.mark.slow
def test_search_contract(api):
    r = api.get("/api/search", params={"q": "駐孟買辦事處", "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"query", "hits"} and body["query"] == "駐孟買辦事處"
    assert 1 <= len(body["hits"]) <= 3
    for h in body["hits"]:
        assert_hit(h)
    assert "孟買" in body["hits"][0]["text"]


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("body", BAD_ASKS.values(), ids=BAD_ASKS.keys())
def test_ask_rejects_bad_input(api, body):
    assert_error(api.post("/api/ask", json=body), 400, 422)


@pytest.mark.slow
@pytest.mark.parametrize(
    "content",
    [b"{", b'{"question": "x",}', b"\xff\xfe", b""],
    ids=["truncated", "trailing comma", "not utf-8", "empty"],
)
def test_ask_rejects_malformed_json(api, content):
    r = api.post("/api/ask", content=content, headers={"content-type": "application/json"})
    assert_error(r, 400, 422)


@pytest.mark.slow
def test_ask_rejects_huge_body_by_content_length(api):
    r = api.post("/api/ask", json={"question": "拜登" * 40_000})
    assert_error(r, 413)


@pytest.mark.slow
def test_ask_rejects_huge_body_by_actual_size(api):
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked, counted as it arrives
        yield b'{"question": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    r = api.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_error(r, 413)


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("params", BAD_SEARCHES.values(), ids=BAD_SEARCHES.keys())
def test_search_rejects_bad_input(api, params):
    assert_error(api.get("/api/search", params=params), 400, 422)


@pytest.mark.slow
def test_no_cors_by_default(api):
    r = api.post("/api/ask", json={"question": "台北101有多高？"}, headers={"Origin": ALLOWED})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    pre = api.options(
        "/api/ask", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in pre.headers


@pytest.mark.slow
def test_chat_endpoint_with_gradio_client(server):
    from gradio_client import Client

    client = Client(server + "/", verbose=False, analytics_enabled=False, download_files=False)
    box, history, sources, status = client.predict("拜登政府宣布對台軍售幾次？", api_name="/ask")
    assert box == "" and status == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    answer = json.dumps(history[-1]["content"], ensure_ascii=False)
    assert "19" in answer and 'href=\\"#citeqa-src-1-1\\"' in answer
    assert "<mark>" in sources and "堅定挺台" in sources and "mofa-2024-review" in sources


@pytest.mark.slow
def test_chat_endpoint_escapes_the_question(server):
    from gradio_client import Client

    client = Client(server + "/", verbose=False, analytics_enabled=False, download_files=False)
    _, history, _, _ = client.predict("<img src=x onerror=alert(1)>台北101有多高？", api_name="/ask")
    shown = json.dumps(history[0]["content"], ensure_ascii=False)
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown and "<img" not in shown
    assert history[1]["role"] == "assistant" and "citeqa-answer" in json.dumps(history[1]["content"])


# --- the real server behind a sub-path, with a token and one CORS origin -----------------------------


@pytest.mark.slow
def test_token_required_on_api_and_ui(guarded):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert_error(httpx.post(f"{guarded}/api/ask", json={"question": "拜登"}), 401)
    pages = ("/", "/config", "/gradio_api/info", "/embed", "/docs", "/static/gradio/gradio.js")
    for path in ("/api/search?q=孟買", *pages):
        r = httpx.get(guarded + path)
        assert_error(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
    for wrong in ("Bearer nope", TOKEN, f"Basic {TOKEN}"):
        r = httpx.post(f"{guarded}/api/ask", json={"question": "拜登"}, headers={"Authorization": wrong})
        assert_error(r, 401)
    question = {"question": "拜登政府宣布對台軍售幾次？"}
    r = httpx.post(f"{guarded}/api/ask", json=question, headers=bearer, timeout=60)
    assert r.status_code == 200 and "19" in r.json()["answer"]
    assert httpx.get(f"{guarded}/healthz").status_code == 200  # probes need no token


@pytest.mark.slow
def test_token_query_sets_cookie_for_the_browser(guarded):
    with httpx.Client(timeout=30) as browser:
        page = browser.get(f"{guarded}/?token={TOKEN}")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert "citeqa_token" in page.headers["set-cookie"] and "HttpOnly" in page.headers["set-cookie"]
        # The page's own calls carry only the cookie.
        assert browser.get(f"{guarded}/gradio_api/info").status_code == 200
        assert browser.get(f"{guarded}/embed").status_code == 200
        # A page opened by a browser is sent on without the token in its address.
        r = browser.get(f"{guarded}/embed?token={TOKEN}", headers={"Accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == f"{PREFIX}/embed"


@pytest.mark.slow
def test_root_path(guarded):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    docs = httpx.get(f"{guarded}/docs", headers=bearer)
    assert docs.status_code == 200 and f"{PREFIX}/openapi.json" in docs.text
    assert httpx.get(f"{guarded}/openapi.json", headers=bearer).status_code == 200
    embed = httpx.get(f"{guarded}/embed", headers=bearer).text
    assert f"{guarded}/static/gradio/gradio.js" in embed and f"{guarded}/api/ask" in embed
    demo = httpx.get(f"{guarded}/embed/demo/js", headers=bearer).text
    assert f'"{PREFIX}/api/ask"' in demo
    js = httpx.get(f"{guarded}/static/gradio/gradio.js", headers=bearer)
    assert js.status_code == 200 and "import" in js.text
    config = httpx.get(f"{guarded}/config", headers=bearer, timeout=30).json()
    assert config["root"].rstrip("/").endswith(PREFIX)
    # A proxy that strips the prefix forwards "/api/ask": the same app answers it.
    stripped = guarded.removesuffix(PREFIX)
    assert httpx.get(f"{stripped}/healthz").json()["status"] == "ok"
    r = httpx.post(f"{stripped}/api/ask", json={"question": "台北101有多高？"}, headers=bearer, timeout=60)
    assert r.status_code == 200 and r.json()["grounded"] is False


@pytest.mark.slow
def test_cors_only_for_allowed_origin(guarded):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    ok = httpx.get(f"{guarded}/api/search", params={"q": "孟買"}, headers={**bearer, "Origin": ALLOWED})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
    other = httpx.get(f"{guarded}/api/search", params={"q": "孟買"}, headers={**bearer, "Origin": "http://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    pre = httpx.options(
        f"{guarded}/api/ask",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ALLOWED
    evil = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    bad = httpx.options(f"{guarded}/api/ask", headers=evil)
    assert "access-control-allow-origin" not in bad.headers


@pytest.mark.slow
def test_gradio_client_with_token(guarded):
    from gradio_client import Client

    client = Client(
        guarded + "/", verbose=False, analytics_enabled=False, download_files=False,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    _, history, _, _ = client.predict("駐孟買辦事處何時揭牌？", api_name="/ask")
    assert "10 月" in json.dumps(history[-1]["content"], ensure_ascii=False)


# --- in process, fake engine: the middlewares and settings ----------------------------------------


@pytest.fixture(scope="module")
def fake_app(fake_engine):
    settings = ServeSettings(access_token=TOKEN, max_body_bytes=2048, root_path="/p", cors_origins=(ALLOWED,),
                             allowed_hosts=("testserver",))
    return create_app(fake_engine, settings)


def test_fake_token_sources(fake_app):
    with TestClient(fake_app) as c:
        assert_error(c.get("/p/api/search", params={"q": "孟買"}), 401)
        lower = {"Authorization": f"bearer {TOKEN}"}  # the scheme is case-insensitive
        assert c.get("/p/api/search", params={"q": "孟買"}, headers=lower).status_code == 200
        r = c.get("/p/embed", params={"token": TOKEN})
        assert r.status_code == 200 and "Path=/p" in r.headers["set-cookie"]
        assert c.get("/p/api/search", params={"q": "孟買"}).status_code == 200  # by the cookie it set
        c.cookies.clear()
        c.cookies.set("citeqa_token", TOKEN)  # the cookie holds a digest, not the token
        assert_error(c.get("/p/api/search", params={"q": "孟買"}), 401)
        c.cookies.set("citeqa_token", "wrong")
        assert_error(c.get("/p/api/search", params={"q": "孟買"}), 401)
        c.cookies.clear()
        assert_error(c.get("/p/api/search", params={"q": "孟買", "token": "wrong"}), 401)


def test_fake_body_limit(fake_app):
    with TestClient(fake_app) as c:
        bearer = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
        assert_error(c.post("/p/api/ask", content=json.dumps({"question": "x" * 3000}), headers=bearer), 413)
        assert_error(c.post("/p/api/ask", content=b"{}", headers={**bearer, "content-length": "abc"}), 400)
        r = c.post("/p/api/ask", content=iter([b'{"question": "', b"y" * 3000, b'"}']), headers=bearer)
        assert_error(r, 413)
        ok = c.post("/p/api/ask", json={"question": "駐孟買辦事處何時揭牌？"}, headers=bearer)
        assert ok.status_code == 200 and set(ok.json()) == {"question", "answer", "grounded", "citations"}


def test_serve_settings_from_env():
    s = ServeSettings.from_env(
        {
            "CITEQA_CORS_ORIGINS": " http://a.lan/ ,,http://b.lan",
            "CITEQA_ACCESS_TOKEN": " t ",
            "CITEQA_MAX_BODY_BYTES": "4096",
        },
        root_path="sub/",
    )
    assert s.cors_origins == ("http://a.lan", "http://b.lan") and s.access_token == "t"
    assert s.max_body_bytes == 4096 and s.root_path == "/sub"
    assert ServeSettings.from_env({}).cors_origins == () and ServeSettings.from_env({}).access_token == ""
    assert parse_origins("") == () and normalize_root_path("/") == ""
    from citeqa.errors import InputError

    with pytest.raises(InputError):
        ServeSettings.from_env({"CITEQA_MAX_BODY_BYTES": "lots"})
    with pytest.raises(InputError):
        normalize_root_path("/a?b")


def test_highlight_escapes_and_marks():
    assert highlighted("<b>19</b> 度", 3, 5) == "&lt;b&gt;<mark>19</mark>&lt;/b&gt; 度"
    assert highlighted("a&b", None, None) == "a&amp;b"
    assert highlighted("abc", 2, 99) == "abc"


class RecordingEngine:
    """Stands in for Engine in the chat handler: records what ``ask`` was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def ask(self, question, k=None, *, previous=None):
        from citeqa.qa.query import clean_query
        from citeqa.qa.types import Answer

        self.calls.append((question, previous))
        clean_query(question, 1000)  # the engine's own refusals, with their fields

        return Answer(question, f"<b>答</b>{len(self.calls)}", True, ())


@pytest.mark.filterwarnings("ignore:問題無法處理")  # gr.Warning outside a request falls back to warnings.warn
def test_chat_passes_previous_question_to_follow_ups():
    from citeqa.ui.chat import Conversation, respond

    engine = RecordingEngine()
    box, messages, conv, _, status = respond(engine, "駐孟買辦事處何時揭牌？", Conversation())
    assert engine.calls[-1] == ("駐孟買辦事處何時揭牌？", None) and conv.anchor == "駐孟買辦事處何時揭牌？"
    assert box == "" and status == "" and "&lt;b&gt;答&lt;/b&gt;1" in messages[-1]["content"]
    _, messages, conv, _, _ = respond(engine, "那荷蘭呢？", conv)
    assert engine.calls[-1] == ("那荷蘭呢？", "駐孟買辦事處何時揭牌？")
    _, messages, conv, _, _ = respond(engine, "那日本呢？", conv)
    assert engine.calls[-1] == ("那日本呢？", "駐孟買辦事處何時揭牌？")  # a chain leans on the same anchor
    box, kept, same, _, status = respond(engine, "   ", conv)
    assert box == "   " and kept == list(conv.messages) and same == conv and len(kept) == 6
    assert "問題無法處理" in status and "請先輸入問題" in status
    status = respond(engine, "問" * 1001, conv)[-1]
    assert "1,001" in status and "上限是 1,000" in status
    # Whatever a client hands in as state, only the server's own conversation is rendered.
    _, messages, conv, _, _ = respond(engine, "x", [{"role": "user", "content": {"path": "/etc/passwd"}}])
    assert len(messages) == 2 and "/etc/passwd" not in str(messages)
