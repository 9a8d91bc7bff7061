"""The web app under attack (probe F1, F4-F8, F10, F12, F15): a real server on 127.0.0.1, the fake engine.

Each test reproduces a finding of the probe of d7b5632 with the request the probe sent.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

import httpx
import pytest

from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import live_server

TOKEN = "s3cret-token"
UTOKEN = "密碼s3cret"


@pytest.fixture(scope="module")
def open_server(fake_engine):
    with live_server(create_app(fake_engine, ServeSettings())) as base:
        yield base


@pytest.fixture(scope="module")
def token_server(fake_engine):
    with live_server(create_app(fake_engine, ServeSettings(access_token=UTOKEN))) as base:
        yield base


def _call(base: str, data: list, headers: dict | None = None) -> str:
    """POST /gradio_api/call/ask, then read its event stream; returns the stream's text."""
    with httpx.Client(base_url=base, timeout=30, headers=headers) as c:
        r = c.post("/gradio_api/call/ask", json={"data": data})
        if r.status_code != 200:
            return r.text
        event = r.json()["event_id"]
        return c.get(f"/gradio_api/call/ask/{event}").text


def _file_message(path: Path) -> dict:
    file = {"path": str(path), "meta": {"_type": "gradio.FileData"}}
    return {"role": "user", "content": [{"type": "file", "file": file}]}


def test_chat_never_serves_a_file_the_client_names(open_server, tmp_path):
    """F1: a file-typed history item made Gradio copy any server file into its cache and serve it."""
    secret = tmp_path / "secret.txt"
    canary = f"CANARY-{secrets.token_hex(8)}"
    secret.write_text(canary)
    os.chmod(secret, 0o600)
    payloads = [
        ["x", [_file_message(secret)], ""],  # the probe's exact payload (question, history, anchor)
        ["x", [_file_message(secret)]],
        [{"path": str(secret), "meta": {"_type": "gradio.FileData"}}, None],
        ["駐孟買辦事處何時揭牌？", {"messages": [_file_message(secret)], "anchor": ""}],
    ]
    for data in payloads:
        text = _call(open_server, data)
        assert canary not in text
        for url in {u for u in _urls(text) if "file=" in u}:
            assert canary not in httpx.get(url, timeout=10).text
    with httpx.Client(base_url=open_server, timeout=10) as c:
        for path in (f"/gradio_api/file={secret}", "/gradio_api/file=/etc/passwd", f"/file={secret}",
                     f"/gradio_api/file/{secret}"):
            r = c.get(path)
            assert r.status_code in (403, 404) and canary not in r.text and "root:" not in r.text
            assert "error" in r.json()


def _urls(text: str) -> list[str]:
    import re

    return re.findall(r'"url":\s*"([^"]+)"', text)


def test_chat_api_takes_the_question_only(open_server):
    """Gradio's "/ask" endpoint takes a question and returns the answer object (as POST /api/ask); no history."""
    text = _call(open_server, ["駐孟買辦事處何時揭牌？"])
    assert "event: complete" in text and '"citations"' in text and '"grounded"' in text


def test_uploads_and_unused_gradio_routes_are_refused(open_server):
    """F5: a 200 MB upload was stored and served back; Gradio's other routes are closed too."""
    with httpx.Client(base_url=open_server, timeout=10) as c:
        r = c.post("/gradio_api/upload", files={"files": ("a.html", b"<script>x</script>")})
        assert r.status_code == 403 and "error" in r.json()
        for method, path in [("GET", "/gradio_api/upload_progress"), ("GET", "/proxy=http://127.0.0.1/"),
                             ("GET", "/gradio_api/proxy=http://127.0.0.1/"), ("POST", "/gradio_api/process_recording"),
                             ("GET", "/monitoring"), ("POST", "/gradio_api/run/ask"), ("GET", "/nonexistent")]:
            r = c.request(method, path)
            assert r.status_code in (403, 404), (method, path, r.status_code)
            assert r.json()["error"], (method, path)


def test_every_route_has_a_body_limit(fake_engine):
    """F5: a 31 MB chat call was accepted (+290 MB of memory); the limit covered /api/ only."""
    app = create_app(fake_engine, ServeSettings(max_body_bytes=4096))
    history = [{"role": "user", "content": [{"type": "text", "text": "x" * 1000}]}] * 50
    with live_server(app) as base:
        r = httpx.post(f"{base}/gradio_api/call/ask", json={"data": ["q", history, ""]}, timeout=10)
        assert r.status_code == 413 and "limit" in r.json()["error"]
        r = httpx.post(f"{base}/gradio_api/queue/join", content=b"{" + b" " * 10_000 + b"}",
                       headers={"content-type": "application/json"}, timeout=10)
        assert r.status_code == 413
    assert app.state.chat._queue.max_size == ServeSettings().queue_size


def test_host_header_allow_list_stops_dns_rebinding(open_server):
    """F6/F8: any Host was accepted, so a web page could reach a loopback server by DNS rebinding."""
    with httpx.Client(base_url=open_server, timeout=10) as c:
        r = c.get("/api/search", params={"q": "孟買"}, headers={"Host": "rebind.attacker.example:7861"})
        assert r.status_code == 400 and "CITEQA_ALLOWED_HOSTS" in r.json()["error"]
        r = _call(open_server, ["x"], headers={"Host": "rebind.attacker.example"})
        assert "CITEQA_ALLOWED_HOSTS" in r
        for host in ("localhost", "127.0.0.1", "LOCALHOST:80"):
            assert c.get("/healthz", headers={"Host": host}).status_code == 200


def test_forwarded_host_is_ignored_unless_from_a_trusted_proxy(fake_engine, open_server):
    """F6: the web-component demo loaded its script from whatever host X-Forwarded-Host named."""
    with httpx.Client(base_url=open_server, timeout=10) as c:
        demo = c.get("/embed/demo/webcomponent", headers={"X-Forwarded-Host": "evil.example"}).text
        embed = c.get("/embed", headers={"X-Forwarded-Host": "evil.example"}).text
    assert "evil.example" not in demo and "evil.example" not in embed
    assert 'src="/static/gradio/gradio.js"' in demo  # root-relative: no header decides where it loads from
    proxied = ServeSettings(allowed_hosts=("127.0.0.1", "qa.intranet.lan"), trusted_proxies=("127.0.0.1",))
    with live_server(create_app(fake_engine, proxied)) as base, httpx.Client(base_url=base, timeout=10) as c:
        page = c.get("/embed", headers={"X-Forwarded-Host": "qa.intranet.lan", "X-Forwarded-Proto": "https"}).text
        assert "https://qa.intranet.lan/static/gradio/gradio.js" in page
        r = c.get("/embed", headers={"X-Forwarded-Host": "evil.example"})
        assert r.status_code == 400


def test_token_in_the_url_is_redirected_away_and_never_logged(token_server, caplog):
    """F4: `?token=` stayed in the address bar and in every access-log line."""
    from urllib.parse import quote

    from citeqa.ui.server.redact import redact_secrets_in_logs

    with httpx.Client(base_url=token_server, timeout=10) as c:
        r = c.get(f"/embed?token={quote(UTOKEN)}&x=1", headers={"Accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == "/embed?x=1"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and quote(UTOKEN) not in cookie
        assert c.get("/embed?x=1").status_code == 200  # the cookie now carries the access
    redact_secrets_in_logs()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET",
                                                 "/?a=1&token=s3cret&b=2", "1.1", 200)
    assert "s3cret" not in caplog.text and "token=[redacted]&b=2" in caplog.text


def test_non_ascii_token_and_foreign_cookies(token_server):
    """F7/F12: a Chinese token gave a 500 on ?token= and never matched a Bearer header; another app's
    cookie before ours locked users out."""
    with httpx.Client(base_url=token_server, timeout=10) as c:
        r = c.get("/api/search", params={"q": "孟買", "token": UTOKEN})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].split(";")[0]
    with httpx.Client(base_url=token_server, timeout=10) as c:  # no cookie
        bearer = {"Authorization": b"Bearer " + UTOKEN.encode("utf-8")}
        assert c.get("/api/search", params={"q": "孟買"}, headers=bearer).status_code == 200
        assert c.get("/api/search", params={"q": "孟買"}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    for jar in (f'session={{"a":1}}; {cookie}', f"x=a b; {cookie}", f"{cookie}; session={{\"a\":1}}"):
        r = httpx.get(f"{token_server}/api/search", params={"q": "孟買"}, headers={"Cookie": jar}, timeout=10)
        assert r.status_code == 200, jar
    raw = {"Cookie": ("citeqa_token=" + UTOKEN).encode()}
    r = httpx.get(f"{token_server}/api/search", params={"q": "孟買"}, headers=raw, timeout=10)
    assert r.status_code in (400, 401)  # the raw token is not the cookie


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "words"),
    [
        ("POST", "/api/search?q=x", {}, 405, "GET"),
        ("HEAD", "/api/ask", {}, 405, None),
        ("GET", "/api/nonexistent", {}, 404, "/api/nonexistent"),
        ("POST", "/api/ask", {"content": b'{"question":"x"}', "headers": {"content-type": "text/plain"}}, 415,
         "application/json"),
        ("POST", "/api/ask", {"content": b'{"question":"\xff\xfe"}', "headers": {"content-type": "application/json"}},
         400, "not valid JSON"),
        ("GET", "/api/search?q=", {}, 400, "query is empty"),
        ("GET", "/no/such/page", {}, 404, None),
    ],
)
def test_every_http_error_is_an_error_object(open_server, method, path, kwargs, status, words):
    """F10/F15: errors outside /api/ask came back as {"detail"}; POST /api/search was a 404."""
    r = httpx.request(method, open_server + path, timeout=10, **kwargs)
    assert r.status_code == status, r.text
    if method != "HEAD":
        body = r.json()
        assert isinstance(body["error"], str) and body["error"]
        if words:
            assert words in body["error"]
    if status == 405:
        assert r.headers["allow"]


def test_queue_is_capped_per_settings(fake_engine):
    app = create_app(fake_engine, ServeSettings(queue_size=3))
    assert app.state.chat._queue.max_size == 3


def test_settings_of_the_web_layer_from_env():
    s = ServeSettings.from_env({"CITEQA_ALLOWED_HOSTS": " QA.lan ,*", "CITEQA_TRUSTED_PROXIES": "10.0.0.1",
                                "CITEQA_QUEUE_SIZE": "9"})
    assert s.allowed_hosts == ("qa.lan", "*") and s.trusted_proxies == ("10.0.0.1",) and s.queue_size == 9
    assert ServeSettings(host="0.0.0.0").hosts()[:3] == ("localhost", "127.0.0.1", "::1")
    from citeqa.errors import InputError

    with pytest.raises(InputError):
        ServeSettings.from_env({"CITEQA_QUEUE_SIZE": "0"})


def test_docs_json_is_shaped(open_server):
    body = json.loads(httpx.get(f"{open_server}/openapi.json", timeout=10).text)
    assert "/api/ask" in body["paths"] and "415" in body["paths"]["/api/ask"]["post"]["responses"]


def test_a_call_naming_no_chat_event_is_refused_with_an_error_object(fake_engine, caplog):
    """A Gradio call to an event the chat does not have was a bare "Internal Server Error" and a traceback;
    so was a click on an example without the item clicked."""
    app = create_app(fake_engine, ServeSettings())
    fns = app.state.chat.fns.values()
    load = next(fn._id for fn in fns if not fn.queue)  # the page's load: the one event off the queue
    queued = next(fn._id for fn in fns if fn.queue and fn.api_visibility == "private")
    # An example clicked: the event needs what was clicked (Gradio failed inside it, with a traceback).
    select = next(fn._id for fn in fns if any(name == "example_select" for _, name in fn.targets))
    bad = [
        ("/gradio_api/queue/join", {"data": ["x"], "fn_index": 99, "session_hash": "s"}, 400),
        ("/gradio_api/queue/join", {"data": ["x"], "fn_index": -1, "session_hash": "s"}, 400),
        ("/gradio_api/queue/join", {"data": ["x"], "fn_index": True, "session_hash": "s"}, 400),
        ("/gradio_api/queue/join", {"data": ["x"], "fn_index": [1], "session_hash": "s"}, 400),
        ("/gradio_api/run/predict", {"data": ["x"], "session_hash": "s"}, 400),
        ("/gradio_api/run/predict", {"data": ["x"], "fn_index": "１", "session_hash": "s"}, 400),
        ("/gradio_api/run/predict", {"data": ["x", ""], "fn_index": queued, "session_hash": "s"}, 404),
        *[("/gradio_api/queue/join", {"data": [""], "fn_index": select, "event_data": item, "session_hash": "s"}, 400)
          for item in (None, "x", [0], {"value": {"text": "台北101有多高？"}})],
        ("/gradio_api/call/nonexistent", {"data": ["x"]}, 404),
        ("/gradio_api/call/ask_api", {"data": ["x"]}, 404),
        ("/gradio_api/run/ask", {"data": ["x"]}, 404),
    ]
    with caplog.at_level(logging.ERROR), live_server(app) as base, httpx.Client(base_url=base, timeout=10) as c:
        for path, body, status in bad:
            r = c.post(path, json=body)
            assert r.status_code == status, (path, body, r.text)
            assert r.json()["error"], (path, body)
        r = c.post("/gradio_api/run/predict", json={"data": [""], "fn_index": load, "session_hash": "s"})
        assert r.status_code == 200 and len(r.json()["data"]) == 3  # conversation, sources, its id
        clicked = {"index": 0, "value": {"text": "台北101有多高？"}}  # what the page sends
        r = c.post("/gradio_api/queue/join", json={"data": [""], "fn_index": select, "event_data": clicked,
                                                   "session_hash": "s"})
        assert r.status_code == 200 and r.json()["event_id"]
    assert not [rec for rec in caplog.records if rec.exc_info], "a refused call left a traceback"


def test_an_unhandled_exception_is_a_logged_500_error_object(caplog):
    """Whatever slips past every handler still answers ``{"error"}``, and its traceback goes to the log."""
    from starlette.testclient import TestClient

    from citeqa.ui.middleware.firewall import ErrorShapeMiddleware

    async def broken(scope, receive, send):
        raise KeyError(99)

    with caplog.at_level(logging.ERROR):
        r = TestClient(ErrorShapeMiddleware(broken)).post("/gradio_api/queue/join", json={})
    assert r.status_code == 500 and "log" in r.json()["error"]
    assert any(rec.exc_info and rec.exc_info[0] is KeyError for rec in caplog.records)
