"""``citeqa gaps`` with the real model: paraphrases the documents do not answer share a group.

The issue's check: with the log on, two paraphrased questions the documents do not answer land in
one group, and an unrelated one in another. Grouping quality over 60 topics is measured by
``benchmarks/bench_gaps.py``, not asserted here.
"""

from __future__ import annotations

import json
import time

from citeqa.eval.gaps import find_gaps
from citeqa.store import open_question_log
from citeqa.store.questions import LoggedAnswer

PARAPHRASES = ("台北101有多高？", "台北101大樓高度是幾公尺")
UNRELATED = "三杯雞要怎麼做？醬油跟米酒比例多少"


def _answer(n: int, question: str) -> LoggedAnswer:
    return LoggedAnswer(f"{n:032x}", time.time(), "cli", question, None, "not_found", 0.1, ())


def test_paraphrases_share_a_group_and_an_unrelated_question_does_not(real_engine):
    background = real_engine.answerer.background
    groups = find_gaps(
        [_answer(n, q) for n, q in enumerate((*PARAPHRASES, UNRELATED))], [], real_engine.embedder.encode_queries,
        centre=background.as_queries.mean(axis=0),
    )
    assert [sorted(g.questions) for g in groups] == [sorted(PARAPHRASES), [UNRELATED]]


def test_cli_groups_logged_paraphrases(real_cli, monkeypatch, tmp_path, _real_dirs, capsys):
    """Through the SQLite log and ``citeqa gaps --json``, with a down rating and the closest passage."""
    monkeypatch.setenv("CITEQA_INDEX_DIR", f"{_real_dirs['CITEQA_DATA_DIR']}/index")  # the session's index
    monkeypatch.setenv("CITEQA_DATA_DIR", str(tmp_path / "data"))  # a log of its own
    monkeypatch.setenv("CITEQA_QUESTION_LOG", "on")
    store = open_question_log(tmp_path / "data", 90)
    try:
        for n, q in enumerate((*PARAPHRASES, UNRELATED)):
            store.record(_answer(n, q))
        store.rate(f"{2:032x}", "down", "")
    finally:
        store.close()
    assert real_cli(["gaps", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert [sorted(g["questions"]) for g in groups] == [sorted(PARAPHRASES), [UNRELATED]]
    assert groups[0]["count"] == 2 and groups[1]["down"] == 1
    assert groups[0]["closest"]["id"] and groups[0]["closest"]["text"]
