"""``citeqa gaps`` and ``eval.gaps``: unanswered and down-rated questions grouped by meaning.

The fake embedder (character bigrams) stands in for the model: near-duplicates share most bigrams,
unrelated questions share none. The question log is an in-memory fake of ``store.questions.QuestionLog``,
except for one test that goes through the SQLite store as ``citeqa ask`` writes it.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from citeqa.cli import gaps as cli_gaps
from citeqa.cli import main
from citeqa.eval.dataset import load_eval_set
from citeqa.eval.gaps import ClosestPassage, embed_cached, find_gaps, normalise
from citeqa.store.questions import Feedback, LoggedAnswer

NOW = time.time()
DAY = 86_400.0
TAIPEI = "台北101大樓有多高"  # and its near-duplicate below: one topic
TAIPEI_2 = "請問台北101大樓有多高呢"
MUMBAI = "駐孟買辦事處的首任處長是誰"
CHICKEN = "三杯雞要怎麼做醬油比例"


def logged(aid: str, question: str, outcome: str = "not_found", *, age_days: float = 1.0,
           resolved: str | None = None) -> LoggedAnswer:
    return LoggedAnswer(aid, NOW - age_days * DAY, "chat", question, resolved, outcome, 0.2, ())


def rating(aid: str, value: str, at: float = NOW) -> Feedback:
    return Feedback(aid, value, "", at)


class FakeLog:
    """``QuestionLog``'s read side over a list; records the ``since`` it was asked for."""

    def __init__(self, answers: list[LoggedAnswer], feedback: list[Feedback] = ()) -> None:
        self._answers, self._feedback = list(answers), list(feedback)
        self.since: float | None = None
        self.closed = False

    def answers(self, since: float = 0.0) -> list[LoggedAnswer]:
        self.since = since
        return [a for a in self._answers if a.at >= since]

    def feedback(self, since: float = 0.0) -> list[Feedback]:
        kept = {a.id for a in self._answers if a.at >= since}
        return [f for f in self._feedback if f.answer_id in kept]

    def close(self) -> None:
        self.closed = True


# --- the library --------------------------------------------------------------------------------


def test_normalise_folds_script_width_space_and_end_punctuation():
    assert normalise(" 臺北101有多高？？") == normalise("台北１０１有多高") == "台北101有多高"
    assert normalise("What  is it?") == "what is it"
    assert normalise("台北101有多高") != normalise("台中101有多高")


def test_exact_duplicates_collapse_into_one_question(fake_embedder):
    answers = [logged("a", "台北101有多高？"), logged("b", "台北101有多高"), logged("c", " 臺北101有多高？？"),
               logged("d", CHICKEN)]
    seen: list[str] = []

    def embed(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return fake_embedder.encode_queries(texts)

    groups = find_gaps(answers, [], embed, centre=None)
    assert [g.count for g in groups] == [3, 1]
    assert groups[0].questions == ("台北101有多高？",)  # one wording per normalised question: the commonest
    assert sorted(seen) == sorted(["台北101有多高？", CHICKEN])  # each distinct question embedded once


def test_near_duplicates_group_and_unrelated_stay_apart_biggest_first(fake_embedder):
    answers = [logged("1", MUMBAI), logged("2", TAIPEI), logged("3", TAIPEI_2, "uncertain"), logged("4", TAIPEI),
               logged("5", CHICKEN)]
    groups = find_gaps(answers, [], fake_embedder.encode_queries, centre=None)
    assert [g.count for g in groups] == [3, 1, 1]
    assert groups[0].questions == (TAIPEI, TAIPEI_2)  # most frequent first
    assert dict(groups[0].outcomes) == {"not_found": 2, "uncertain": 1}
    assert {g.questions for g in groups[1:]} == {(MUMBAI,), (CHICKEN,)}


def test_a_higher_threshold_splits_near_duplicates(fake_embedder):
    answers = [logged("1", TAIPEI), logged("2", TAIPEI_2)]
    assert len(find_gaps(answers, [], fake_embedder.encode_queries, centre=None)) == 1
    assert len(find_gaps(answers, [], fake_embedder.encode_queries, centre=None, threshold=0.99)) == 2


def test_down_rated_answers_count_and_answered_unrated_ones_do_not(fake_embedder):
    answers = [
        logged("gap", MUMBAI),
        logged("down", "駐孟買辦事處何時揭牌", "answered"),
        logged("fine", "駐荷蘭辦事處何時揭牌", "answered"),  # answered, not rated: not a gap
        logged("up", CHICKEN, "answered"),
        logged("changed", TAIPEI, "answered"),  # rated down, then changed to up: counts as it stands now
        logged("hello", "你好", "conversation"),
    ]
    feedback = [rating("down", "down"), rating("up", "up"), rating("changed", "down", NOW - 10),
                rating("changed", "up", NOW)]
    groups = find_gaps(answers, feedback, fake_embedder.encode_queries, centre=None)
    questions = [q for g in groups for q in g.questions]
    assert sorted(questions) == sorted([MUMBAI, "駐孟買辦事處何時揭牌"])
    assert sum(g.down for g in groups) == 1
    downs = [g for g in groups if g.down]
    assert dict(downs[0].outcomes).get("answered") == 1


def test_a_follow_up_is_grouped_by_the_question_it_was_read_as(fake_embedder):
    answers = [logged("1", "那荷蘭呢？", resolved=TAIPEI), logged("2", TAIPEI)]
    groups = find_gaps(answers, [], fake_embedder.encode_queries, centre=None)
    assert [g.count for g in groups] == [2]


def test_closest_is_asked_once_per_group_with_its_central_question(fake_embedder):
    asked: list[str] = []

    def closest(q: str) -> dict:
        asked.append(q)
        return {"id": "p1", "label": "一、外交", "source": "a.txt", "score": 0.8, "text": "字" * 500}

    answers = [logged("1", TAIPEI), logged("2", TAIPEI_2), logged("3", CHICKEN)]
    groups = find_gaps(answers, [], fake_embedder.encode_queries, closest, centre=None, limit=1)
    assert len(groups) == 1 and asked == [groups[0].central] and groups[0].central in (TAIPEI, TAIPEI_2)
    c = groups[0].closest
    assert isinstance(c, ClosestPassage) and len(c.text) <= 160 and c.text.endswith("…")


def test_nothing_to_group_gives_no_groups_and_embeds_nothing():
    def embed(texts):
        raise AssertionError("embedded")

    assert find_gaps([logged("1", TAIPEI, "answered")], [], embed, centre=None) == []


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_bad_threshold_is_refused(fake_embedder, bad):
    with pytest.raises(ValueError, match="threshold"):
        find_gaps([logged("1", TAIPEI)], [], fake_embedder.encode_queries, centre=None, threshold=bad)


def test_vector_cache_embeds_each_text_once_and_keeps_only_current_ones(tmp_path, fake_embedder):
    calls: list[str] = []

    def embed(texts):
        calls.extend(texts)
        return fake_embedder.encode_queries(texts)

    cache = tmp_path / "v" / "m.npz"
    first = embed_cached([TAIPEI, MUMBAI], embed, cache)
    again = embed_cached([MUMBAI, TAIPEI, CHICKEN], embed, cache)
    assert calls == [TAIPEI, MUMBAI, CHICKEN]
    np.testing.assert_allclose(again[:2], first[::-1])
    embed_cached([CHICKEN], embed, cache)
    with np.load(cache) as z:
        assert z["keys"].shape == (1,)  # the questions no longer asked for are gone from the cache


def test_a_damaged_vector_cache_is_rebuilt(tmp_path, fake_embedder):
    cache = tmp_path / "m.npz"
    cache.write_bytes(b"not a zip file")
    got = embed_cached([TAIPEI], fake_embedder.encode_queries, cache)
    np.testing.assert_allclose(got, fake_embedder.encode_queries([TAIPEI]))
    with np.load(cache) as z:
        assert z["keys"].shape == (1,)


# --- the command --------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in [k for k in os.environ if k.startswith("CITEQA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CITEQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITEQA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def with_log(env, monkeypatch, fake_engine):
    """The log on, holding ``log``; the fake engine instead of the model."""
    monkeypatch.setenv("CITEQA_QUESTION_LOG", "on")
    log = FakeLog([
        logged("t1", TAIPEI), logged("t2", TAIPEI_2, "uncertain"), logged("t3", TAIPEI),
        logged("m1", MUMBAI, "answered"), logged("old", CHICKEN, age_days=40),
        logged("nl", "line\nbreak\x1b[31m 問題"),
    ], [rating("m1", "down")])
    monkeypatch.setattr(cli_gaps, "open_log", lambda settings: log)
    monkeypatch.setattr(cli_gaps, "open_engine", lambda args: fake_engine)
    return log


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["gaps", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_shape_biggest_first_and_down(capsys, with_log):
    code, out, _ = run(capsys, "--json")
    assert code == 0 and with_log.closed
    groups = json.loads(out)["groups"]
    assert [set(g) for g in groups] == [{"count", "questions", "outcomes", "down", "closest"}] * len(groups)
    assert groups[0]["count"] == 3 and groups[0]["questions"] == [TAIPEI, TAIPEI_2]
    assert groups[0]["outcomes"] == {"not_found": 2, "uncertain": 1}
    assert [g["count"] for g in groups] == sorted((g["count"] for g in groups), reverse=True)
    mumbai = next(g for g in groups if g["questions"] == [MUMBAI])
    assert mumbai["down"] == 1 and mumbai["outcomes"] == {"answered": 1}
    assert set(groups[0]["closest"]) == {"id", "label", "source", "score", "text"}


def test_days_filters_what_is_read(capsys, with_log):
    _, out, _ = run(capsys, "--json")
    assert CHICKEN not in out  # 40 days old: outside the default 30
    assert with_log.since == pytest.approx(time.time() - 30 * DAY, abs=60)
    _, out, _ = run(capsys, "--json", "--days", "45")
    assert CHICKEN in [q for g in json.loads(out)["groups"] for q in g["questions"]]
    assert with_log.since == pytest.approx(time.time() - 45 * DAY, abs=60)


def test_plain_table_escapes_control_characters_and_aligns_cjk(capsys, with_log):
    code, out, _ = run(capsys)
    assert code == 0
    assert "\x1b" not in out and "line\\nbreak\\x1b[31m" in out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["#", "count", "down", "outcomes"]
    start = cli_gaps.width(lines[0][: lines[0].index("questions")])
    for line in lines[1:]:  # the questions column starts at the same terminal cell on every row
        row = line.split("  ")
        assert row[0].strip().isdigit()
    first = lines[1]
    assert cli_gaps.width(first[: first.index(TAIPEI[:4])]) == start


def test_width_and_fit_count_cjk_as_two_cells():
    assert cli_gaps.width("台北101") == 7
    assert cli_gaps.fit("台北101大樓有多高", 8) == "台北101…"  # 7 cells and the ellipsis
    assert cli_gaps.width(cli_gaps.fit("台北101大樓有多高", 8)) <= 8


def test_export_eval_loads_as_an_eval_set_and_is_not_overwritten(capsys, with_log, tmp_path):
    path = tmp_path / "gaps.jsonl"
    code, _, err = run(capsys, "--export-eval", str(path))
    assert code == 0 and "wrote" in err
    rows = load_eval_set(path)
    assert {r.kind for r in rows} == {"unanswerable"} and {r.split for r in rows} == {"test"}
    assert {r.batch for r in rows} == {f"log-{time.strftime('%Y-%m-%d')}"}
    assert len({r.id for r in rows}) == len(rows) and all(r.evidence == () for r in rows)
    assert [r.question for r in rows][:2] == [TAIPEI, TAIPEI_2]
    before = path.read_bytes()
    code, _, err = run(capsys, "--export-eval", str(path))
    assert code == 2 and "--force" in err and path.read_bytes() == before
    path.write_text("old", encoding="utf-8")
    assert run(capsys, "--export-eval", str(path), "--force")[0] == 0
    assert len(load_eval_set(path)) == len(rows)


def test_log_off_lists_nothing_says_how_and_writes_nothing(capsys, env, monkeypatch):
    monkeypatch.setattr(cli_gaps, "open_engine", lambda args: pytest.fail("the model was loaded"))
    code, out, err = run(capsys, "--json")
    assert code == 0 and json.loads(out) == {"groups": []}
    assert "CITEQA_QUESTION_LOG=on" in err and len(err.strip().splitlines()) == 1
    assert not (env / "data").exists()
    code, out, err = run(capsys)
    assert code == 0 and out == "" and "CITEQA_QUESTION_LOG=on" in err


def test_through_the_sqlite_log(capsys, env, monkeypatch, fake_engine):
    """The log as ``citeqa ask`` writes it: empty first (no model loaded), then a down-rated answer."""
    from citeqa.store import open_question_log

    monkeypatch.setenv("CITEQA_QUESTION_LOG", "on")
    monkeypatch.setattr(cli_gaps, "open_engine", lambda args: pytest.fail("the model was loaded"))
    code, out, err = run(capsys, "--json")
    assert code == 0 and json.loads(out) == {"groups": []} and "CITEQA_QUESTION_LOG=on" in err
    store = open_question_log(env / "data", 90)
    try:
        store.record(LoggedAnswer("x" * 32, time.time(), "cli", MUMBAI, None, "answered", 0.9, ("p1",)))
        store.record(LoggedAnswer("y" * 32, time.time(), "cli", TAIPEI, None, "not_found", 0.1, ()))
        store.rate("x" * 32, "down", "wrong office")
    finally:
        store.close()
    monkeypatch.setattr(cli_gaps, "open_engine", lambda args: fake_engine)
    code, out, _ = run(capsys, "--json")
    groups = json.loads(out)["groups"]
    assert code == 0 and sorted(q for g in groups for q in g["questions"]) == sorted([MUMBAI, TAIPEI])
    assert sum(g["down"] for g in groups) == 1
    assert list((env / "data" / cli_gaps.VECTOR_CACHE).glob("*.npz"))  # beside the log it came from


@pytest.mark.parametrize("argv, message", [
    (["--days", "0"], "--days"), (["--days", "-3"], "--days"), (["--days", "99999"], "--days"),
    (["--limit", "0"], "--limit"),
])
def test_bad_input_exits_2(capsys, with_log, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and message in err


def test_days_that_is_not_a_number_exits_2(capsys, env):
    with pytest.raises(SystemExit) as exc:
        main(["gaps", "--days", "ten"])
    assert exc.value.code == 2 and "--days" in capsys.readouterr().err
