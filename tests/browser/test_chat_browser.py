"""The chat as people use it, at desktop (1366×900) and phone (390×844) sizes, in real Chromium.

Each test says which point of the chat it checks; ``new_tab`` fails a test whose page reached outside
127.0.0.1 (every such request is blocked and counted), threw an error, or got a 4xx/5xx response.
"""

from __future__ import annotations

import re

import httpx
import pytest
from browsing import DESKTOP, PHONE, WAIT_MS, ask, open_chat

from citeqa.ui.chat.page import BUNDLED_EXAMPLES

XSS = "<img src=x onerror=window.__xss=1>"
GRADIO_ENGLISH = ("processing", "Warning", "Use via API", "Built with Gradio", "Settings", "Clear", "Copy",
                  "Loading", "Error", "'s message", "Scroll down", "Select example")


def expected(server: str, question: str) -> dict:
    return httpx.post(f"{server}/api/ask", json={"question": question}, timeout=60).json()


# Clicks a link the moment a second answer is in the chat, then records a box every frame for 1.5 s.
TAP_AS_ANSWER_LANDS = """([link, box]) => new MutationObserver((changes, watch) => {
  if (document.querySelectorAll(".citeqa-answer").length < 2) return;
  watch.disconnect();
  document.querySelector(link).click();
  const el = document.querySelector(box), answer = el.closest(".citeqa-bubble").querySelector(".citeqa-answer");
  const frames = [], start = performance.now();
  const read = () => {
    const r = el.getBoundingClientRect();
    frames.push({top: r.top, height: r.height, gap: r.top - answer.getBoundingClientRect().bottom});
    if (performance.now() - start < 1500) requestAnimationFrame(read); else window.__citeqaFrames = frames;
  };
  read();
}).observe(document.body, {subtree: true, childList: true})"""


def in_view(locator: object) -> bool:
    """Whether the element is on screen (its first 200 px) in the next frame drawn: read in a frame
    callback, after that frame's scroll handlers, so a scroll the page undoes before drawing is not seen."""
    return bool(locator.evaluate(  # type: ignore[attr-defined]
        "el => new Promise((done) => requestAnimationFrame(() => { const r = el.getBoundingClientRect();"
        " done(r.height > 0 && r.top >= 0 && r.top + Math.min(r.height, 200) <= innerHeight); }))"
    ))


def test_desktop_earlier_answers_keep_their_sources(new_tab, server):
    """Clicking [1] of an older answer shows that answer's source in the side panel, quote highlighted;
    "回到答案" goes back. Questions sent while one is pending are answered in order."""
    first, second = expected(server, "駐孟買辦事處何時揭牌？"), expected(server, "拜登政府宣布對台軍售幾次？")
    tab = new_tab(DESKTOP)
    open_chat(tab, server + "/")
    page = tab.page
    ask(page, "駐孟買辦事處何時揭牌？", wait=False)
    ask(page, "拜登政府宣布對台軍售幾次？")  # sent while the first may still be pending
    page.locator(".citeqa-answer").nth(1).wait_for(timeout=WAIT_MS)
    answers = page.locator(".citeqa-answer").all_inner_texts()
    assert answers == [first["answer"], second["answer"]]  # both, in the order asked
    assert not re.search(r"\]\d", "".join(answers))  # a marker never runs into a number
    page.locator("#citeqa-ans-1 a.citeqa-cite").first.click()
    card = page.locator("#citeqa-sources #citeqa-src-1-1")
    page.wait_for_function("document.querySelector('#citeqa-src-1-1').classList.contains('citeqa-focus')")
    cite = first["citations"][0]
    assert card.locator("mark").inner_text() == cite["text"][cite["quote_start"] : cite["quote_end"]]
    assert in_view(card) and page.evaluate("location.hash") == ""  # the URL stays as it was
    tab.shot("desktop-earlier-source")
    card.locator("a.citeqa-back").click()
    page.wait_for_function("document.querySelector('#citeqa-ans-1').classList.contains('citeqa-focus')")
    assert in_view(page.locator("#citeqa-ans-1"))


def test_phone_sources_open_under_the_answer(new_tab, server):
    """On a phone the examples are on screen before any question, the side panel is hidden, and [n]
    opens the source right under its answer."""
    tab = new_tab(PHONE)
    open_chat(tab, server + "/")
    page = tab.page
    for example in BUNDLED_EXAMPLES:  # each one a question the document answers (UX P20: not 台北101)
        assert in_view(page.locator("#citeqa-chat").get_by_text(example, exact=True))
        assert expected(server, example)["outcome"] == "answered", example
    assert in_view(page.locator("#citeqa-question textarea"))
    tab.shot("phone-empty")
    ask(page, "拜登政府宣布對台軍售幾次？")
    # [1] of the first answer tapped the moment the second appears, the source's box read every frame
    # from then on: Gradio scrolls the chat back down after an answer lands, and a user's tap must win.
    page.evaluate(TAP_AS_ANSWER_LANDS, ["#citeqa-ans-1 a.citeqa-cite", "#citeqa-msrc-1-1"])
    ask(page, "駐孟買辦事處何時揭牌？")
    assert not page.locator("#citeqa-sources").is_visible()
    frames = page.wait_for_function("window.__citeqaFrames", timeout=10_000).json_value()
    inline = page.locator("#citeqa-msrc-1-1")
    assert inline.is_visible() and "19" in inline.locator("mark").inner_text()
    assert all(0 <= f["gap"] < 200 for f in frames)  # right under its answer
    height = page.viewport_size["height"]
    drawn_out = [f for f in frames if not (f["top"] >= 0 and f["top"] + min(f["height"], 200) <= height)]
    assert len(frames) > 10 and not drawn_out, f"the opened source was drawn out of view: {drawn_out[:3]}"
    assert in_view(inline)
    tab.shot("phone-inline-source")


def test_document_view_shows_the_paragraph_in_context(new_tab, server):
    """Each source card opens its paragraph in the whole document, highlighted and scrolled into view."""
    tab = new_tab(DESKTOP)
    open_chat(tab, server + "/")
    ask(tab.page, "駐孟買辦事處何時揭牌？")
    with tab.context.expect_page() as opened:
        tab.page.locator("#citeqa-src-1-1 a.citeqa-open").click()
    doc = opened.value
    tab.watch(doc)
    doc.wait_for_load_state("load")
    assert "/doc?source=" in doc.url and doc.evaluate("document.documentElement.lang") == "zh-Hant"
    target = doc.locator(":target")
    assert target.count() == 1 and "孟買" in target.inner_text()
    assert doc.locator("h2").count() >= 3  # the whole document, with its headings
    box = target.bounding_box()
    assert box and 0 <= box["y"] < DESKTOP["height"]
    tab.shot("document-view", doc)


def test_api_docs_work_offline(new_tab, server):
    """/docs renders Swagger UI from files this server serves; the page links it, not Gradio's API page."""
    tab = new_tab(DESKTOP)
    open_chat(tab, server + "/")
    assert tab.page.get_by_text("透過 API 使用").count() == 0 and tab.page.get_by_text("Use via API").count() == 0
    assert tab.page.locator("#citeqa-header a.citeqa-open").get_attribute("href") == "/docs"
    tab.page.goto(server + "/docs", wait_until="load")
    tab.page.locator(".swagger-ui .info .title").wait_for(timeout=WAIT_MS)
    assert tab.page.title() == "citeqa API 文件"  # UX P18: says what it is in Chinese, English marked as such
    assert "給開發者的 REST API" in tab.page.locator("header[lang=zh-Hant]").inner_text()
    assert tab.page.evaluate("document.documentElement.lang") == "en"
    assert tab.page.locator(".opblock-summary-path", has_text="/api/ask").count() >= 1
    tab.shot("api-docs")


def test_copy_gives_plain_text_and_labels_are_plain(new_tab, server):
    """"複製答案" copies the answer with markers and a numbered source list; screen-reader labels are text."""
    reply = expected(server, "拜登政府宣布對台軍售幾次？")
    tab = new_tab(DESKTOP)
    open_chat(tab, server + "/")
    page = tab.page
    ask(page, "拜登政府宣布對台軍售幾次？")
    page.locator("button.citeqa-copy").first.click()
    page.wait_for_function("document.querySelector('button.citeqa-copy').textContent === '已複製'")
    copied = page.evaluate("navigator.clipboard.readText()")
    cite = reply["citations"][0]
    assert copied.startswith(reply["answer"]) and "<" not in copied
    assert f"[1] {cite['label']}：「{cite['text'][cite['quote_start']:cite['quote_end']]}」" in copied
    labels = page.evaluate(
        "[...document.querySelectorAll('#citeqa-chat [aria-label]')].map(e => e.getAttribute('aria-label'))"
    )
    spoken = [x for x in labels if x.startswith(("提問：", "回答："))]
    assert len(spoken) == 2 and all("<" not in x and "'s message" not in x for x in labels), labels
    assert "19" in spoken[1]


def test_one_language_and_one_message_per_error(new_tab, server):
    """The page is zh-Hant with Gradio's strings in Chinese even for an English browser; an empty
    question shows one message; an over-long one is refused with its length, never cut."""
    tab = new_tab(DESKTOP)
    open_chat(tab, server + "/")
    page = tab.page
    assert page.evaluate("document.documentElement.lang") == "zh-Hant"
    page.locator("#citeqa-question textarea").fill("   ")
    page.locator("#citeqa-send").click()
    status = page.locator("#citeqa-status .citeqa-status")
    status.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    assert "請先輸入問題" in status.inner_text()
    assert page.get_by_text("請先輸入問題").count() == 1 and page.locator(".toast-body").count() == 0
    long = "問" * 1001
    page.locator("#citeqa-question textarea").fill(long)
    page.locator("#citeqa-send").click()
    page.wait_for_function("document.querySelector('#citeqa-status').innerText.includes('1,001')")
    assert "上限是 1,000" in status.inner_text()
    assert page.locator("#citeqa-question textarea").input_value() == long  # kept whole, not cut
    assert page.locator(".citeqa-question").count() == 0
    # A fresh page for the answer: in the full suite an Enter pressed the instant the refusal arrived
    # was sometimes not submitted (the refusal's event chain still pending; not reproduced alone).
    open_chat(tab, server + "/")
    ask(page, f"{XSS} 台北101有多高？")
    assert page.evaluate("typeof window.__xss") == "undefined"
    visible = page.locator("body").inner_text()
    titles = page.evaluate("[...document.querySelectorAll('[aria-label],[title]')].map(e => "
                           "(e.getAttribute('aria-label') || '') + ' ' + (e.getAttribute('title') || ''))")
    for english in GRADIO_ENGLISH:
        assert english not in visible and not any(english in t for t in titles), english
    tab.shot("one-language")


def test_every_answer_says_how_sure_it_is(new_tab, server):
    """Issue 24: each quoted answer shows its confidence in words (the number on hover and for screen
    readers), and an uncertain or not-found reply is marked as such, as the API decided it."""
    from citeqa.ui.chat.render import CONFIDENCE_WORDS

    tab = new_tab(DESKTOP)
    open_chat(tab, server + "/")
    page = tab.page
    questions = ("駐孟買辦事處何時揭牌？", "台灣有多少邦交國？", "韓國現在的總統是誰")
    for n, question in enumerate(questions):
        want = expected(server, question)
        ask(page, question)
        bubble = page.locator(".citeqa-bubble").nth(n)
        assert bubble.locator(".citeqa-uncertain").count() == (want["outcome"] == "uncertain"), want["outcome"]
        assert bubble.locator(".citeqa-abstain").count() == (want["outcome"] == "not_found"), want["outcome"]
        label = bubble.locator(".citeqa-conf")
        if want["outcome"] not in ("answered", "uncertain"):
            assert label.count() == 0
            continue
        word = next(w for floor, w, _ in CONFIDENCE_WORDS if want["confidence"] >= floor)
        pct = f"{want['confidence']:.0%}"
        assert label.inner_text().startswith(f"信心：{word}") and pct in label.get_attribute("title")
        hidden = label.locator(".citeqa-sr")
        assert pct in hidden.text_content() and hidden.bounding_box()["width"] <= 1  # read aloud, not shown
    tab.shot("confidence")


# Every visible element that draws text of its own (and every button, input and textarea, icon-only
# ones included: their icon is drawn in the text colour), with its WCAG contrast against the colour
# actually behind it: the backgrounds of its ancestors composited, shadow roots crossed. Colours are
# read back from a canvas, so any CSS colour syntax works. ``image`` names an ancestor with a gradient,
# where no single ratio exists. Then every visible control and link with its size in CSS px.
def test_rating_with_the_question_log_off_says_so(new_tab, server):
    """Issue 26 item 2: 👍 / 👎 are under the answer, labelled for screen readers; with the log off (this
    server's default) the server answers 404 and the buttons give way to a sentence instead of failing."""
    tab = new_tab(PHONE)
    open_chat(tab, server + "/")
    page = tab.page
    ask(page, "駐孟買辦事處何時揭牌？")
    rate = page.locator(".citeqa-rate").first
    up = rate.locator("button.citeqa-vote-up")
    assert up.get_attribute("aria-label") == "這個回答有幫助" and up.get_attribute("aria-pressed") == "false"
    assert rate.locator("button.citeqa-vote-down").get_attribute("aria-label") == "這個回答沒有幫助"
    up.click()
    note = rate.locator(".citeqa-rate-note")
    page.wait_for_function("(el) => el.textContent.startsWith('回饋功能未開啟')", arg=note.element_handle(),
                           timeout=10_000)
    assert up.is_hidden() and rate.locator("button.citeqa-vote-down").is_hidden()
    assert tab.failed == [f"404 {server}/api/feedback"]  # the refusal this test expects
    tab.failed.clear()
    tab.shot("rating-log-off-phone")


def test_follow_up_is_answered_as_its_own_question(new_tab, server):
    """「那帛琉呢？」 after a question about the December trip's stop in the Marshall Islands is answered
    about Palau, and the chat shows how it understood it."""
    tab = new_tab(DESKTOP)
    open_chat(tab, server + "/")
    page = tab.page
    ask(page, "總統12月出訪在馬紹爾群島見證了什麼？")
    ask(page, "那帛琉呢？")
    first, follow = page.locator(".citeqa-answer").all_inner_texts()
    assert follow != first and "帛琉" in follow
    assert page.locator(".citeqa-resolved").last.inner_text() == "理解為：總統12月出訪在帛琉見證了什麼？"
    tab.shot("follow-up")


def test_conversation_survives_a_reload_until_a_new_one(new_tab, server):
    tab = new_tab(PHONE)
    open_chat(tab, server + "/")
    page = tab.page
    ask(page, "駐孟買辦事處何時揭牌？")
    ask(page, "拜登政府宣布對台軍售幾次？")
    before = page.locator(".citeqa-answer").all_inner_texts()
    page.reload(wait_until="load")
    page.locator(".citeqa-answer").nth(1).wait_for(timeout=WAIT_MS)
    assert page.locator(".citeqa-answer").all_inner_texts() == before
    page.locator("#citeqa-new").click()
    page.wait_for_function("document.querySelectorAll('.citeqa-answer').length === 0", timeout=30_000)
    page.reload(wait_until="load")
    page.wait_for_selector("#citeqa-question textarea", timeout=WAIT_MS)
    page.wait_for_timeout(1500)
    assert page.locator(".citeqa-answer").count() == 0


def test_an_example_clicked_is_asked(new_tab, server):
    """Clicking an example asks it: Gradio's example event, whose payload the firewall checks (ui.middleware)."""
    question = "駐孟買辦事處何時揭牌？"
    tab = new_tab(DESKTOP)
    open_chat(tab, server + "/")
    page = tab.page
    page.locator("#citeqa-chat").get_by_text(question, exact=True).click()
    page.locator(".citeqa-answer").first.wait_for(timeout=WAIT_MS)
    assert page.locator(".citeqa-answer").all_inner_texts() == [expected(server, question)["answer"]]


def test_a_question_sent_as_the_page_appears_is_answered(new_tab, server):
    """A question sent the instant the box appears, before the page script may run, is answered.

    A queued page load opened the page's event stream and closed it on finishing, and a question
    joined in that moment was never heard from (CI lost one so). The load now runs off the queue,
    so the question is the first event on the page's stream.
    """
    tab = new_tab(DESKTOP)
    page = tab.page
    for _ in range(3):  # the second and third pages restore the conversation as they load
        joins: list[str] = []

        def note(request: object, joins: list[str] = joins) -> None:
            if "/queue/join" in request.url:  # type: ignore[attr-defined]
                joins.append(request.post_data or "")  # type: ignore[attr-defined]

        page.on("request", note)
        page.goto(server + "/", wait_until="commit")
        page.wait_for_selector("#citeqa-question textarea", timeout=WAIT_MS)
        ask(page, "駐孟買辦事處何時揭牌？")
        assert "10 月" in page.locator(".citeqa-answer").last.inner_text()
        assert joins and "駐孟買辦事處" in joins[0], joins[:1]
        page.remove_listener("request", note)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_screens_for_review(new_tab, server, viewport):
    """Screenshots of a three-turn conversation at both sizes, for a person to look at."""
    tab = new_tab(viewport)
    open_chat(tab, server + "/")
    for q in ("總統12月出訪在馬紹爾群島見證了什麼？", "那帛琉呢？", "台北101有多高？"):
        ask(tab.page, q)
    assert tab.page.locator(".citeqa-abstain").count() >= 1
    tab.shot(f"chat-{'phone' if viewport is PHONE else 'desktop'}")
