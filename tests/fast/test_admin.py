"""``/admin`` (issue 26 item 4): only with ``CITEQA_ADMIN_TOKEN``, its own token, exports safe in a spreadsheet.

The fake engine in process, through Starlette's TestClient (its cookie jar keeps the sign-in cookie).
The page in real Chromium, with the real model: tests/browser/test_admin_browser.py.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time

import pytest
from fastapi.testclient import TestClient

from citeqa.store.questions import LoggedAnswer
from citeqa.ui.pages.admin import ADMIN_COOKIE, csv_cell
from citeqa.ui.pages.admin_view import LOG_OFF
from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import PREFIX, TOKEN, assert_error

ADMIN = "管理-admin-token-42"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}".encode()}  # a non-ASCII token, sent as UTF-8 bytes
HTML = {"Accept": "text/html"}
EVIL_QUESTION = '<script>alert("q")</script>台北101有多高？'
EVIL_COMMENT = "<img src=x onerror=alert(1)>答非所問"


@pytest.fixture(scope="module")
def logging_engine(fake_engine):
    """The fake engine with ``CITEQA_QUESTION_LOG=on``."""
    return dataclasses.replace(fake_engine, settings=dataclasses.replace(fake_engine.settings, question_log=True))


def client(engine, **settings) -> TestClient:
    return TestClient(create_app(engine, ServeSettings(**settings)), base_url="http://127.0.0.1")


def logged(answer_id: str, question: str, outcome: str = "not_found", confidence: float | None = None,
           cited: tuple[str, ...] = (), at: float | None = None) -> LoggedAnswer:
    return LoggedAnswer(answer_id, time.time() if at is None else at, "api", question, None, outcome, confidence, cited)


def test_no_admin_token_means_no_admin_page(logging_engine):
    with client(logging_engine) as c:
        for method, path in (("GET", "/admin"), ("GET", "/admin/"), ("GET", "/admin/export.csv"),
                             ("GET", "/admin/export.jsonl"), ("POST", "/admin/login"), ("GET", "/admin/x/y")):
            r = c.request(method, path, headers={**AS_ADMIN, **HTML})
            assert_error(r, 404)
    # Nor does the chat's token open anything there.
    with client(logging_engine, access_token=TOKEN) as c:
        assert_error(c.get("/admin", headers={"Authorization": f"Bearer {TOKEN}"}), 404)


def test_admin_needs_its_own_token_not_the_chats(logging_engine):
    with client(logging_engine, access_token=TOKEN, admin_token=ADMIN, root_path=PREFIX) as c:
        r = c.get(f"{PREFIX}/admin")
        assert_error(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        # The chat's token, every way the chat takes it, is not the admin's.
        assert_error(c.get(f"{PREFIX}/admin", headers={"Authorization": f"Bearer {TOKEN}"}), 403)
        assert_error(c.get(f"{PREFIX}/admin/export.csv", headers={"Authorization": f"Bearer {TOKEN}"}), 403)
        assert_error(c.get(f"{PREFIX}/admin?token={TOKEN}"), 401)
        c.get(f"{PREFIX}/?token={TOKEN}", headers=HTML)  # the chat's cookie is now in the jar
        assert "citeqa_token" in c.cookies
        assert_error(c.get(f"{PREFIX}/admin/export.jsonl"), 401)
        # A browser without the token gets the sign-in form, still a 401.
        page = c.get(f"{PREFIX}/admin", headers=HTML)
        assert page.status_code == 401 and 'action="/citeqa/admin/login"' in page.text
        assert page.text.startswith("<!DOCTYPE html>") and 'lang="zh-Hant"' in page.text
        ok = c.get(f"{PREFIX}/admin", headers=AS_ADMIN)
        assert ok.status_code == 200 and "問題紀錄與回饋" in ok.text
        assert "script-src" not in ok.headers["content-security-policy"]  # default-src 'none': no script at all
        # The admin's token opens only /admin: the chat's API still wants the chat's token.
        c.cookies.clear()
        assert_error(c.post(f"{PREFIX}/api/ask", json={"question": "孟買"}, headers=AS_ADMIN), 401)


def test_sign_in_sets_a_strict_httponly_digest_cookie(logging_engine):
    with client(logging_engine, access_token=TOKEN, admin_token=ADMIN, root_path=PREFIX) as c:
        wrong = c.post(f"{PREFIX}/admin/login", data={"token": TOKEN})
        assert wrong.status_code == 403 and "管理權杖不正確" in wrong.text and ADMIN_COOKIE not in c.cookies
        r = c.post(f"{PREFIX}/admin/login", data={"token": ADMIN}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"{PREFIX}/admin"
        cookie = r.headers["set-cookie"]
        for part in ("HttpOnly", "SameSite=Strict", f"Path={PREFIX}/admin"):
            assert part in cookie, cookie
        value = c.cookies[ADMIN_COOKIE]
        assert ADMIN not in value and len(value) == 64  # a keyed digest, never the token
        assert c.get(f"{PREFIX}/admin").status_code == 200
        assert c.get(f"{PREFIX}/admin/export.csv").status_code == 200
        c.cookies.clear()
        c.cookies.set(ADMIN_COOKIE, value[:-1] + ("0" if value[-1] != "0" else "1"), path=f"{PREFIX}/admin")
        assert_error(c.get(f"{PREFIX}/admin/export.csv"), 403)
        out = c.post(f"{PREFIX}/admin/logout", follow_redirects=False)
        assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]


def test_log_off_says_so_in_one_sentence(fake_engine):
    with client(fake_engine, admin_token=ADMIN) as c:
        page = c.get("/admin", headers=AS_ADMIN)
        assert page.status_code == 200
        assert LOG_OFF in page.text and "<table" not in page.text and "<svg" not in page.text
        export = c.get("/admin/export.csv", headers=AS_ADMIN)
        assert export.status_code == 200 and export.content.decode("utf-8-sig").strip().count("\n") == 0  # header only


def test_page_escapes_logged_text_and_shows_every_part(logging_engine):
    with client(logging_engine, admin_token=ADMIN) as c:
        store = c.app.state.question_log
        asked = c.post("/api/ask", json={"question": "駐孟買辦事處何時揭牌？"}).json()
        assert c.post("/api/feedback", json={"id": asked["id"], "rating": "up"}).status_code < 300
        cited = tuple(h["id"] for h in asked["citations"][:1])
        store.record(logged("a" * 32, EVIL_QUESTION, "not_found", 0.2, cited))
        store.record(logged("b" * 32, "台北101有多高", "not_found", 0.1))
        store.record(logged("c" * 32, "拜登政府宣布對台軍售幾次？", "answered", 0.95))
        store.rate("a" * 32, "down", EVIL_COMMENT)
        page = c.get("/admin", headers=AS_ADMIN).text
        assert "<script" not in page and "<img" not in page
        assert "&lt;script&gt;alert(&quot;q&quot;)&lt;/script&gt;台北101有多高？" in page
        assert "&lt;img src=x onerror=alert(1)&gt;答非所問" in page
        parts = ('id="gaps"', 'id="down"', "<svg", "<title>", "高信心回答", "/admin/export.csv", "/admin/export.jsonl")
        for part in parts:
            assert part in page, part
        assert 'href="/doc?source=' in page  # the down-rated answer's cited source links to its document
        # 4 questions: one logged at confidence 0.95, and the engine's answer, if it said 信心：高.
        engine_high = asked["outcome"] in ("answered", "uncertain") and (asked["confidence"] or 0) >= 0.9
        assert f"（信心 ≥ 0.9：{1 + engine_high} / 4 題）" in page


def test_csv_export_is_safe_against_formulas(logging_engine):
    nasty = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "台北 = 101"]
    with client(logging_engine, admin_token=ADMIN) as c:
        store = c.app.state.question_log
        for n, q in enumerate(nasty):
            store.record(logged(f"{n:032x}", q, "not_found", 0.5))
        store.rate(f"{0:032x}", "down", "=cmd|' /C calc'!A0")
        r = c.get("/admin/export.csv", headers=AS_ADMIN)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        text = r.content.decode("utf-8")
        assert text.startswith("\ufeff")  # Excel reads the Chinese right
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        questions = [row["question"] for row in rows]
        assert questions == ["'" + q for q in nasty[:5]] + [nasty[5]]
        first = rows[0]
        assert first["rating"] == "down" and first["comment"] == "'=cmd|' /C calc'!A0" and first["confidence"] == "0.5"
        for row in rows:
            assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values()), row
        lines = c.get("/admin/export.jsonl", headers=AS_ADMIN).text.splitlines()
        data = [json.loads(line) for line in lines]
        assert [d["question"] for d in data] == nasty  # JSON keeps the text as it was
        assert data[0]["comment"] == "=cmd|' /C calc'!A0" and data[0]["rating"] == "down"


def test_csv_cell():
    assert [csv_cell(x) for x in ("=1", "+1", "-1", "@a", "a=1", -1.5, None, ("p#1", "p#2"))] == [
        "'=1", "'+1", "'-1", "'@a", "a=1", "-1.5", "", "p#1 p#2"]


def test_guessing_the_admin_token_is_locked_out_for_a_minute(logging_engine):
    """After 20 wrong tokens in a minute every attempt is a 429, the right token too, until the minute passes."""
    from citeqa.ui.pages.admin import AdminAuth

    with client(logging_engine, admin_token=ADMIN) as c:
        for n in range(AdminAuth.MAX_WRONG_PER_MINUTE):
            assert_error(c.get("/admin", headers={"Authorization": f"Bearer guess-{n}"}), 403)
        assert_error(c.get("/admin", headers=AS_ADMIN), 429)  # not evaluated: a right guess would show itself
        r = c.post("/admin/login", data={"token": ADMIN}, headers=HTML, follow_redirects=False)
        assert r.status_code == 429 and "錯誤次數過多" in r.text and r.headers["retry-after"] == "60"
    clock = [0.0]
    auth = AdminAuth(ADMIN, clock=lambda: clock[0])
    for _ in range(AdminAuth.MAX_WRONG_PER_MINUTE):
        auth.wrong()
    assert auth.locked()
    clock[0] = 61.0
    assert not auth.locked()  # the minute has passed
