"""The shared retriever suite on the local index (integration runs it on Milvus Lite), and the fusion arithmetic."""

from __future__ import annotations

import pytest

from citeqa.corpus import Passage
from citeqa.qa.retrieve import HybridRetriever
from citeqa.qa.types import Hit
from support import RetrieverSuite


class TestLocalBackend(RetrieverSuite):
    @pytest.fixture
    def engine(self, fake_engine):
        return fake_engine


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
