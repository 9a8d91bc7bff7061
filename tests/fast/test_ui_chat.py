"""The chat handler and the web settings, without a server: follow-ups, refusals, escaping, env parsing."""

from __future__ import annotations

import asyncio

import pytest

from citeqa.ui.chat.render import highlighted
from citeqa.ui.server.config import ServeSettings, normalize_root_path, parse_origins


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
    """Stands in for Engine in the chat: records what ``prepare`` was given, answers with one citation."""

    def __init__(self, passage) -> None:
        from citeqa.settings import Settings

        self.calls: list[tuple[str, str | None]] = []
        self.passage = passage
        self.settings = Settings.from_env({})

    def prepare(self, question, k=None, *, previous=None):
        from citeqa.qa.followup import resolve_follow_up
        from citeqa.qa.types import Answer, Hit

        self.calls.append((question, previous))
        hit = Hit(self.passage, 0.9, 0, 3)
        follows = previous is not None and resolve_follow_up(question, previous) is not None  # as the engine reads it
        return Ready(Answer(question, f"<b>答</b>{len(self.calls)}[1]。", True, (hit,), follows=follows))


class Ready:
    """A draft with nothing left to do (the extractive answerer's)."""

    waits_on_network = False

    def __init__(self, answer) -> None:
        self.answer = answer

    def finish(self):
        return self.answer


@pytest.fixture
def chat(bundled):
    from citeqa.ui.chat.conversation import Chat
    from citeqa.ui.server.admission import Admission, GatedEngine

    gated = GatedEngine(RecordingEngine(bundled.passages[0]), Admission(slots=1, max_waiting=0))  # type: ignore[arg-type]
    return Chat(gated, root="/sub")


def answer(chat, saved, tab=None):
    """Run the chat's answering step (a coroutine on the server's loop) to completion."""
    return asyncio.run(chat.answer(saved, tab))


@pytest.fixture
def cid(chat) -> str:
    """A conversation the server issued (ids it never issued are not taken back)."""
    issued = chat.sessions.resolve(None, "")
    chat.sessions.get(issued)
    return issued


def test_questions_are_queued_and_answered_in_order(chat, cid):
    """A second question sent before the first is answered waits its turn; neither replaces the other."""
    box, messages, _, status, cid = chat.submit("駐孟買辦事處何時揭牌？", cid)
    assert box == "" and status == "" and cid == cid
    assert "回答中" in messages[-1]["content"] and len(messages) == 2
    _, messages, *_ = chat.submit("那荷蘭呢？", cid)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    messages, panel = answer(chat, cid)
    assert chat.engine.engine.calls == [("駐孟買辦事處何時揭牌？", None), ("那荷蘭呢？", "駐孟買辦事處何時揭牌？")]
    assert "&lt;b&gt;答&lt;/b&gt;1" in messages[1]["content"] and "答&lt;/b&gt;2" in messages[3]["content"]
    assert panel.index("第 2 題") < panel.index("第 1 題")  # newest answer first in the panel
    chat.submit("那日本呢？", cid)
    answer(chat, cid)
    assert chat.engine.engine.calls[-1] == ("那日本呢？", "駐孟買辦事處何時揭牌？")  # a chain leans on the same anchor
    answer(chat, cid)  # nothing pending: nothing asked again
    assert len(chat.engine.engine.calls) == 3


def test_each_answer_keeps_its_own_sources(chat, cid):
    chat.submit("一", cid)
    chat.submit("二", cid)
    messages, panel = answer(chat, cid)
    for turn in (1, 2):
        bubble = messages[2 * turn - 1]["content"]
        assert f'href="#citeqa-msrc-{turn}-1"' in bubble and f'id="citeqa-msrc-{turn}-1"' in bubble
        assert f'id="citeqa-src-{turn}-1"' in panel and f'href="#citeqa-ans-{turn}"' in panel
        assert f'id="citeqa-ans-{turn}"' in bubble and 'class="citeqa-copy"' in bubble
    assert 'href="/sub/doc?source=' in panel  # the document view, under the app's root path


def test_refusals_keep_the_box_and_the_conversation(chat, cid):
    chat.submit("駐孟買辦事處何時揭牌？", cid)
    answer(chat, cid)
    box, kept, _, status, _ = chat.submit("   ", cid)
    assert box == "   " and len(kept) == 2 and "請先輸入問題" in status
    long = "問" * 1001
    box, kept, _, status, _ = chat.submit(long, cid)
    assert box == long and len(kept) == 2  # never cut: refused with its length and the limit
    assert "1,001" in status and "上限是 1,000" in status
    box, kept, _, status, _ = chat.submit({"path": "/etc/passwd"}, cid)
    assert box == "" and "請以文字輸入問題" in status and "/etc/passwd" not in str(kept)


def test_conversation_survives_a_reload_and_starts_over(chat, cid):
    chat.submit("<img src=x onerror=alert(1)>台北101有多高？", cid)
    answer(chat, cid)
    messages, panel, cid = chat.restore(cid)
    assert cid == cid and len(messages) == 2 and "citeqa-src-1-1" in panel
    assert "&lt;img src=x" in messages[0]["content"] and "<img" not in messages[0]["content"]
    messages, panel, _, new = chat.start_over(cid)
    assert messages == [] and new != cid and len(new) == 32 and "提問後" in panel
    assert chat.restore(cid)[0] == []  # the old conversation is gone
    for forged in ("../../etc/passwd", None, 42, ["x"], "A" * 32, cid + "0"):
        assert chat.restore(forged)[2] != forged  # only an id of the shape handed out is taken back
    never_issued = "0123456789abcdef0123456789abcdef"
    held = len(chat.sessions)
    assert chat.restore(never_issued)[2] != never_issued and len(chat.sessions) == held  # a load creates nothing
    assert chat.submit("問", never_issued)[4] != never_issued  # a question gets an id the server issues


def test_one_page_keeps_one_conversation_whatever_id_its_events_carry(chat):
    """A question sent before the page applied the id its load returned (it still sends "") joins the
    page's conversation instead of starting a second one that a later answer would paint over."""
    _, _, given = chat.restore("", tab="page-1")
    _, _, _, _, cid = chat.submit("一", "", tab="page-1")  # the load's reply not applied yet
    chat.submit("二", given, tab="page-1")
    messages, _ = answer(chat, "", tab="page-1")
    assert cid == given and [m["content"].count("一") + m["content"].count("二") for m in messages[::2]] == [1, 1]
    assert chat.restore(given, tab="page-2")[0] == messages  # a reload (new page) finds it by the stored id
    _, _, _, new = chat.start_over("", tab="page-2")
    assert new != given and chat.submit("三", given, tab="page-2")[4] == new  # the page's new conversation
    assert chat.restore("", tab="x" * 65)[2] != given  # an odd session hash binds nothing


def test_sessions_keep_the_most_recently_used():
    from citeqa.ui.chat.session import MAX_TURNS, Conversation, Sessions

    sessions = Sessions(limit=2)
    a = sessions.get("a")
    sessions.get("b")
    sessions.get("a")
    sessions.get("c")  # "b" is the least recently used
    assert sessions.get("a") is a and list(sessions._items) == ["c", "a"]
    conv = Conversation()
    for i in range(MAX_TURNS + 5):
        conv.add(str(i))
    assert len(conv.turns) == MAX_TURNS and conv.turns[0].number == 6 and conv.turns[-1].number == MAX_TURNS + 5


def test_explain_says_each_refusal_in_chinese():
    from citeqa.errors import CiteqaError, Overloaded
    from citeqa.ui.chat.conversation import explain

    assert explain(Overloaded(9, retry_after=3)) == "目前提問的人很多，請 3 秒後再試一次。"
    assert explain(CiteqaError("disk on fire")) == "目前無法回答，請稍後再試一次。"  # no English leaks


def test_questions_the_full_server_cannot_take_say_so_in_their_place(chat, cid):
    chat.submit("一", cid)
    answer(chat, cid)
    chat.submit("二", cid)

    async def while_the_gate_is_full():
        async with chat.engine.gate.admit():  # its one slot taken, and no room to wait
            return await chat.answer(cid)

    messages, _ = asyncio.run(while_the_gate_is_full())
    assert "目前提問的人很多，請" in messages[3]["content"] and "citeqa-pending" not in str(messages)
    assert "答" in messages[1]["content"] and len(chat.engine.engine.calls) == 1  # the answered one is kept, not redone
