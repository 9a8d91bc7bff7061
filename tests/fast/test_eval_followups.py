"""Follow-up rows of the eval set: the ``previous`` field, and ``run_eval`` asking them as the chat does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citeqa.errors import InputError
from citeqa.eval.dataset import FOLLOWUP, KINDS, EvalQuestion, load_eval_set
from citeqa.eval.report import markdown
from citeqa.eval.run import run_eval
from citeqa.qa.query import resolve_follow_up

MUMBAI = "駐孟買辦事處何時揭牌？"
ROW = {
    "id": "q1",
    "question": "那荷蘭呢？",
    "kind": "followup",
    "split": "dev",
    "evidence": ["我駐孟買辦事處 10 月正式揭牌對外運作"],
    "answers": ["10 月"],
    "previous": MUMBAI,
}


def _write(tmp_path: Path, *rows: dict) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_follow_up_row_loads_with_its_previous_question(tmp_path):
    alone = {**ROW, "id": "q2", "kind": "fact", "question": MUMBAI}
    alone.pop("previous")
    after_greeting = {**ROW, "id": "q3", "kind": "conversation", "question": "謝謝", "evidence": [], "answers": []}
    rows = load_eval_set(_write(tmp_path, ROW, alone, after_greeting))
    assert [q.previous for q in rows] == [MUMBAI, "", MUMBAI]  # any kind may follow a question
    assert rows[0].kind == FOLLOWUP in KINDS and rows[0].answerable


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({k: v for k, v in ROW.items() if k != "previous"}, "needs the 'previous' question"),
        ({**ROW, "previous": ""}, "'previous' must be a non-empty string"),
        ({**ROW, "previous": ["駐孟買辦事處何時揭牌？"]}, "'previous' must be a non-empty string"),
        ({**ROW, "previous": " 那荷蘭呢？ "}, "repeats the question"),
        ({**ROW, "prev": MUMBAI}, "unknown field"),
    ],
)
def test_rejects_a_bad_previous_field(tmp_path, bad, message):
    with pytest.raises(InputError, match=message) as info:
        load_eval_set(_write(tmp_path, bad))
    assert "set.jsonl, line 1" in str(info.value)


def test_bundled_follow_ups_are_two_blind_batches():
    rows = [q for q in load_eval_set() if q.kind == FOLLOWUP]
    batches = {b: [q for q in rows if q.batch == b] for b in {q.batch for q in rows}}
    assert set(batches) == {"blind-w2", "blind-w7"}
    assert len(batches["blind-w2"]) == 12 and {q.split for q in batches["blind-w2"]} == {"dev"}
    assert len(batches["blind-w7"]) >= 30 and {q.split for q in batches["blind-w7"]} == {"test"}  # measured only
    assert all(q.previous and q.previous != q.question for q in rows)


def test_every_dev_follow_up_is_read_as_one():
    """The dev pairs (tuned on): each is recognised as leaning on its previous question."""
    dev = [q for q in load_eval_set(split="dev") if q.previous]
    assert not [q.question for q in dev if resolve_follow_up(q.question, q.previous) is None]


class _Spy:
    """The engine, recording what ``run_eval`` searches for and which questions it asks with a previous one."""

    def __init__(self, engine) -> None:
        self.engine, self.retrievers, self.settings, self.embedder = engine, engine.retrievers, engine.settings, None
        self.index, self.documents = engine.index, engine.documents
        self.searched: list[str] = []
        self.asked: list[tuple[str, str | None]] = []

    def search(self, query, k, retriever="hybrid"):
        self.searched.append(query)
        return self.engine.search(query, k, retriever)

    def answerer_for(self, name):
        return self.engine.answerer_for(name)

    def ask_with(self, answerer, question, k=None, *, previous=None):
        self.asked.append((question, previous))
        return self.engine.ask_with(answerer, question, k, previous=previous)


def test_run_eval_asks_follow_ups_with_their_previous_question(fake_engine):
    evidence = ("荷蘭首次派遣軍艦通過台灣海峽",)
    follow = EvalQuestion("q1", "那荷蘭呢？", FOLLOWUP, "dev", evidence, ("荷蘭",), "b", MUMBAI)
    alone = EvalQuestion("q2", MUMBAI, "fact", "dev", ("我駐孟買辦事處 10 月正式揭牌對外運作",), ("10 月",))
    spy = _Spy(fake_engine)
    report = run_eval(spy, [follow, alone], ("hybrid",), progress=False)["hybrid"]
    assert spy.searched == ["駐荷蘭辦事處何時揭牌？", MUMBAI]  # searched as the engine searches it
    assert spy.asked == [("那荷蘭呢？", MUMBAI)]  # only the follow-up goes through Engine.ask_with
    m = report.metrics()
    assert set(m["by_kind"]) == {"fact", FOLLOWUP} and m["by_kind"][FOLLOWUP]["questions"] == 1
    summary = {"questions": 2, "split": "dev", "retrievers": {"hybrid": m}}
    assert "## followup" in markdown(summary)
