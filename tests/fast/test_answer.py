"""Cited answers with the fake model: every marker verified over the whole dev set, abstention, question types.

The same checks with the real model are in tests/model/test_real_answers.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from citeqa.eval.dataset import load_eval_set
from citeqa.qa.decision.score import SLOT_SLACK, AbstainSettings, Evidence, log_odds, outcome
from citeqa.qa.extractive import ExtractiveAnswerer
from citeqa.qa.slots import numbers_found, question_type
from citeqa.qa.types import Outcome
from support import assert_markers_verified


def _always_answering(engine):
    always = AbstainSettings(threshold=float("-inf"), answer_threshold=float("-inf"))
    st = dataclasses.replace(engine.answerer.settings, abstain=always)
    return ExtractiveAnswerer(engine.index, engine.embedder, engine.retrievers["hybrid"], st)


def test_markers_verified_on_every_dev_question_fake_model(fake_engine):
    answerer = _always_answering(fake_engine)
    for q in load_eval_set(None, "dev"):
        a = answerer.answer(q.question)
        assert a.grounded or not q.answerable  # "hi" or "?" still gets no quote: nothing to search for
        assert_markers_verified(a)


def test_abstained_answer_lists_closest_passages_without_markers(fake_engine):
    st = dataclasses.replace(fake_engine.answerer.settings, abstain=AbstainSettings(threshold=float("inf")))
    answerer = ExtractiveAnswerer(fake_engine.index, fake_engine.embedder, fake_engine.retrievers["hybrid"], st)
    a = answerer.answer("台北101有多高？")
    assert not a.grounded and "沒有" in a.answer and a.citations
    assert_markers_verified(a)
    en = answerer.answer("Boiling point?")
    assert "do not answer" in en.answer


def test_follow_up_uses_previous_question_for_retrieval(fake_engine):
    engine = dataclasses.replace(fake_engine, answerer=_always_answering(fake_engine))
    a = engine.ask("那荷蘭呢？", previous="哪些歐洲國家派軍艦通過台灣海峽？")
    assert a.question == "那荷蘭呢？" and a.resolved and "荷蘭" in a.resolved and "海峽" in a.resolved
    assert "荷蘭" in engine.search(a.resolved, 1)[0].passage.text  # retrieved as the question it stands for


SCHOOLS = "大学|学院|学校|中学|高中|国中|小学|女中"


@pytest.mark.parametrize(
    ("question", "kind", "unit", "sentence", "ok"),
    [
        ("拜登政府宣布對台軍售幾次？", "count", "次", "迄已 19 度宣布對台軍售", True),
        ("賴總統在馬紹爾群島停留了幾天？", "count", "天", "12 月以印太地區友邦為首次出訪地點", False),
        ("駐孟買辦事處何時揭牌？", "date", "", "我駐孟買辦事處 10 月正式揭牌", True),
        ("When did the office open?", "date", "", "駐孟買辦事處正式揭牌對外運作", False),
        ("我國讓多少個國際非政府組織來台設點？", "count", "", "迄已協助 10 多個重要國際非政府組織", True),
        ("中国错误诠释的是联合国大会第几号决议？", "count", "号", "聯合國大會第 2758 號決議案", True),
        ("誰訪問了立陶宛？", "person", "", "蕭美琴副總統當選人於 3 月訪問立陶宛", True),
        ("駐孟買辦事處的處長是誰？", "person", "", "我駐孟買辦事處 10 月正式揭牌對外運作", False),
        ("有幾個具 WHO 會員國身分的友邦提案？", "count", "", "11 個具「世界衛生組織」（WHO）會員國身分的友邦", True),
        ("台北101有多高？", "measure", "", "賴總統出訪太平洋友邦期間過境美國檀香山與關島", False),
        ("外交部 2024 年的總預算是多少？", "money", "", "國務院編列 1 億美元「歷史性」援台預算", True),
        ("What was Taiwan's GDP growth rate?", "rate", "", "2024 年我國仍舊面臨", False),
        ("中國今年片面變更了哪一條航線？", "any", "", "任何句子", True),
        # Finer slots: a day, a year, a place, a name; the question's own words cannot fill them.
        ("石破茂是在哪一天當選自民黨總裁的？", "day", "", "8 月日本現任首相石破茂（當選自民黨總裁前）率團訪台", False),
        ("賴總統的就職典禮在哪一天？", "day", "", "5 月 20 日舉行就職典禮", True),
        ("吐瓦魯總理戴斐立是哪一年出生的？", "year", "", "田中光政務次長 3 月以總統特使身分訪問吐瓦魯", False),
        ("友邦常代親自遞函的數量是自哪一年以來最多？", "year", "", "友邦常代親自遞函，為 2018 年以來最多", True),
        ("第四屆 IPAC 年會在台灣的哪個城市舉辦？", "place", "", "第四屆 IPAC 年會 49 名國會議員訪台與會", False),
        ("賴總統出訪太平洋友邦時過境美國哪些地方？", "place", "", "賴總統出訪太平洋友邦期間過境美國檀香山與關島", True),
        ("荷蘭通過台灣海峽的那艘軍艦叫什麼名字？", "name", "", "荷蘭首次派遣軍艦通過台灣海峽", False),
        ("賴總統出訪太平洋友邦的行程叫什麼名稱？", "name", "", "完成「繁榮南島 智慧永續」之旅", True),
        ("荷蘭派遣的軍艦叫什麼名字？", "name", "", "荷蘭首次派遣「軍艦」通過", False),  # a name from the question
        ("賴總統過境關島時和哪位美國官員見面？", "person", "", "賴總統過境美國檀香山與關島，與政要互動熱絡", False),
        ("台灣與以色列的文化合作協定是由哪兩位官員簽署的？", "person", "", "與以色列簽署文化合作協定", False),
        ("賴總統在帛琉啟動了什麼計畫？帛琉總統又是誰？", "person", "", "帛琉總統惠恕仁", True),  # two questions: coarse
        ("台灣在 2024 年巴黎奧運拿了幾面金牌？", "count", "面", "參加「2024 年巴黎奧林匹克運動會」", False),
        ("江啟臣副院長幾月率團赴日？", "month", "", "江啟臣副院長 3 月率朝野委員組團赴日", True),
        ("江啟臣副院長幾月率團赴日？", "month", "", "本年江啟臣副院長率團赴日", False),
        ("How many students received a Taiwan Scholarship?", "count", "名", "提出近 80 項友台法案", False),
        ("How many journalists did MOFA host?", "count", "名", "協助78家媒體、169名記者在台駐點", True),
        # "how many" counts the noun phrase after it, not a noun later in the question.
        ("How many allies with WHO membership submitted proposals?", "count", "", "11 個友邦均向 WHO 提案", True),
        ("How many gold medals did Taiwan win?", "count", "面", "參加「2024 年巴黎奧林匹克運動會」", False),
        ("石破茂是在 8 月幾日晉見賴總統的？", "day", "", "8 月日本現任首相石破茂率團訪台，期間晉見賴總統", False),
        ("水的沸点是多少摄氏度？", "measure", "", "本年 11 個友邦全數致函 UNFCCC", False),
        ("What is the boiling point of water?", "measure", "", "水在 100 ℃ 沸騰", True),
        # An institution of the asked class, named by something other than the question's words.
        ("半導體實驗室設在哪一所大學？", "institution", SCHOOLS, "與斯洛伐克推動建置半導體實驗室", False),
        ("半導體實驗室設在哪一所大學？", "institution", SCHOOLS, "實驗室設於斯洛伐克科技大學", True),
        ("半導體實驗室設在哪一所大學？", "institution", SCHOOLS, "該大學表示歡迎", False),
        ("比賽冠軍是哪一所學校？", "institution", SCHOOLS, "與當地高中生交流", False),  # students, not a school
        ("Which university hosts the lab?", "institution", SCHOOLS, "設於 (Slovak University of Technology)", True),
        # A list asked for needs more than one item of its kind; a count of the items is not a list of them.
        ("訪台的 4 位州長分別來自美國哪些州？", "state", "", "本年 4 位美國州長率團訪台", False),
        ("訪台的 4 位州長分別來自美國哪些州？", "state", "", "亞利桑那州、印第安納州等 4 位州長率團訪台", True),
        ("訪台的州長來自哪個州？", "state", "", "亞利桑那州州長率團訪台", True),
        ("第 53 屆論壇是在東加的哪個城市舉行？", "place", "", "第 53 屆論壇在東加舉行", False),  # its own place
        ("賴總統就職典禮的國王團是哪一國的國王？", "country", "", "國王團出席賴總統就職典禮", False),
        ("賴總統就職典禮的國王團是哪一國的國王？", "country", "", "史瓦帝尼國王率團出席賴總統就職典禮", True),
        ("考察團在智利是跟哪個機構簽合作備忘錄？", "organisation", "", "考察團赴智利簽署合作備忘錄", False),
        ("考察團在智利是跟哪個機構簽合作備忘錄？", "organisation", "", "考察團與智利生產促進局簽署合作備忘錄", True),
        ("探親簽證放寬後最長可以停留多久？", "duration", "", "放寬外籍父母探親簽證", False),
        ("探親簽證放寬後最長可以停留多久？", "duration", "", "停留期限延長為 180 天", True),
        ("為什麼台灣無法參加大會？", "reason", "", "台灣未能參加大會", False),
        ("為什麼台灣無法參加大會？", "reason", "", "由於中國阻撓，台灣未能參加大會", True),
        ("申換護照要符合哪些條件？", "any", "", "推出有條件式線上申換護照", False),
        ("申換護照要符合哪些條件？", "any", "", "須年滿 18 歲、護照效期內及未曾遺失", True),
    ],
)
def test_question_types(question, kind, unit, sentence, ok):
    """The slot table: the kind each question asks for, and whether a sentence holds one."""
    qt = question_type(question)
    assert (qt.kind, qt.unit) == (kind, unit)
    assert qt.satisfied_by(sentence) is ok


@pytest.mark.parametrize(
    ("question", "quoted", "found"),
    [
        ("第 53 屆 APPU 年會預定在台灣哪個城市舉行？", "出席 APPU 第 52 屆年會", False),
        ("第 53 屆 APPU 年會預定在台灣哪個城市舉行？", "爭取第 53 屆年會在台舉辦", True),
        ("林佳龍部長 10 月和 11 月兩次出訪，分別去了哪些國家？", "訪問瓜地馬拉 訪問歐洲", None),  # dates say when
        ("APPU 第 53 屆年會 8 月在哪裡開？", "第 53 屆年會在台舉辦", True),  # the month is not required
        ("2024 年有幾位美國州長訪台？", "本年 6 位州長率團訪台", None),  # years are often relative in the text
        ("What happened at the 52nd APPU assembly?", "第 53 屆", None),  # English numbers do not carry over
        ("台灣援助烏克蘭多少錢？", "任何句子", None),
    ],
)
def test_numbers_the_question_names_must_be_quoted(question, quoted, found):
    assert numbers_found(question, quoted) is found


def test_a_year_the_documents_never_mention_is_not_answered(fake_engine):
    ev = fake_engine.answerer.explain("How much FMF military aid did the US give Taiwan in fiscal year 2023?").evidence
    assert ev is not None and ev.numbers_quoted is False
    ev = fake_engine.answerer.explain("How much FMF military aid did the US give Taiwan in fiscal year 2024?").evidence
    assert ev is not None and ev.numbers_quoted is None


def test_the_model_adds_each_signal_once():
    s = AbstainSettings(threshold=0.5, intercept=-8.0, weights=(10.0, -2.0, -1.0, -5.0, 0.5))
    assert log_odds(Evidence(0.9, False, None), s) == pytest.approx(1.0)
    assert log_odds(Evidence(0.9, True, None), s) == pytest.approx(1.5)  # cross-lingual cosines run lower
    assert log_odds(Evidence(0.9, False, 1.0), s) == pytest.approx(-1.0)  # no sentence has the type
    assert log_odds(Evidence(0.9, False, SLOT_SLACK - 0.01), s) == pytest.approx(1.0)  # within the slot slack
    assert log_odds(Evidence(0.9, False, 0.3), s) == pytest.approx(-1.0)  # typed, but off the subject
    assert log_odds(Evidence(0.9, False, 0.0, numbers_quoted=False), s) == pytest.approx(0.0)
    assert log_odds(Evidence(0.9, False, None, background_cosine=0.95), s) == pytest.approx(0.75)  # generic text wins
    assert log_odds(Evidence(0.9, False, None, background_cosine=0.85), s) == pytest.approx(1.0)  # documents win
    assert outcome(Evidence(0.9, False, 0.0), s) is Outcome.ANSWERED
    assert outcome(Evidence(0.9, False, 1.0), s) is not Outcome.ANSWERED


def test_the_answer_type_must_stand_where_the_subject_is(fake_engine):
    """A date in a paragraph about something else does not say when the Mumbai office opened."""
    ev = fake_engine.answerer.explain("駐孟買辦事處的處長是誰？").evidence
    assert ev is not None and ev.slot_gap is not None and ev.slot_gap > SLOT_SLACK
    ev = fake_engine.answerer.explain("駐孟買辦事處何時揭牌？").evidence
    assert ev is not None and ev.slot_gap == 0.0


@pytest.mark.parametrize(
    ("question", "joined"),
    [("那荷蘭呢？", True), ("What about Japan?", True), ("還有哪些國家？", True), ("台北101有多高？", False),
     ("駐孟買辦事處何時揭牌？", False)],
)
def test_only_explicit_follow_ups_inherit_the_previous_question(question, joined):
    from citeqa.qa.query import follow_up_query

    assert (follow_up_query(question, "拜登政府宣布對台軍售幾次？") is not None) is joined


def test_one_paragraph_is_cited_once_and_markers_stand_before_the_full_stop():
    """Two sentences of one paragraph share its marker (the quote span covers both); a marker goes
    before the sentence's closing mark, so it never runs into the next sentence's number."""
    from citeqa.corpus import Passage
    from citeqa.qa.extractive import _Candidate, _compose
    from citeqa.qa.types import Hit

    text = "第一句有 3 個。11 個國家參加。"
    p = Passage("doc#a-p1", "doc", ("章",), "章 ¶1", text, 0, len(text))
    second = text.index("11")
    cands = [
        _Candidate(0, Hit(p, 0.9), 0, second, 0.9, 1.0, True, 0.9),
        _Candidate(0, Hit(p, 0.9), second, len(text), 0.8, 1.0, True, 0.8),
    ]
    a = _compose("幾個？", cands)
    assert a.answer == "第一句有 3 個[1]。11 個國家參加[1]。"
    assert len(a.citations) == 1 and (a.citations[0].quote_start, a.citations[0].quote_end) == (0, len(text))
    assert_markers_verified(dataclasses.replace(a, confidence=0.9))  # the verdict adds the confidence
