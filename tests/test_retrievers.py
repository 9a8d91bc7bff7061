"""One shared suite over every retriever on both backends (local, Milvus Lite), plus the fusion arithmetic."""

from __future__ import annotations

import pytest

from citeqa.corpus import Passage
from citeqa.errors import InputError
from citeqa.qa.retrieve import HybridRetriever
from citeqa.qa.types import Hit

RETRIEVERS = ["dense", "bm25", "hybrid"]


@pytest.mark.parametrize("name", RETRIEVERS)
def test_hits_are_ranked_unique_and_bounded(any_engine, name):
    hits = any_engine.search("台美經濟繁榮夥伴對話", 5, name)
    assert 1 <= len(hits) <= 5
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h.id for h in hits}) == len(hits)


@pytest.mark.parametrize("name", RETRIEVERS)
def test_finds_the_mumbai_passage(any_engine, name):
    hits = any_engine.search("駐孟買辦事處何時揭牌", 3, name)
    assert any("孟買" in h.passage.text for h in hits)


@pytest.mark.parametrize("name", RETRIEVERS)
def test_hit_dict_follows_the_contract(any_engine, name):
    d = any_engine.search("WHO", 1, name)[0].to_dict()
    assert set(d) == {"id", "section", "label", "text", "score", "source", "start", "end"}
    assert isinstance(d["section"], list) and isinstance(d["score"], float)


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", 42])
def test_bad_queries_are_refused(any_engine, bad):
    with pytest.raises(InputError):
        any_engine.search(bad, 5)


@pytest.mark.parametrize("k", [0, -1, 101])
def test_bad_k_is_refused(any_engine, k):
    with pytest.raises(InputError, match="top-k"):
        any_engine.search("外交", k)


def _p(i: str) -> Passage:
    return Passage(i, "s.txt", (), i, i, 0, 1)


class _Leg:
    def __init__(self, name: str, ids: list[str]) -> None:
        self.name, self.ids = name, ids

    def search(self, query: str, k: int, sources=None) -> list[Hit]:
        return [Hit(_p(i), 1.0 / (r + 1)) for r, i in enumerate(self.ids[:k])]


def test_weighted_rrf_arithmetic_and_missing_rank():
    dense = _Leg("dense", ["a", "b", "c"])
    bm25 = _Leg("bm25", ["c", "d"])
    fused = HybridRetriever(((dense, 2.0), (bm25, 1.0)), rrf_k=10).search("q", 4)
    expected = {  # a passage a leg did not return counts as ranked len(leg) + 1
        "a": 2 / 11 + 1 / 13, "b": 2 / 12 + 1 / 13, "c": 2 / 13 + 1 / 11, "d": 2 / 14 + 1 / 12,
    }
    assert [h.id for h in fused] == sorted(expected, key=lambda i: -expected[i])
    for h in fused:
        assert h.score == pytest.approx(expected[h.id])
