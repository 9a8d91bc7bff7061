"""The eval with the real model: the CI quality gate on the test split, and `citeqa eval` with its report.

The metric arithmetic is checked by hand on a stub engine in tests/fast/test_eval_metrics.py.
"""

from __future__ import annotations

import json

from citeqa.eval.dataset import BUNDLED_EVAL_SET
from citeqa.eval.run import RetrieverReport

# The CI gate, on the test split's single questions (never tuned on); its follow-up pairs have their
# own gate (tests/model/test_real_followups.py). Floors and ceilings set from measurement, a few
# questions below it (measured on the 640-question test split, December 2026, with the fitted
# decision model and list questions needing every item: R@5 0.984, MRR 0.901, answered and right 0.836,
# shown and right 0.904, answerable
# wrongly declined 0.043, confidently wrong 0.167, off-topic declined 0.955, conversation turns
# recognised 0.972); README, "Measured".
GATE = {
    "R@5": 0.96, "MRR@10": 0.88, "answered_right": 0.82, "shown_right": 0.89, "offtopic_declined": 0.94,
    "conversation_recognised": 0.94,
}
# Ceilings, so that answering more cannot buy the floors, nor declining more.
CEILING = {"wrongly_declined": 0.06, "confidently_wrong": 0.19}
# The blind batches kept out of calibration entirely. heldout-w4 measured: off-topic 1.0, conversation
# 1.0, answered and right 0.792, shown and right 0.917, wrongly declined 0.042, confidently wrong 0.077.
HELD_OUT_GATE = {"offtopic_declined": 0.9, "conversation_recognised": 0.85, "answered_right": 0.74,
                 "shown_right": 0.87}
HELD_OUT_CEILING = {"wrongly_declined": 0.09, "confidently_wrong": 0.16}
# heldout-w8 (near misses that name a different value of the same kind, domain-near general knowledge)
# measured: answered and right 0.914, shown and right 0.943, wrongly declined 0.043, confidently wrong
# 0.202 — over the 0.10 target (README, "Measured"); the ceiling keeps it from growing.
W8_GATE = {"answered_right": 0.88, "shown_right": 0.91}
W8_CEILING = {"wrongly_declined": 0.07, "confidently_wrong": 0.24}


def _failures(m, floors, ceilings):
    failed = {k: (m[k], v) for k, v in floors.items() if m[k] < v}
    return failed | {k: (m[k], v) for k, v in ceilings.items() if m[k] > v}


def test_quality_gate_on_test_split(real_test_split_eval):
    single = [r for r in real_test_split_eval["hybrid"].results if r.kind != "followup"]
    m = RetrieverReport("hybrid", single).metrics()
    assert m["questions"] == 640
    failed = _failures(m, GATE, CEILING)
    assert not failed, f"below the gate (measured, threshold): {failed}"


def test_quality_gate_on_the_held_out_blind_batches(real_test_split_eval):
    batches = real_test_split_eval["hybrid"].metrics()["by_batch"]
    failed = _failures(batches["heldout-w4"], HELD_OUT_GATE, HELD_OUT_CEILING)
    failed |= {f"w8 {k}": v for k, v in _failures(batches["heldout-w8"], W8_GATE, W8_CEILING).items()}
    assert not failed, f"below the gate (measured, threshold): {failed}"


def test_hybrid_ranks_evidence_above_the_peer_baseline(real_test_split_eval):
    hybrid, peer = (real_test_split_eval[n].metrics() for n in ("hybrid", "peer"))
    assert hybrid["MRR@10"] > peer["MRR@10"], (hybrid["MRR@10"], peer["MRR@10"])


def test_eval_cli_writes_report(real_cli, capsys, tmp_path):
    lines = [line for line in BUNDLED_EVAL_SET.read_text(encoding="utf-8").splitlines() if '"split": "dev"' in line]
    small = tmp_path / "ten.jsonl"
    small.write_text("\n".join(lines[:10]) + "\n", encoding="utf-8")
    report = tmp_path / "report"
    code = real_cli(["eval", "--set", str(small), "--json", "--quiet", "--report", str(report)])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert set(summary) == {"questions", "split", "model", "retrievers"}
    assert summary["questions"] == 10 and summary["split"] is None
    assert set(summary["retrievers"]) == {"bm25", "dense", "hybrid", "peer"}
    for name, m in summary["retrievers"].items():
        assert m["questions"] == 10 and {"R@1", "R@5", "MRR@10", "nDCG@10", "by_kind"} <= set(m), name
        assert ("answer_accuracy" in m) == (name != "peer"), name  # the peer baseline has no answerer
    assert sorted(p.name for p in report.iterdir()) == ["report.json", "report.md", "report.png"]
    assert json.loads((report / "report.json").read_text(encoding="utf-8")) == summary
    assert (report / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (report / "report.md").read_text(encoding="utf-8")
    assert "10 questions" in md and all(f"| {n} |" in md for n in summary["retrievers"])
    assert err.count("wrote ") == 3
