"""The chat handler and the web settings, without a server: follow-ups, refusals, escaping, env parsing."""

from __future__ import annotations

import pytest

from citeqa.ui.config import ServeSettings, normalize_root_path, parse_origins
from citeqa.ui.render import highlighted


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
