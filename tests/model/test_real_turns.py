"""What real users type that is not a question about the documents (issue: answerability), with the real model.

A second, small corpus the tests index (a fictional office's FAQ written for this purpose, with its
own blind questions in tests/data) shows the shipped settings are not tuned to the bundled corpus.
"""

from __future__ import annotations

import json

import pytest

from citeqa.eval.metrics import answer_correct
from citeqa.qa.engine import Engine
from support import REPO, assert_markers_verified

DATA = REPO / "tests" / "data"


@pytest.mark.parametrize("message", ["你好", "hello", "謝謝", "你是誰", "what can you do?", "掰掰"])
def test_conversation_turns_get_a_reply_not_a_quote(real_engine, message):
    a = real_engine.ask(message)
    assert a.outcome == "conversation" and not a.grounded and a.citations == ()
    assert "以民主為基礎的價值外交" in a.answer  # what the documents cover, from their outline


@pytest.mark.parametrize("message", ["今天天氣如何？", "請問披薩怎麼做？", "Tell me a joke", "幫我寫一首詩"])
def test_off_topic_messages_are_not_answered_from_the_document(real_engine, message):
    """The issue's table: every one of these got a confident quote."""
    a = real_engine.ask(message)
    assert not a.grounded and a.outcome in ("not_found", "conversation")
    assert_markers_verified(a)


NOTHING = ["?", "a", "1", "asdf", "😀", "[1]", "\ue000\ue000\ue000", "../../../../etc/passwd"]


@pytest.mark.parametrize("message", NOTHING)
def test_messages_with_nothing_to_search_ask_for_a_question(real_engine, message):
    """Probe F11: each got a confident quote."""
    a = real_engine.ask(message)
    assert a.outcome == "conversation" and a.citations == ()


@pytest.fixture(scope="module")
def office(real_engine, tmp_path_factory) -> Engine:
    """The FAQ indexed with the real model and the shipped settings."""
    from citeqa.index.update import update_index

    settings = real_engine.settings.with_(index_dir=tmp_path_factory.mktemp("office") / "index")
    model = real_engine.embedder.inner  # the session's model, without its query cache
    update_index(settings, [DATA / "office-faq.md"], embedder=model, progress=False, log=lambda _: None)
    return Engine.open(settings, index_dir=settings.index_dir, embedder=model, progress=False)


def test_a_second_corpus_with_the_same_settings(office):
    """On-topic questions answered; off-topic and conversation turns not.

    Measured with this release's two thresholds: 14/20 answered right, 16/20 shown right (answered or
    uncertain), 9/10 off-topic and 6/6 conversation turns not answered (the two-outcome release: 16/20).
    """
    rows = [json.loads(line) for line in (DATA / "office-faq-questions.jsonl").read_text(encoding="utf-8").splitlines()]
    by_kind: dict[str, list] = {}
    for q in rows:
        a = office.ask(q["question"])
        assert_markers_verified(a)
        by_kind.setdefault(q["kind"], []).append((q, a))
    right = [a.grounded and answer_correct(a.answer, q["answers"]) for q, a in by_kind["fact"]]
    facts = by_kind["fact"]
    shown = [a.outcome in ("answered", "uncertain") and answer_correct(a.answer, q["answers"]) for q, a in facts]
    assert sum(right) >= 13 and sum(shown) >= 15, f"{sum(right)}/{len(right)} answered right, {sum(shown)} shown right"
    assert sum(not a.grounded for _, a in by_kind["offtopic"]) >= 9
    assert all(not a.grounded for _, a in by_kind["conversation"])
    assert sum(a.outcome == "conversation" for _, a in by_kind["conversation"]) >= 4
    greeting = office.ask("你好").answer
    assert "青禾市戶政事務所" in greeting and "規費" in greeting  # its own outline, not the bundled corpus's
