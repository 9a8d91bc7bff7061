"""Follow-up questions on the real model: the blind follow-up pairs, gated, and the issue's example.

The resolver itself is checked with the fake model in tests/fast/test_follow_up.py.
"""

from __future__ import annotations

from citeqa.eval.dataset import FOLLOWUP, load_eval_set
from citeqa.eval.metrics import answer_correct

# The test split's follow-up pairs (blind batch blind-w7, never tuned on). Measured on its 36 pairs
# with multilingual-e5-small-q4 (hybrid): accuracy 0.639, R@5 0.861, wrongly declined 0.139; the old
# code (the follow-up answered as typed, retrieved with the previous question) got accuracy 0.556, and
# asking the follow-up with no previous question 0.500.
GATE = {"answer_accuracy": 0.58, "R@5": 0.80}
CEILING = {"wrongly_declined": 0.22}
# Accuracy gained over asking each follow-up without its previous question (measured +0.139, 5 of 36).
MIN_GAIN = 0.08
# The dev pairs (blind-w2, tuned on): measured 11 of 12 answered right.
MIN_DEV_RIGHT = 10


def test_quality_gate_on_the_test_follow_ups(real_test_split_eval):
    m = real_test_split_eval["hybrid"].metrics()["by_kind"][FOLLOWUP]
    assert m["questions"] >= 30
    failed = {k: (m[k], v) for k, v in GATE.items() if m[k] < v}
    failed |= {k: (m[k], v) for k, v in CEILING.items() if m[k] > v}
    assert not failed, f"below the gate (measured, threshold): {failed}"


def test_the_previous_question_helps_on_the_test_follow_ups(real_engine, real_test_split_eval):
    rows = {q.id: q for q in load_eval_set(None, "test") if q.kind == FOLLOWUP}
    with_previous = [r.correct for r in real_test_split_eval["hybrid"].results if r.qid in rows]
    alone = [
        (a := real_engine.answerer.answer(q.question)).grounded and answer_correct(a.answer, q.answers)
        for q in rows.values()
    ]
    gain = (sum(map(bool, with_previous)) - sum(alone)) / len(rows)
    assert gain >= MIN_GAIN, (gain, MIN_GAIN)


def test_dev_follow_ups_are_answered(real_engine):
    rows = [q for q in load_eval_set(None, "dev") if q.kind == FOLLOWUP]
    right = []
    for q in rows:
        a = real_engine.ask(q.question, previous=q.previous)
        right.append(a.grounded and answer_correct(a.answer, q.answers))
    assert sum(right) >= MIN_DEV_RIGHT, [q.question for q, ok in zip(rows, right, strict=True) if not ok]


def test_palau_after_the_december_trip_is_asked_about_palau(real_engine):
    """Issue 17: 「那帛琉呢？」 after a question about the president's December trip."""
    previous = "總統12月出訪在馬紹爾群島見證了什麼？"
    first = real_engine.ask(previous)
    a = real_engine.ask("那帛琉呢？", previous=previous)
    assert a.question == "那帛琉呢？" and a.resolved == "總統12月出訪在帛琉見證了什麼？"
    assert a.to_dict()["resolved"] == a.resolved
    assert a.grounded and "國會數位轉型計畫" in a.answer and a.answer != first.answer
