"""Ranking and answer metrics.

Relevance is resolved from evidence text, not passage ids, so a change of chunking never invalidates an eval set.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence

from citeqa.text import fold

_HALF = 0.5  # share of an evidence span a passage piece must hold when chunking cut the span


def norm(text: str) -> str:
    """Compare text ignoring spaces, width, script (臺/台, Traditional/Simplified) and case."""
    t = unicodedata.normalize("NFKC", text)
    return fold("".join(t.split()))


def covers(passage_text: str, evidence: str) -> bool:
    """True when a passage holds an evidence span, or at least half of it where chunking cut it."""
    p, e = norm(passage_text), norm(evidence)
    if not e:
        return False
    if e in p or (len(p) >= len(e) * _HALF and p in e):
        return True
    need = max(1, math.ceil(len(e) * _HALF))
    return any(p.endswith(e[:n]) for n in range(need, len(e))) or any(
        p.startswith(e[-n:]) for n in range(need, len(e))
    )


def evidence_ranks(ranked_texts: Sequence[str], evidence: Sequence[str]) -> list[int | None]:
    """For each evidence span, the 1-based rank of the first passage covering it (None if absent)."""
    out: list[int | None] = []
    for ev in evidence:
        out.append(next((r for r, t in enumerate(ranked_texts, start=1) if covers(t, ev)), None))
    return out


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of evidence spans found in the top ``k``."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at(ranks: Sequence[int | None], k: int = 10) -> float:
    """Reciprocal rank of the best-ranked evidence span within the top ``k`` (0 when none is found)."""
    found = [r for r in ranks if r is not None and r <= k]
    return 1.0 / min(found) if found else 0.0


def relevant_count(collection: Sequence[str], evidence: Sequence[str]) -> int:
    """How many passages of the whole collection are relevant: they cover an evidence span."""
    return sum(1 for t in collection if any(covers(t, ev) for ev in evidence))


def ndcg_at(ranked_texts: Sequence[str], evidence: Sequence[str], k: int = 10, relevant: int | None = None) -> float:
    """Binary-relevance nDCG@k with the reference definition (trec_eval's ``ndcg_cut``).

    A passage is relevant when it covers any evidence span; the ideal ranking puts all ``relevant``
    passages of the collection first, so the figure never exceeds 1 (a span split over two passages
    makes two relevant passages, not one). Without ``relevant`` the ideal counts the relevant
    passages ranked plus one for every span none of them covers: the fewest the collection can hold.
    """
    gains = [1.0 if any(covers(t, ev) for ev in evidence) else 0.0 for t in ranked_texts]
    if relevant is None:
        uncovered = sum(1 for ev in evidence if not any(covers(t, ev) for t in ranked_texts))
        relevant = int(sum(gains)) + uncovered
    relevant = max(relevant, int(sum(gains[:k])))  # a collection count can never be under what was ranked
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(relevant, k)))
    return dcg / ideal if ideal else 0.0


def answer_correct(answer: str, expected: Sequence[str], expected_all: Sequence[str] = ()) -> bool:
    """The answer holds every ``expected_all`` string when there are any (a list asked for), else one of ``expected``.

    Compared normalised (``norm``): spaces, width, script and case do not matter.
    """
    a = norm(answer)
    if expected_all:
        return all(norm(x) in a for x in expected_all if x)
    return any(norm(x) in a for x in expected if x)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank ``q``-th percentile, 0 for no values: ``[1, 2, 3, 4]``, 50 → 2."""
    if not values:
        return 0.0
    s = sorted(values)
    i = min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))
    return s[i]
