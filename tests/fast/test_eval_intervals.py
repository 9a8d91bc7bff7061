"""Intervals, n/a and run-versus-run comparison of the eval (no model: results made by hand)."""

from __future__ import annotations

import json
import random

import pytest

from citeqa.cli import main
from citeqa.eval.dataset import EvalQuestion
from citeqa.eval.figures import figures, paired
from citeqa.eval.report import markdown, write_report
from citeqa.eval.run import QuestionResult, RetrieverReport


def _fact(qid: str, right: bool, rank: int | None = 1, batch: str = "") -> QuestionResult:
    return QuestionResult(qid, "fact", (rank,), 1.0 if rank == 1 else 0.0, 10.0, right, right, 12.0,
                          "answered" if right else "not_found", batch, 0.9 if right else 0.1, right)


def _turn(qid: str) -> QuestionResult:
    return QuestionResult(qid, "conversation", (), 0.0, 5.0, False, True, 6.0, "conversation", "", None, False)


def test_figures_carry_95_percent_intervals_around_them():
    rng = random.Random(1)
    results = [_fact(f"q{i}", rng.random() < 0.8) for i in range(300)]
    points, ci = figures(results)
    low, high = ci["answered_right"]
    assert low <= points["answered_right"] <= high and 0.04 < high - low < 0.2  # about ±0.045 at n=300, p=0.8
    assert ci["R@1"] == [1.0, 1.0]  # every question found at rank 1: no spread
    assert figures(results) == (points, ci)  # reproducible: the seed is fixed


def test_a_figure_that_does_not_apply_is_none_and_prints_n_a(tmp_path):
    m = RetrieverReport("hybrid", [_fact("q1", True), _turn("c1")]).metrics()
    turns = m["by_kind"]["conversation"]
    assert turns["R@5"] is None and turns["MRR@10"] is None and turns["answered_right"] is None
    assert turns["conversation_recognised"] == 1.0 and "R@5" not in turns["ci95"]
    summary = {"questions": 2, "split": None, "retrievers": {"hybrid": m}}
    md = markdown(summary)
    conversation_table = md.split("## conversation")[1].split("##")[0]
    assert "n/a" in conversation_table and "0.000" not in conversation_table
    assert "[" in md.split("## conversation")[0]  # intervals under the overall figures
    paths = write_report(summary, tmp_path)
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_paired_differences_mark_what_is_beyond_noise():
    a = [_fact(f"q{i}", i % 10 < 6) for i in range(400)]  # 60 % right
    b_better = [_fact(f"q{i}", i % 10 < 8) for i in range(400)]  # 80 %: the same questions plus 80 more
    b_same = [_fact(f"q{i}", (i + 1) % 10 < 6) for i in range(400)]  # 60 %, other questions
    d = paired(a, b_better)["answered_right"]
    assert d.diff == pytest.approx(0.2) and d.significant and d.low > 0.1
    same = paired(a, b_same)["answered_right"]
    assert same.diff == 0.0 and not same.significant and same.low < 0 < same.high


def test_a_list_question_needs_every_item():
    q = EvalQuestion("q1", "賴總統過境美國哪些地方？", "fact", "dev", ("過境美國檀香山與關島",), ("檀香山",), "", "",
                     ("檀香山", "關島"))
    assert q.answered_by("過境美國檀香山與關島[1]。")
    assert not q.answered_by("過境檀香山[1]。")  # one of two places: not the answer to 哪些
    assert EvalQuestion("q2", "過境哪裡？", "fact", "dev", ("過境檀香山",), ("檀香山",)).answered_by("檀香山")


def _save(tmp_path, name, results):
    m = RetrieverReport("hybrid", results).metrics()
    path = tmp_path / name
    path.write_text(json.dumps({"questions": len(results), "split": None, "retrievers": {"hybrid": m}}), "utf-8")
    return path


def test_compare_prints_differences_with_intervals(tmp_path, capsys):
    a = _save(tmp_path, "a.json", [_fact(f"q{i}", i % 10 < 6, batch="b1") for i in range(300)])
    b = _save(tmp_path, "b.json", [_fact(f"q{i}", i % 10 < 9, batch="b1") for i in range(300)])
    assert main(["eval", "--compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("answered_right"))
    assert "0.600" in line and "0.900" in line and "+0.300" in line and line.endswith("*")
    assert "batch:b1" in out and "kind:fact" in out
    assert main(["eval", "--compare", str(a), str(b), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    fig = data["retrievers"]["hybrid"]["all"]["figures"]["answered_right"]
    assert fig["significant"] and fig["ci95"][0] > 0.2 and data["retrievers"]["hybrid"]["all"]["questions"] == 300


def test_compare_refuses_what_is_not_a_saved_run(tmp_path, capsys):
    good = _save(tmp_path, "a.json", [_fact("q1", True)])
    bad = tmp_path / "bad.json"
    bad.write_text('{"retrievers": {"hybrid": {"R@5": 1.0}}}', "utf-8")
    assert main(["eval", "--compare", str(good), str(bad)]) == 2
    assert "per-question" in capsys.readouterr().err
    bad.write_text("not json", "utf-8")
    assert main(["eval", "--compare", str(good), str(bad)]) == 2
    assert main(["eval", "--compare", str(good), str(tmp_path / "missing.json")]) == 2
