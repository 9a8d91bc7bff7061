"""Follow-ups: the standalone question each one asks, and the engine answering that question.

The same on the real model, over the blind follow-up pairs, is in tests/model/test_real_followups.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from citeqa.qa.followup import FollowUp, resolve_follow_up
from citeqa.qa.query import follow_up_query
from citeqa.qa.types import Answer

MUMBAI = "駐孟買辦事處何時揭牌？"


@pytest.mark.parametrize(
    ("previous", "question", "resolved"),
    [
        (MUMBAI, "那荷蘭呢？", "駐荷蘭辦事處何時揭牌？"),  # a place takes the place's place
        ("驻孟买办事处何时揭牌？", "那荷兰呢？", "驻荷兰办事处何时揭牌？"),  # Simplified Chinese
        (MUMBAI, "至於立陶宛", "駐立陶宛辦事處何時揭牌？"),  # jieba tags 立陶宛 a person: any name will do
        ("When did the Mumbai office open?", "What about the Netherlands?", "When did the Netherlands office open?"),
        ("Which office opened in Mumbai in October?", "And Lithuania?", "Which office opened in Lithuania in October?"),
        (MUMBAI, "What about 荷蘭?", "駐荷蘭辦事處何時揭牌？"),  # mixed scripts
        ("EPPD 今年10月辦的是第幾屆", "那去年呢", "EPPD 去年辦的是第幾屆"),  # a time replaces the whole date
        ("林部長11月去歐洲訪問了哪些地方", "那12月呢", "林部長12月去歐洲訪問了哪些地方"),
        ("APPU 第52屆年會 台灣是誰帶團去日本", "那第51屆呢", "APPU 第51屆年會 台灣是誰帶團去日本"),  # a counted number
        ("台灣和日本簽了什麼協定？", "那韓國呢", "台灣和韓國簽了什麼協定？"),  # the name nearest the question word
        (MUMBAI, "那孟買呢", MUMBAI),  # the same topic again
    ],
)
def test_elliptical_follow_up_becomes_the_previous_question_with_the_new_topic(previous, question, resolved):
    follow = resolve_follow_up(question, previous)
    assert follow is not None
    assert follow.resolved == resolved
    assert follow.query == resolved  # a standalone question is retrieved as it is
    assert follow.topic and follow.topic in resolved


@pytest.mark.parametrize(
    ("previous", "question"),
    [
        # No span of the topic's kind to replace ("巴拉圭，<previous>" is no question a person writes);
        # 賴 of 賴總統 is a surname, not a name to replace.
        ("籌組投資考察團前進友邦 辦了哪些團", "巴拉圭那邊呢"),
        ("賴總統12月出訪的行程叫什麼？", "那帛琉呢？"),
        (MUMBAI, "那預算呢"),  # a common noun
        (MUMBAI, "那 FMF 呢"),  # a topic in another language than the previous question
        ("How much military aid did the US approve?", "那軍售呢"),
        ("How much FMF military aid did the US give?", "What about the FMF military aid amount?"),  # restates it
    ],
)
def test_an_ellipsis_without_a_well_formed_rewrite_is_retrieved_with_the_previous(previous, question):
    """UX P3: 「理解為」 showed non-questions; the follow-up is answered as typed, retrieved with the previous."""
    follow = resolve_follow_up(question, previous)
    assert follow is not None and follow.topic
    assert follow.resolved == question and follow.query == f"{previous} {question}"


@pytest.mark.parametrize(
    ("previous", "question"),
    [
        (MUMBAI, "他們簽了什麼？"),  # a pronoun
        ("氫能產業考察團 去哪個國家", "那有簽到什麼嗎"),  # a cue word, and a predicate of its own
        ("APPU 第52屆年會 台灣是誰帶團去日本", "下一屆誰主辦"),  # no noun of its own
        ("台美印太民主治理諮商 今年第幾屆", "台美教育倡議呢 擴大幾項獎學金"),  # 呢 sets a topic, then a question
        ("台日海洋事務合作對話會議 今年第幾屆", "What topics did they talk about?"),
        ("拜登政府宣布對台軍售幾次？", "還有哪些國家？"),
        (MUMBAI, "那荷蘭派軍艦呢"),  # a topic with a verb is not a bare topic
    ],
)
def test_follow_up_with_its_own_question_is_answered_as_typed_and_retrieved_with_the_previous(previous, question):
    follow = resolve_follow_up(question, previous)
    assert follow == FollowUp(question, previous, question, f"{previous} {question}")
    assert follow_up_query(question, previous) == f"{previous} {question}"


@pytest.mark.parametrize(
    "question",
    ["台北101有多高？", MUMBAI, "總統出訪了幾次？", "謝謝", "你是誰？", "Boiling point?", "台北101有多高？" * 3],
)
def test_a_question_that_stands_on_its_own_is_no_follow_up(question):
    assert resolve_follow_up(question, "拜登政府宣布對台軍售幾次？") is None
    assert follow_up_query(question, "拜登政府宣布對台軍售幾次？") is None


@pytest.mark.parametrize("previous", ["", "   ", None])
def test_without_a_previous_question_nothing_is_a_follow_up(previous):
    assert resolve_follow_up("那荷蘭呢？", previous) is None
    assert follow_up_query("那荷蘭呢？", previous or "") is None


def test_the_tagger_is_built_once_over_the_dictionary_read_once():
    from citeqa.qa import followup
    from citeqa.text.lexicon import _default_dictionary

    resolve_follow_up("那荷蘭呢？", MUMBAI)
    before = followup._tagger.cache_info().misses
    for _ in range(3):
        resolve_follow_up("那日本呢？", MUMBAI)
    assert followup._tagger.cache_info().misses == before == 1
    assert followup._tagger().tokenizer.FREQ is _default_dictionary()[0]  # shared, not re-read


# --- the engine ------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Recorder:
    """An answerer that records what it was asked, and answers nothing."""

    calls: list[tuple[str, str | None]] = dataclasses.field(default_factory=list)

    def answer(self, question, k=None, *, retrieval_query=None, sources=None, abstain=None):
        self.calls.append((question, retrieval_query))
        return Answer(question, "文件中沒有找到這個問題的答案。", False, ())


def test_engine_answers_the_resolved_question_and_says_so(fake_engine):
    rec = _Recorder()
    engine = dataclasses.replace(fake_engine, answerer=rec)
    a = engine.ask("那荷蘭呢？", previous=MUMBAI)
    assert rec.calls == [("駐荷蘭辦事處何時揭牌？", None)]
    assert a.question == "那荷蘭呢？" and a.resolved == "駐荷蘭辦事處何時揭牌？"
    d = a.to_dict()
    assert d["question"] == "那荷蘭呢？" and d["resolved"] == "駐荷蘭辦事處何時揭牌？"
    assert {"question", "answer", "grounded", "citations"} <= set(d)


def test_engine_answers_a_leaning_follow_up_as_typed(fake_engine):
    rec = _Recorder()
    engine = dataclasses.replace(fake_engine, answerer=rec)
    a = engine.ask("他們簽了什麼？", previous=MUMBAI)
    assert rec.calls == [("他們簽了什麼？", f"{MUMBAI} 他們簽了什麼？")]
    assert a.resolved is None and "resolved" not in a.to_dict()
    engine.ask("台北101有多高？", previous=MUMBAI)  # stands on its own: nothing of the previous one
    engine.ask("那荷蘭呢？")
    assert rec.calls[1:] == [("台北101有多高？", None), ("那荷蘭呢？", None)]


def test_a_follow_up_gets_the_answer_of_its_standalone_question(fake_engine):
    follow_up = fake_engine.ask("那荷蘭呢？", previous=MUMBAI)
    standalone = fake_engine.ask("駐荷蘭辦事處何時揭牌？")
    assert follow_up.answer == standalone.answer and follow_up.citations == standalone.citations
    assert follow_up.outcome == standalone.outcome


def test_answer_to_dict_adds_resolved_only_when_set():
    plain = Answer("問", "答[1]。", False, ())
    assert "resolved" not in plain.to_dict()
    resolved = dataclasses.replace(plain, resolved="駐荷蘭辦事處何時揭牌？")
    assert resolved.to_dict()["resolved"] == "駐荷蘭辦事處何時揭牌？"
