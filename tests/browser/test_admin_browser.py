"""``/admin`` in real Chromium (issue 26 items 2 and 4): questions asked in the chat, one rated 👎 with a
comment, then the admin signs in and reads the gaps, the rated-down answer and the chart.

Its own server: the real engine with ``CITEQA_QUESTION_LOG=on`` and an admin token, data in a temporary
directory. Screenshots: ``test-artifacts/admin-{desktop,phone}-{light,dark}.png`` (look at them).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import httpx
import pytest
from browsing import DESKTOP, PHONE, WAIT_MS, ask, open_chat

from support import live_server

ADMIN = "admin-瀏覽器-token"
COMMENT = "想知道台北101的高度，<b>文件</b>卻沒有。"


@pytest.fixture(scope="module")
def logged_server(real_engine, tmp_path_factory) -> Iterator[str]:
    from citeqa.ui.server.app import create_app
    from citeqa.ui.server.config import ServeSettings

    engine = dataclasses.replace(real_engine, settings=dataclasses.replace(real_engine.settings, question_log=True))
    settings = ServeSettings(admin_token=ADMIN, data_dir=tmp_path_factory.mktemp("admin-data"))
    with live_server(create_app(engine, settings)) as base:
        yield base


def test_rate_down_in_the_chat_then_read_it_on_the_admin_page(new_tab, logged_server):
    base = logged_server
    tab = new_tab(DESKTOP)
    page = tab.page
    open_chat(tab, base + "/")
    ask(page, "駐孟買辦事處何時揭牌？")
    ask(page, "台北101有多高？")
    # A paraphrase through the REST API (as the widget asks): it should join the same gap.
    r = httpx.post(f"{base}/api/ask", json={"question": "台北101大樓有幾公尺高？"}, timeout=60)
    assert r.status_code == 200 and r.json()["outcome"] in ("not_found", "uncertain"), r.json()

    # 👎 on the second answer: sent at once, then a comment.
    rate = page.locator(".citeqa-rate").nth(1)
    down = rate.locator("button.citeqa-vote-down")
    assert down.get_attribute("aria-label") == "這個回答沒有幫助"
    assert rate.locator("button.citeqa-vote-up").get_attribute("aria-label") == "這個回答有幫助"
    down.click()
    note = rate.locator(".citeqa-rate-note")
    page.wait_for_function("(el) => el.textContent === '謝謝您的回饋'", arg=note.element_handle(), timeout=10_000)
    assert down.get_attribute("aria-pressed") == "true"
    assert rate.locator("button.citeqa-vote-up").get_attribute("aria-pressed") == "false"
    rate.locator(".citeqa-rate-form textarea").fill(COMMENT)
    rate.locator("button.citeqa-rate-send").click()
    rate.locator(".citeqa-rate-form").wait_for(state="detached", timeout=10_000)
    assert note.text_content() == "謝謝您的回饋"
    tab.shot("admin-chat-rated-down")

    # The admin page: the sign-in form first (a 401, expected), then the page.
    response = page.goto(base + "/admin", wait_until="load")
    assert response.status == 401 and page.locator("html").get_attribute("lang") == "zh-Hant"
    assert tab.failed == [f"401 {base}/admin"]
    tab.failed.clear()
    page.fill("#token", "wrong-token")
    page.click("button[type=submit]")
    assert "管理權杖不正確" in page.locator("[role=alert]").text_content()
    assert [f.split()[0] for f in tab.failed] == ["403"]
    tab.failed.clear()
    page.fill("#token", ADMIN)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin$"), timeout=WAIT_MS)
    page.locator("#gaps").wait_for(timeout=WAIT_MS)

    gaps = page.locator("#gaps tbody tr")
    first = gaps.first.inner_text()
    assert "台北101有多高？" in first, first
    assert gaps.first.locator("td").nth(3).inner_text().strip() == "1"  # rated down once
    down_rows = page.locator("#down tbody tr")
    assert down_rows.count() == 1
    row = down_rows.first.inner_text()
    assert COMMENT in row and "台北101有多高？" in row  # the comment as text, its <b> not markup
    assert page.locator("#down b").count() == 0
    # Three questions today: the chart's last bar says so, and its table agrees.
    titles = page.locator("svg.chart g > title").all_text_contents()
    assert titles and re.match(r"\d{4}-\d\d-\d\d：3 題（", titles[-1]), titles[-3:]
    assert page.locator("svg.chart rect[class^='f-']").count() >= 2  # answered and not found, stacked
    assert re.search(r"信心 ≥ 0\.9：\d / 3 題", page.locator("#high").inner_text())
    for link in ("/admin/export.csv", "/admin/export.jsonl"):
        assert page.locator(f"a[href='{link}']").count() == 1
    csv = page.request.get(base + "/admin/export.csv")  # the page's cookie is the key
    assert csv.status == 200 and "台北101大樓有幾公尺高？" in csv.text()
    tab.shot("admin-desktop-light")
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
    tab.shot("admin-desktop-dark")
    page.set_viewport_size(PHONE)
    small = page.locator("nav a, nav button, .days a").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [e.textContent, r.width, r.height]; })"
        ".filter(([, w, h]) => w < 44 || h < 44)"
    )
    assert not small, small
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # tables scroll in their box
    tab.shot("admin-phone-dark")
    page.emulate_media(color_scheme="light")
    tab.shot("admin-phone-light")
