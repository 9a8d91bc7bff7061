"""The fourth outcome, ``uncertain``: decided by two thresholds, said in the reply, shown in the chat,
calibrated, and counted by the eval. No model: evidence and answers are made by hand."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from citeqa.errors import SettingError
from citeqa.eval.calibrate import Sample, _Columns, calibrate, held_out_figures
from citeqa.eval.run import QuestionResult, RetrieverReport
from citeqa.qa.decision.score import AbstainSettings, Evidence, conversational, log_odds, outcome, sigmoid
from citeqa.qa.decision.verdict import UNCERTAIN_NOTE, uncertain
from citeqa.qa.types import Answer, Hit, Outcome
from citeqa.settings import Settings
from citeqa.ui.chat.render import answer_html, confidence_html, sources_html

# A cosine-only model: confidence 0.5 at a cosine of 0.8, 0.88 at 0.85, 0.12 at 0.75.
S = AbstainSettings(threshold=0.3, answer_threshold=0.7, intercept=-32.0, weights=(40.0, 0.0, 0.0, 0.0, 0.0),
                    conversation_margin=math.inf)


def test_two_thresholds_make_three_outcomes():
    assert outcome(Evidence(0.85, False, None), S) is Outcome.ANSWERED
    assert outcome(Evidence(0.80, False, None), S) is Outcome.UNCERTAIN
    assert outcome(Evidence(0.75, False, None), S) is Outcome.NOT_FOUND
    # An answer threshold under the not-found one leaves no uncertain band (a user raising the floor).
    assert AbstainSettings(threshold=0.9, answer_threshold=0.5).answer_threshold == 0.9


def test_thresholds_are_settings_checked_where_they_enter(tmp_path):
    s = Settings.from_env({"CITEQA_ANSWER_THRESHOLD": "0.9", "CITEQA_ABSTAIN_THRESHOLD": "0.6"},
                          index_dir=tmp_path, cache_dir=tmp_path)
    assert (s.abstain_threshold, s.answer_threshold) == (0.6, 0.9)
    with pytest.raises(SettingError, match="CITEQA_ANSWER_THRESHOLD"):
        Settings.from_env({"CITEQA_ANSWER_THRESHOLD": "0.5", "CITEQA_ABSTAIN_THRESHOLD": "0.6"},
                          index_dir=tmp_path, cache_dir=tmp_path)
    with pytest.raises(SettingError, match="a number"):
        Settings.from_env({"CITEQA_ANSWER_THRESHOLD": "high"}, index_dir=tmp_path, cache_dir=tmp_path)
    unset = Settings.from_env({}, index_dir=tmp_path, cache_dir=tmp_path)
    assert AbstainSettings.configured(threshold=unset.abstain_threshold) == AbstainSettings()  # calibrated, once


def _quoted(question: str, bundled) -> Answer:
    p = bundled.passages[0]
    return Answer(question, p.text[:12] + "[1]。", True, (Hit(p, 0.9, 0, 12),), Outcome.ANSWERED, 0.9)


@pytest.mark.parametrize(("question", "lang"), [("台灣有多少邦交國？", "zh-Hant"), ("台湾有多少邦交国？", "zh-Hans"),
                                                ("How many allies does Taiwan have?", "en")])
def test_an_uncertain_reply_says_so_first_then_quotes_with_markers(bundled, question, lang):
    a = uncertain(_quoted(question, bundled), 0.55)
    assert a.answer.startswith(UNCERTAIN_NOTE[lang]) and a.answer.endswith("[1]。")
    assert a.outcome is Outcome.UNCERTAIN and not a.grounded and a.confidence == 0.55 and a.citations
    d = a.to_dict()
    assert d["outcome"] == "uncertain" and d["grounded"] is False and d["citations"][0]["quote_end"] == 12


def test_the_chat_shows_confidence_in_words_and_the_uncertain_state_apart(bundled):
    sure = _quoted("台灣有多少邦交國？", bundled)
    unsure = uncertain(sure, 0.55)
    high, mid = answer_html(sure, 1), answer_html(unsure, 2)
    assert "信心：高" in high and 'title="答案正確的可能性約 90%"' in high
    assert '<span class="citeqa-sr">（答案正確的可能性約 90%）</span>' in high  # read by screen readers
    assert "citeqa-uncertain" not in high and "citeqa-abstain" not in high
    assert "信心：低" in mid and "citeqa-uncertain" in mid and "不確定" in mid and "相關段落（1）" in mid
    assert 'href="#citeqa-msrc-2-1"' in mid  # its markers link to its sources as an answer's do
    low = confidence_html(Answer("q", "a", False, (), Outcome.UNCERTAIN, 0.2))
    assert "信心：低" in low and "citeqa-conf-low" in low
    assert confidence_html(Answer("q", "a", False, (), Outcome.NOT_FOUND, 0.2)) == ""  # nothing quoted as an answer
    panel = sources_html([(1, sure), (2, unsure)])
    assert "文件可能沒有直接回答" in panel and panel.count('class="citeqa-source"') == 2


def _random_evidence(rng: random.Random) -> Evidence:
    maybe = lambda v: None if rng.random() < 0.2 else v  # noqa: E731
    return Evidence(rng.uniform(0.6, 0.95), rng.random() < 0.2, maybe(rng.random()),
                    maybe(rng.random() < 0.5), maybe(rng.uniform(0.6, 0.95)), maybe(rng.uniform(0.6, 0.95)),
                    maybe(rng.uniform(0.6, 0.95)))


def test_calibration_scores_exactly_as_a_question_is_scored():
    """The calibration's array arithmetic and the per-question decision are one formula (a test ties them)."""
    rng = random.Random(7)
    samples = [Sample("fact", True, _random_evidence(rng)) for _ in range(300)]
    cols = _Columns(samples)
    other = AbstainSettings(intercept=-5.0, weights=(8.0, -2.0, -1.0, -30.0, 0.5), chat_prior=0.02)
    for s in (AbstainSettings(), S, other):
        expected = np.array([sigmoid(log_odds(x.evidence, s)) for x in samples])  # type: ignore[arg-type]
        assert np.allclose(cols.confidence(s), expected)
        turns = np.array([conversational(x.evidence, s) for x in samples])  # type: ignore[arg-type]
        assert (cols.conversation(s) == turns).all()
        answered = np.array([outcome(x.evidence, s) is Outcome.ANSWERED for x in samples])  # type: ignore[arg-type]
        assert (cols.answered(s) == answered).all()


def test_calibration_keeps_confident_answers_to_unanswerable_questions_under_the_cap():
    rng = random.Random(3)
    samples = [Sample("fact", True, Evidence(rng.uniform(0.75, 0.95), False, None), quote_correct=rng.random() < 0.9)
               for _ in range(100)]
    samples += [Sample("unanswerable", False, Evidence(rng.uniform(0.6, 0.9), False, None)) for _ in range(100)]
    for cap in (0.05, 0.10, 0.20):
        result = calibrate(samples, max_false_abstain=0.03, max_confidently_wrong=cap)
        assert result.confidently_wrong <= cap and result.false_abstain_rate <= 0.03
        assert result.settings.answer_threshold >= result.settings.threshold
        held_out = held_out_figures(result.settings, samples)
        assert held_out["confidently_wrong"] == pytest.approx(result.confidently_wrong)


def _result(qid, kind, outcome, quote_right, confidence, ranks=(1,)):
    answered = outcome == "answered"
    return QuestionResult(qid, kind, ranks if kind != "unanswerable" else (), 1.0, 1.0, answered,
                          answered and quote_right if kind != "unanswerable" else not answered, 1.0, outcome, "",
                          confidence, quote_right)


def test_eval_counts_what_users_meet_by_outcome():
    results = [
        _result("a", "fact", "answered", True, 0.95), _result("b", "fact", "answered", False, 0.91),
        _result("c", "fact", "uncertain", True, 0.55), _result("d", "fact", "not_found", False, 0.1),
        _result("e", "unanswerable", "answered", False, 0.85), _result("f", "unanswerable", "uncertain", False, 0.6),
        _result("g", "unanswerable", "not_found", False, 0.1), _result("h", "unanswerable", "not_found", False, 0.2),
    ]
    m = RetrieverReport("hybrid", results).metrics()
    assert m["answered_right"] == 0.25 and m["shown_right"] == 0.5 and m["wrongly_declined"] == 0.25
    assert m["confidently_wrong"] == 0.25 and m["uncertain_rate"] == 0.25
    bands = {b["band"]: (b["questions"], b["accuracy"]) for b in m["reliability"]}
    assert bands == {"0.9-1.0": (2, 0.5), "0.8-0.9": (1, 0.0), "0.5-0.6": (1, 1.0), "0.6-0.7": (1, 0.0)}
