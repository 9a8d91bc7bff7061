"""``eval.draft`` and ``citeqa eval --draft``: drafted rows are exact, loadable, deterministic, and marked a draft.

In process and from a Markdown file in a temp folder: drafting with PATHs loads no model.
"""

from __future__ import annotations

import json
import os
from datetime import date

import pytest

from citeqa.cli import main
from citeqa.corpus import load_corpus
from citeqa.errors import InputError
from citeqa.eval.dataset import load_eval_set
from citeqa.eval.draft import draft_eval_set, draft_jsonl

DAY = date(2026, 12, 1)
DOC = """# 員工手冊

## 特別休假

員工到職滿6個月者，享有3天特別休假。到職滿3年者，每年享有14天特別休假。新進員工的試用期為3個月。

## 停車

每月費用為新台幣1,500元。

## 資訊安全

資訊安全長為陳柏翰副總經理，重大資安事件須於1小時內通報。

演練依「澄川資安規範」辦理，由北辰資安顧問股份有限公司執行。
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in [k for k in os.environ if k.startswith("CITEQA_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def doc(tmp_path):
    path = tmp_path / "docs" / "handbook.md"
    path.parent.mkdir()
    path.write_text(DOC, encoding="utf-8")
    return path


@pytest.fixture
def rows(doc):
    corpus = load_corpus([doc])
    return draft_eval_set(corpus.passages, corpus.documents, day=DAY)


def test_evidence_is_exact_and_holds_the_answer(rows):
    facts = [r for r in rows if r.kind == "fact"]
    assert len(facts) >= 6
    for r in facts:
        assert len(r.evidence) == 1 and r.evidence[0] in DOC
        assert all(a in r.evidence[0] for a in r.answers)
        assert all(a not in r.question for a in r.answers)
        assert r.question.endswith("？") and r.split == "test" and r.batch == "draft-2026-12-01"
    assert [r.id for r in rows] == [f"draft-{n:04d}" for n in range(1, len(rows) + 1)]


def test_known_sentences_give_the_expected_questions(rows):
    by_question = {r.question: r.answers for r in rows if r.kind == "fact"}
    assert by_question["員工到職滿6個月者，享有幾天特別休假？"] == ("3天",)
    assert by_question["資訊安全長為誰？"] == ("陳柏翰",)  # the title after the name is dropped with it
    # The sentence does not name its section's subject: the heading is put in front.
    assert by_question["關於停車，每月費用為新台幣多少元？"] == ("1,500元",)
    assert by_question["關於資訊安全，演練依什麼辦理？"] == ("澄川資安規範",)


def test_near_misses_are_unanswerable_variants(rows):
    misses = [r for r in rows if r.kind == "unanswerable"]
    facts = {r.question for r in rows if r.kind == "fact"}
    assert misses
    for m in misses:
        assert m.evidence == () and m.answers == ()
        assert m.question not in facts
    # 6個月 swapped for the other count of months, which the document never pairs with 特別休假.
    assert "員工到職滿3個月者，享有幾天特別休假？" in {m.question for m in misses}


def test_drafting_is_deterministic(doc, rows):
    corpus = load_corpus([doc])
    assert draft_eval_set(corpus.passages, corpus.documents, day=DAY) == rows


def test_written_file_loads_as_an_eval_set(tmp_path, rows):
    path = tmp_path / "draft.jsonl"
    path.write_text(draft_jsonl(rows, day=DAY, documents=1), encoding="utf-8")
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == {"_comment"} and first["_comment"].startswith("DRAFT for a person to review")
    loaded = load_eval_set(path)
    assert [q.id for q in loaded] == [r.id for r in rows]
    assert [q.answerable for q in loaded] == [r.kind == "fact" for r in rows]


def test_comment_line_must_be_alone(tmp_path):
    row = {"id": "q1", "question": "幾天？", "kind": "fact", "split": "test", "evidence": ["3天"], "answers": ["3天"]}
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"_comment": "note"}) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    assert [q.id for q in load_eval_set(path)] == ["q1"]
    path.write_text(json.dumps({"_comment": "note", **row}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown field"):
        load_eval_set(path)
    path.write_text(json.dumps({"_comment": "only a note"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="no questions"):
        load_eval_set(path)


def test_cli_writes_then_refuses_to_overwrite(capsys, tmp_path, doc):
    out = tmp_path / "draft.jsonl"
    assert main(["eval", "--draft", str(out), str(doc.parent)]) == 0
    err = capsys.readouterr().err
    assert "questions with evidence" in err and "review every row" in err
    written = out.read_text(encoding="utf-8")
    assert written.splitlines()[0].startswith('{"_comment": "DRAFT')
    assert len(load_eval_set(out)) >= 8

    out.write_text("kept", encoding="utf-8")
    assert main(["eval", "--draft", str(out), str(doc)]) == 2
    assert "exists: pass --force" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "kept"
    assert main(["eval", "--draft", str(out), "--force", str(doc)]) == 0
    assert out.read_text(encoding="utf-8") == written
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_cli_refuses_paths_without_draft_and_a_missing_folder(capsys, tmp_path, doc):
    assert main(["eval", str(doc)]) == 2
    assert "only with --draft" in capsys.readouterr().err
    assert main(["eval", "--draft", str(tmp_path / "no" / "draft.jsonl"), str(doc)]) == 2
    assert "no such folder" in capsys.readouterr().err
