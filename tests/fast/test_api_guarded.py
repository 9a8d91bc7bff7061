"""The web app behind a proxy sub-path, with an access token and one CORS origin: the fake engine in process.

A real uvicorn on 127.0.0.1 for the HTTP-level checks, Starlette's TestClient for the cookie jar.
The real model behind the same settings answers in tests/model/test_real_api.py and the browser tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import ALLOWED, ANSWER_KEYS, PREFIX, TOKEN, assert_error, live_server

BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def guarded(fake_engine) -> Iterator[str]:
    """Served under PREFIX with TOKEN required and ALLOWED as the one CORS origin; yields base + PREFIX."""
    settings = ServeSettings(access_token=TOKEN, root_path=PREFIX, cors_origins=(ALLOWED,))
    with live_server(create_app(fake_engine, settings)) as base:
        yield base + PREFIX


def test_token_required_on_api_and_ui(guarded):
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
    r = httpx.post(f"{guarded}/api/ask", json=question, headers=BEARER, timeout=30)
    assert r.status_code == 200 and set(r.json()) == ANSWER_KEYS
    assert httpx.get(f"{guarded}/healthz").status_code == 200  # probes need no token


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


def test_root_path(guarded):
    docs = httpx.get(f"{guarded}/docs", headers=BEARER)
    assert docs.status_code == 200 and f"{PREFIX}/openapi.json" in docs.text
    assert httpx.get(f"{guarded}/openapi.json", headers=BEARER).status_code == 200
    embed = httpx.get(f"{guarded}/embed", headers=BEARER).text
    assert f"{guarded}/static/gradio/gradio.js" in embed and f"{guarded}/api/ask" in embed
    demo = httpx.get(f"{guarded}/embed/demo/js", headers=BEARER).text
    assert f'"{PREFIX}/api/ask"' in demo
    js = httpx.get(f"{guarded}/static/gradio/gradio.js", headers=BEARER)
    assert js.status_code == 200 and "import" in js.text
    config = httpx.get(f"{guarded}/config", headers=BEARER, timeout=30).json()
    assert config["root"].rstrip("/").endswith(PREFIX)
    # A proxy that strips the prefix forwards "/api/ask": the same app answers it.
    stripped = guarded.removesuffix(PREFIX)
    assert httpx.get(f"{stripped}/healthz").json()["status"] == "ok"
    r = httpx.post(f"{stripped}/api/ask", json={"question": "台北101有多高？"}, headers=BEARER, timeout=30)
    assert r.status_code == 200 and set(r.json()) == ANSWER_KEYS


def test_cors_only_for_allowed_origin(guarded):
    ok = httpx.get(f"{guarded}/api/search", params={"q": "孟買"}, headers={**BEARER, "Origin": ALLOWED})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
    other = httpx.get(f"{guarded}/api/search", params={"q": "孟買"}, headers={**BEARER, "Origin": "http://evil.example"})
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


# --- Starlette's TestClient (Host "testserver"): the cookie jar and the body limit --------------------


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
        assert ok.status_code == 200 and set(ok.json()) == ANSWER_KEYS
