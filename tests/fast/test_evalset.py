"""The bundled known-fact eval set: evidence and answers must match the bundled corpus exactly."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from pathlib import Path

import pytest

from citeqa.errors import InputError
from citeqa.eval.dataset import BUNDLED_EVAL_SET, KINDS, NOT_ANSWERABLE, SPLITS, EvalQuestion, load_eval_set

HEADER = "2024 年外交工作回顧"
CORPUS = files("citeqa.corpus").joinpath("data", "mofa-2024-review.zh-TW.txt").read_text(encoding="utf-8")
LINES = CORPUS.split("\n")

MIN_PER_KIND = {
    "paraphrase": 20, "simplified": 20, "english": 20, "multi": 12, "unanswerable": 40,
    "user": 60, "offtopic": 80, "conversation": 40,
}
# Kinds written alongside the system, split half/half by kind; the blind batches keep their writer's split.
STRATIFIED = ("fact", "paraphrase", "simplified", "english", "multi")


@pytest.fixture(scope="module")
def questions() -> list[EvalQuestion]:
    return load_eval_set()


def _paragraph_of(span: str) -> int:
    """Index of the corpus line holding ``span`` (lines are paragraphs or paragraph pieces)."""
    return next(i for i, line in enumerate(LINES) if span in line)


def test_bundled_set_loads(questions):
    assert len(questions) >= 180
    assert all(isinstance(q, EvalQuestion) for q in questions)
    assert len({q.id for q in questions}) == len(questions)
    assert len({q.question for q in questions}) == len(questions)


def test_evidence_is_unique_and_within_one_line(questions):
    problems = []
    for q in questions:
        for span in q.evidence:
            count = CORPUS.count(span)
            if count != 1:
                problems.append(f"{q.id}: {span!r} occurs {count} times")
            if "\n" in span:
                problems.append(f"{q.id}: {span!r} spans a line break")
            if len(span) < 8:
                problems.append(f"{q.id}: {span!r} is shorter than 8 characters")
            if span.strip() == HEADER or (count and LINES[_paragraph_of(span)].strip() == HEADER):
                problems.append(f"{q.id}: {span!r} is the running page header")
    assert not problems, "\n".join(problems)


def test_answers_inside_evidence(questions):
    for q in questions:
        for answer in q.answers:
            assert any(answer in span for span in q.evidence), (q.id, answer)


def test_answerable_consistency(questions):
    for q in questions:
        if q.answerable:
            assert q.evidence and q.answers, q.id
        else:
            assert q.kind in NOT_ANSWERABLE
            assert not q.evidence and not q.answers, q.id


def test_multi_questions_use_two_paragraphs(questions):
    for q in questions:
        if q.kind == "multi":
            assert len({_paragraph_of(span) for span in q.evidence}) >= 2, q.id


def test_counts_per_kind_and_split(questions):
    per_kind = Counter(q.kind for q in questions)
    per_cell = Counter((q.kind, q.split) for q in questions)
    assert set(per_kind) == set(KINDS)
    for kind, minimum in MIN_PER_KIND.items():
        assert per_kind[kind] >= minimum, (kind, per_kind[kind])
    assert per_cell[("unanswerable", "dev")] >= 20
    assert per_cell[("unanswerable", "test")] >= 20
    in_house = Counter((q.kind, q.split) for q in questions if not q.batch)
    for kind in STRATIFIED:  # the in-house questions stratified roughly half/half (blind batches keep their side)
        dev, test = in_house[(kind, "dev")], in_house[(kind, "test")]
        assert abs(dev - test) <= max(2, (dev + test) // 10), (kind, dev, test)
    for kind in ("user", "offtopic", "conversation"):  # tuned on dev, reported on test
        assert per_cell[(kind, "dev")] >= 20 and per_cell[(kind, "test")] >= 30, kind


def test_held_out_batch_stays_out_of_calibration(questions):
    """The third blind batch is test only; each other blind writer is on one side, but the generic one."""
    splits: dict[str, set[str]] = {}
    for q in questions:
        splits.setdefault(q.batch, set()).add(q.split)
    assert splits["heldout-w4"] == {"test"} and splits["heldout-w8"] == {"test"}
    assert splits["blind-w2"] == {"dev"} and splits["blind-w3"] == {"test"}
    assert sum(q.batch == "heldout-w4" for q in questions) >= 70


def test_background_bank_shares_no_question_with_the_eval_set(questions):
    """The relevance gate's generic bank is not the eval set in disguise."""
    import re
    import unicodedata

    def norm(text: str) -> str:
        return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())

    bank = files("citeqa.qa").joinpath("data", "background.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in bank.splitlines() if line.strip()]
    assert len(texts) >= 300
    asked = {norm(q.question) for q in questions}
    assert not [t for t in texts if norm(t) in asked]


def test_simplified_and_english_questions_look_right(questions):
    for q in questions:
        has_han = any("\u4e00" <= ch <= "\u9fff" for ch in q.question)
        if q.kind == "english":
            assert not has_han, q.id
        elif q.kind in STRATIFIED:
            assert has_han, q.id


def test_split_filter(questions):
    dev = load_eval_set(split="dev")
    test = load_eval_set(split="test")
    assert dev and test
    assert {q.split for q in dev} == {"dev"}
    assert {q.split for q in test} == {"test"}
    assert len(dev) + len(test) == len(questions)
    assert {q.id for q in dev}.isdisjoint(q.id for q in test)
    with pytest.raises(InputError, match="split"):
        load_eval_set(split="train")


def test_bundled_path_is_package_data():
    assert BUNDLED_EVAL_SET.name == "mofa-2024.jsonl"
    assert BUNDLED_EVAL_SET.is_file()
    assert load_eval_set(Path(str(BUNDLED_EVAL_SET))) == load_eval_set()
    assert SPLITS == ("dev", "test")


GOOD = {
    "id": "q1",
    "question": "駐孟買辦事處何時揭牌？",
    "kind": "fact",
    "split": "dev",
    "evidence": ["我駐孟買辦事處 10 月正式揭牌對外運作"],
    "answers": ["10 月"],
}


def _write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "bad.jsonl"
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_good_file_loads(tmp_path):
    unanswerable = {**GOOD, "id": "q2", "kind": "unanswerable", "evidence": [], "answers": []}
    loaded = load_eval_set(_write(tmp_path, GOOD, "", unanswerable))
    assert [q.id for q in loaded] == ["q1", "q2"]
    assert loaded[0].evidence == ("我駐孟買辦事處 10 月正式揭牌對外運作",)
    assert loaded[0].answerable and not loaded[1].answerable


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "q2", "question": ', "bad JSON"),
        ("[1, 2]", "JSON object"),
        ({k: v for k, v in GOOD.items() if k != "answers"}, "missing field"),
        ({**GOOD, "extra": 1}, "unknown field"),
        ({**GOOD, "kind": "trivia"}, "unknown kind"),
        ({**GOOD, "split": "train"}, "unknown split"),
        ({**GOOD, "id": ""}, "'id'"),
        ({**GOOD, "evidence": "not a list"}, "'evidence'"),
        ({**GOOD, "answers": ["11 月"]}, "not inside"),
        ({**GOOD, "evidence": [], "answers": []}, "evidence span"),
        ({**GOOD, "answers": []}, "at least one answer"),
        ({**GOOD, "kind": "unanswerable"}, "empty evidence"),
        ({**GOOD, "kind": "multi"}, "two paragraphs"),
        (GOOD, "duplicate id"),
    ],
)
def test_rejects_malformed_line(tmp_path, bad, message):
    path = _write(tmp_path, GOOD, bad)
    with pytest.raises(InputError, match=message) as info:
        load_eval_set(path)
    assert "bad.jsonl, line 2" in str(info.value)


def test_rejects_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_eval_set(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="no questions"):
        load_eval_set(empty)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes("駐孟買".encode("big5"))
    with pytest.raises(InputError, match="UTF-8"):
        load_eval_set(latin)
