"""Eval metrics, calibration, the `citeqa eval` command, and the CI quality gate on the test split."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from citeqa.eval.calibrate import Sample, calibrate
from citeqa.eval.dataset import load_eval_set
from citeqa.eval.metrics import answer_correct, covers, evidence_ranks, mrr_at, ndcg_at, recall_at
from citeqa.eval.run import run_eval
from citeqa.qa.grounding import Evidence


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
    pos = [Sample(True, Evidence(0.80 + i / 1000, 1.0, None)) for i in range(100)]
    neg = [Sample(False, Evidence(0.78 + i / 1000, 0.0, None)) for i in range(20)]
    c = calibrate(pos + neg, max_false_abstain=0.03)
    assert c.false_abstain_rate <= 0.03
    assert c.abstain_recall == 1.0  # coverage separates them perfectly here


def test_run_eval_on_fake_engine_reports_every_retriever(fake_engine):
    qs = load_eval_set(None, "dev")[:12]
    reports = run_eval(fake_engine, qs, ("bm25", "dense", "hybrid"), progress=False)
    for name, rep in reports.items():
        m = rep.metrics()
        assert m["questions"] == 12 and 0 <= m["R@5"] <= 1 and "by_kind" in m, name
        assert m["R@1"] <= m["R@3"] <= m["R@5"] <= m["R@10"]


@pytest.mark.slow
def test_eval_cli_writes_report(real_env, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "citeqa", "eval", "--split", "dev", "--json", "--quiet", "--report", str(tmp_path)],
        env=real_env, capture_output=True, text=True, timeout=900,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["questions"] == 211 and set(out["retrievers"]) == {"bm25", "dense", "hybrid", "peer"}
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| hybrid |" in (tmp_path / "report.md").read_text(encoding="utf-8")
    hybrid, peer = out["retrievers"]["hybrid"], out["retrievers"]["peer"]
    assert hybrid["MRR@10"] > peer["MRR@10"]


# The CI gate, on the test split (never tuned on). Floors and ceiling set from measurement, a few
# questions below it (measured R@5 0.976, MRR 0.883, accuracy 0.895, abstained 0.652, wrongly 0.035); README.
GATE = {"R@5": 0.95, "MRR@10": 0.84, "answer_accuracy": 0.87, "abstain_recall": 0.6}
# A ceiling on wrong abstentions, so that abstaining more cannot buy the abstention floor.
CEILING = {"false_abstain_rate": 0.06}


@pytest.mark.slow
def test_quality_gate_on_test_split(real_engine):
    qs = load_eval_set(None, "test")
    m = run_eval(real_engine, qs, ("hybrid",), progress=False)["hybrid"].metrics()
    failed = {k: (m[k], v) for k, v in GATE.items() if m[k] < v}
    failed |= {k: (m[k], v) for k, v in CEILING.items() if m[k] > v}
    assert not failed, f"below the gate (measured, threshold): {failed}"
