"""Messages that are not questions about the documents: conversation turns, messages with nothing to search.

The fake embedder cannot tell a greeting from a question (that is the real model's job, tests/model);
here the replies, the content-free rule, the outline they are written from and the contract.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from citeqa.corpus import load_corpus
from citeqa.corpus.outline import outline_of, topic
from citeqa.qa.decision.background import load_background
from citeqa.qa.decision.score import AbstainSettings, Evidence, outcome
from citeqa.qa.turns import Replies, language
from citeqa.qa.types import Answer, Outcome
from support import REPO

FAQ = REPO / "tests" / "data" / "office-faq.md"


def test_outline_names_title_and_top_sections_of_any_document(bundled):
    mofa = outline_of(bundled.passages)["mofa-2024-review.zh-TW.txt"]
    assert mofa["title"] == "以「總合外交」打造民主、和平、繁榮的新台灣"
    assert [topic(s) for s in mofa["sections"]][:2] == ["以民主為基礎的價值外交", "以和平為基礎的同盟外交"]
    faq = outline_of(load_corpus([FAQ]).passages)["office-faq.md"]  # a Markdown FAQ: # title, ## sections
    assert faq["title"].endswith("常見問題") and len(faq["sections"]) >= 4 and "規費" in faq["sections"]


@pytest.mark.parametrize(
    ("message", "lang", "opening"),
    [("你好", "zh-Hant", "您好！"), ("謝謝你", "zh-Hant", "不客氣！"), ("谢谢啦", "zh-Hans", "不客气！"),
     ("掰掰", "zh-Hant", "再見"), ("hi there", "en", "Hello!"), ("thx!", "en", "You're welcome!"),
     ("bye now", "en", "Goodbye")],
)
def test_conversation_reply_in_the_users_language_says_what_the_documents_cover(fake_engine, message, lang, opening):
    assert language(message) == lang
    reply = fake_engine.answerer.replies.conversation(message)
    assert reply.startswith(opening)
    assert "以民主為基礎的價值外交" in reply  # a top-level section, from the index's outline
    assert reply.count("「") >= 2 or reply.count("“") >= 2  # example questions


def test_replies_fall_back_to_file_names_for_an_index_without_outline():
    replies = Replies.of({}, ["handbook.md", "sub/rules.pdf"])
    assert "《handbook》" in replies.conversation("你好") and "《rules》" in replies.conversation("你好")


@pytest.mark.parametrize("message", ["?", "a", "1", "的", "😀", "===", "[1]", "\ue000\ue000\ue000", "asdf", "   ?!  "])
def test_messages_with_nothing_to_search_get_a_request_for_a_question(fake_engine, message):
    """Probe F11: these all got a confident quote."""
    if not message.strip():
        return
    a = fake_engine.ask(message)
    assert a.outcome == Outcome.CONVERSATION and not a.grounded and a.citations == ()
    replies = fake_engine.answerer.replies  # a request for a question, or a greeting's reply (which also asks one)
    assert a.answer in (replies.no_content(message), replies.conversation(message))
    assert "以民主為基礎的價值外交" in a.answer  # what the documents cover, and a question to ask about it


def test_a_question_keeps_getting_answers(fake_engine):
    always = AbstainSettings(threshold=-math.inf, answer_threshold=-math.inf, conversation_margin=math.inf)
    a = fake_engine.ask("駐孟買辦事處何時揭牌？", abstain=always)
    assert a.outcome == Outcome.ANSWERED and a.grounded and a.citations and 0.0 <= a.confidence <= 1.0
    d = a.to_dict()
    assert d["outcome"] == "answered" and d["grounded"] is True


def test_outcome_and_grounded_agree_in_every_answer():
    assert Answer("q", "a", True, ()).outcome == Outcome.ANSWERED
    assert Answer("q", "a", False, ()).outcome == Outcome.NOT_FOUND
    assert Answer("q", "a", False, (), Outcome.CONVERSATION).to_dict()["outcome"] == "conversation"
    with pytest.raises(ValueError, match="contradicts"):
        Answer("q", "a", True, (), Outcome.NOT_FOUND)


def test_the_decision_is_one_function_of_the_evidence():
    s = AbstainSettings(threshold=0.5, intercept=-33.2, weights=(40.0, 0.0, 0.0, -100.0, 0.0), conversation_margin=0.05)
    on_topic = Evidence(0.86, False, None, None, chat_cosine=0.80, generic_cosine=0.82, background_cosine=0.80)
    generic = dataclasses.replace(on_topic, background_cosine=0.90)  # generic text matches better
    greeting = dataclasses.replace(on_topic, chat_cosine=0.95, generic_cosine=0.85)
    assert outcome(on_topic, s) is Outcome.ANSWERED
    assert outcome(generic, s) is Outcome.NOT_FOUND
    assert outcome(greeting, s) is Outcome.CONVERSATION


def test_background_vectors_are_cached_per_model(tmp_path, fake_embedder):
    class Counting(type(fake_embedder)):
        calls = 0

        def encode_queries(self, texts):
            Counting.calls += 1
            return super().encode_queries(texts)

    first = load_background(Counting(), tmp_path)
    computed = Counting.calls  # as questions and as passages
    again = load_background(Counting(), tmp_path)
    assert Counting.calls == computed and np.array_equal(first.as_passages, again.as_passages)
    assert first.chat.sum() >= 50 and (~first.chat).sum() >= 250
    (next((tmp_path / "background").glob("*.npy"))).write_bytes(b"damaged")
    assert load_background(Counting(), tmp_path).as_queries.shape == first.as_queries.shape  # recomputed
