"""Eval metrics and calibration, and ``run_eval``'s arithmetic checked by hand on a stub engine.

The eval on the real model (the CI quality gate, ``citeqa eval``) is in tests/model/test_real_eval.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from citeqa.corpus import Passage
from citeqa.eval.calibrate import Sample, calibrate
from citeqa.eval.dataset import EvalQuestion
from citeqa.eval.metrics import answer_correct, covers, evidence_ranks, mrr_at, ndcg_at, recall_at
from citeqa.eval.run import run_eval
from citeqa.qa.decision.score import Evidence, outcome
from citeqa.qa.types import Answer, Hit, Outcome


def test_covers_is_chunking_independent():
    ev = "我駐孟買辦事處 10 月正式揭牌對外運作"
    assert covers("……我駐孟買辦事處 10 月正式揭牌對外運作，獲得印度各界祝賀", ev)
    assert covers("前文。我駐孟買辦事處 10 月", ev)  # a chunk boundary cut the span: half of it is here
    assert covers("10 月正式揭牌對外運作，獲得", ev)
    assert not covers("正式揭牌對外運作，獲得", ev)  # under half of the span
    assert not covers("我駐孟", ev)
    assert covers("我驻孟买办事处10月正式揭牌对外运作", ev)  # script and spaces do not matter


def test_rank_metrics():
    texts = ["無關", "甲乙丙丁戊己庚", "無關", "子丑寅卯辰巳午"]
    ranks = evidence_ranks(texts, ["甲乙丙丁戊己庚", "子丑寅卯辰巳午"])
    assert ranks == [2, 4]
    assert recall_at(ranks, 1) == 0 and recall_at(ranks, 3) == 0.5 and recall_at(ranks, 5) == 1
    assert mrr_at(ranks) == 0.5
    assert 0 < ndcg_at(texts, ["甲乙丙丁戊己庚"]) < 1
    assert ndcg_at(["甲乙丙丁戊己庚"], ["甲乙丙丁戊己庚"]) == pytest.approx(1.0)


def test_answer_correct_normalises():
    assert answer_correct("迄已 19 度宣布對台軍售[1]。", ["19 度"])
    assert answer_correct("設置「INGO在臺灣設點專區」", ["INGO在台湾设点专区"])
    assert not answer_correct("迄已多次宣布", ["19 度"])


def test_calibration_respects_the_false_abstention_cap():
    pos = [Sample("fact", True, Evidence(0.80 + i / 1000, False, None), quote_correct=True) for i in range(100)]
    neg = [Sample("unanswerable", False, Evidence(0.78 + i / 1000, False, None)) for i in range(20)]
    c = calibrate(pos + neg, max_false_abstain=0.03)
    assert c.false_abstain_rate <= 0.03
    assert c.abstain_recall == 1.0  # the cosines alone separate them here: 0.80-0.90 against 0.78-0.80
    shown = [outcome(x.evidence, c.settings) is not Outcome.NOT_FOUND for x in pos + neg]
    assert sum(shown[:100]) >= 97 and not any(shown[100:])  # under the answerable scores, over the others
    assert c.weights()["sentence_cosine"] > 0


def test_calibration_finds_the_background_contrast_and_the_conversation_margin():
    """Off-topic questions the cosine cannot tell apart (0.85 both) are told apart by generic text;
    conversation turns by the bank's chit-chat."""
    doc = [Sample("fact", True, Evidence(0.85 + i / 1000, False, None, None, 0.80, 0.80, 0.80), quote_correct=True)
           for i in range(60)]
    off = [Sample("offtopic", False, Evidence(0.85 + i / 1000, False, None, None, 0.80, 0.92, 0.93)) for i in range(20)]
    turn = [Sample("conversation", False, Evidence(0.83, False, None, None, 0.95, 0.85, 0.95)) for _ in range(10)]
    c = calibrate(doc + off + turn, max_false_abstain=0.03)
    assert c.false_abstain_rate == 0.0 and c.offtopic_declined == 1.0 and c.conversation_recognised == 1.0
    assert c.weights()["background_excess"] < 0 and c.settings.conversation_margin <= 0.12


# --- run_eval on a stub engine whose rankings and answers are chosen -----------------------------

E1, E2A, E2B, E3 = "甲乙丙丁戊己庚辛", "子丑寅卯辰巳午未", "春夏秋冬東南西北", "金木水火土日月星"


def _filler(n: int) -> str:
    return f"填充段落第{n}號"  # shares no character with any evidence span


QUESTIONS = [
    EvalQuestion("q1", "問一", "fact", "test", (E1,), ("丙丁",)),
    EvalQuestion("q2", "問二", "multi", "test", (E2A, E2B), ("寅卯",)),
    EvalQuestion("q3", "問三", "fact", "test", (E3,), ("水火",)),
    EvalQuestion("q4", "問四", "unanswerable", "test", (), ()),
    EvalQuestion("q5", "問五", "unanswerable", "test", (), ()),
]
# What "hybrid" returns, best first: q1's evidence at rank 2; q2's spans at ranks 1 and 4; q3's nowhere.
RANKED = {
    "問一": [_filler(1), E1, _filler(2)],
    "問二": [E2A, _filler(1), _filler(2), E2B],
    "問三": [_filler(n) for n in range(10)],
    "問四": [_filler(1)],
    "問五": [_filler(1)],
}
# What the peer baseline returns: q1 at rank 1; q2 one span at rank 6, the other nowhere; q3 at rank 3.
PEER = {
    "問一": [E1],
    "問二": [*(_filler(n) for n in range(5)), E2A],
    "問三": [_filler(1), _filler(2), E3],
    "問四": [],
    "問五": [],
}
# q1 right; q2 grounded but wrong; q3 wrongly abstained; q4 rightly abstained; q5 answered though unanswerable.
ANSWERS = {
    "問一": Answer("問一", "答案是丙丁[1]。", True, ()),
    "問二": Answer("問二", "答案是秋冬[1]。", True, ()),
    "問三": Answer("問三", "文件中沒有提到。", False, ()),
    "問四": Answer("問四", "文件中沒有提到。", False, ()),
    "問五": Answer("問五", "編造的答案[1]。", True, ()),
}


class StubEngine:
    """What ``run_eval`` uses of an Engine: ``search`` in the order above and an answerer giving ANSWERS."""

    def __init__(self) -> None:
        self.retrievers = {"hybrid": None}
        self.settings = SimpleNamespace(top_k=5)
        self.embedder = object()  # no query cache to clear

    def search(self, query: str, k: int, retriever: str = "hybrid") -> list[Hit]:
        assert retriever == "hybrid"
        texts = RANKED[query][:k]
        return [Hit(Passage(f"p{i}", "s.txt", (), f"p{i}", t, 0, 1), 1.0 / (i + 1)) for i, t in enumerate(texts)]

    def answerer_for(self, name: str) -> StubEngine:
        return self

    def documents(self) -> list:
        return []  # no collection to count relevant passages in: nDCG's ideal is the fewest possible

    def answer(self, question: str, k: int | None = None) -> Answer:
        return ANSWERS[question]


def test_run_eval_metrics_equal_hand_computed_values():
    reports = run_eval(StubEngine(), QUESTIONS, ("hybrid", "peer"), peer_search=lambda q, k: PEER[q][:k],
                       progress=False)
    m = reports["hybrid"].metrics()
    # Retrieval over the 3 answerable questions; evidence ranks q1 (2), q2 (1, 4), q3 (none).
    #   R@1 = (0 + 1/2 + 0) / 3 = 0.1667    R@3 = (1 + 1/2 + 0) / 3 = 0.5    R@5 = R@10 = (1 + 1 + 0) / 3 = 0.6667
    #   MRR@10 = (1/2 + 1/1 + 0) / 3 = 0.5
    #   nDCG@10: q1 = (1/log2 3) / 1 = 0.63093; q2 = (1 + 1/log2 5) / (1 + 1/log2 3) = 1.43068 / 1.63093
    #   = 0.87722; q3 = 0; mean = 1.50815 / 3 = 0.5027
    assert (m["questions"], m["answerable"]) == (5, 3)
    assert (m["R@1"], m["R@3"], m["R@5"], m["R@10"]) == (0.1667, 0.5, 0.6667, 0.6667)
    assert m["MRR@10"] == 0.5 and m["nDCG@10"] == 0.5027
    # Answers: of q1-q3 only q1 is right (1/3); q3 is a wrong abstention (1/3 of the answerable);
    # of q4-q5 only q4 abstained (1/2); of the two abstentions (q3, q4) one was right (1/2).
    assert m["answer_accuracy"] == 0.3333 and m["false_abstain_rate"] == 0.3333
    assert m["abstain_recall"] == 0.5 and m["abstain_precision"] == 0.5
    # By kind: fact = q1, q3 (R@5 (1 + 0) / 2); multi = q2 (R@1 1/2); unanswerable = q4, q5.
    assert m["by_kind"]["fact"]["R@5"] == 0.5 and m["by_kind"]["fact"]["answer_accuracy"] == 0.5
    assert m["by_kind"]["multi"]["R@1"] == 0.5 and m["by_kind"]["multi"]["R@5"] == 1.0
    assert m["by_kind"]["unanswerable"]["answerable"] == 0 and m["by_kind"]["unanswerable"]["abstain_recall"] == 0.5

    p = reports["peer"].metrics()
    # The peer baseline: ranks q1 (1), q2 (6, none), q3 (3); it has no answerer, so no answer figures.
    #   R@1 = (1 + 0 + 0) / 3 = 0.3333    R@3 = R@5 = (1 + 0 + 1) / 3 = 0.6667    R@10 = (1 + 1/2 + 1) / 3 = 0.8333
    #   MRR@10 = (1 + 1/6 + 1/3) / 3 = 0.5
    #   nDCG@10: q1 = 1; q2 = (1/log2 7) / 1.63093 = 0.35621 / 1.63093 = 0.21841; q3 = 1/log2 4 = 0.5;
    #   mean = 1.71841 / 3 = 0.5728
    assert (p["R@1"], p["R@3"], p["R@5"], p["R@10"]) == (0.3333, 0.6667, 0.6667, 0.8333)
    assert p["MRR@10"] == 0.5 and p["nDCG@10"] == 0.5728
    assert "answer_accuracy" not in p and "abstain_recall" not in p
