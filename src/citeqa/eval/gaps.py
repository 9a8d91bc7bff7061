"""What people asked that the documents do not answer, grouped by meaning (``citeqa gaps``).

The logged answers that came back ``not_found`` or ``uncertain``, or that someone rated down, are
grouped so an admin reads twenty topics instead of two thousand lines:

1. Questions equal after ``normalise`` (script folded, case, width, spaces, end punctuation) collapse
   into one distinct question first: 台北101有多高？ and 台北101有多高 are embedded once.
2. Each distinct question is embedded once with the engine's query encoder (batched; optionally
   through a vector cache keyed by the text's hash, so a second run embeds only new questions).
3. FAISS finds each question's nearest neighbours (exact inner product up to ``EXACT_UP_TO`` distinct
   questions, HNSW above: no n × n matrix, no Python loop over pairs).
4. Vectors are centred first: the mean of generic questions (the engine's background bank) is
   subtracted, because e5 gives any two questions a cosine near 0.8 and unrelated ones then sit just
   under paraphrases (measured: on raw vectors the best threshold sits on a cliff where 30 topics
   fall into 3 groups two hundredths lower).
5. Questions join groups in order of frequency: a question joins the neighbouring group whose mean
   vector is closest, if that cosine is at least ``threshold``; else it starts a group. Comparing with
   the group's mean, not with its nearest member, keeps a chain of look-alikes (X-Y-Z, X and Z
   unrelated) from merging topics. ``benchmarks/bench_gaps.py`` measures it (README: citeqa gaps).

Biggest group first. ``closest`` is called once per returned group with its most central question.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from citeqa.store.questions import Feedback, LoggedAnswer
from citeqa.text.fold import fold

GAP_OUTCOMES: Final[frozenset[str]] = frozenset({"not_found", "uncertain"})
DEFAULT_THRESHOLD: Final[float] = 0.52  # centred cosine to a group's mean: best F1 on the dev half (bench_gaps)
NEIGHBOURS: Final[int] = 16  # candidate groups per question: a paraphrase's group is among its nearest few
EXACT_UP_TO: Final[int] = 20_000  # exact k-NN costs n² dot products: 20k is ~2 s on 2 cores, 100k ~50 s
EMBED_BATCH: Final[int] = 256
EXCERPT_CHARS: Final[int] = 160  # of the closest passage: enough to see what it is about

Embed = Callable[[list[str]], np.ndarray]
Closest = Callable[[str], Mapping[str, Any] | None]

_SPACE = re.compile(r"\s+")
# End punctuation and symbols people add or leave out (？ ? 。 ! ~ … and emoji) do not change a question.
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")


@dataclass(frozen=True)
class ClosestPassage:
    """The passage the documents have nearest a group's central question; ``text`` is cut to an excerpt."""

    id: str
    label: str
    source: str
    score: float
    text: str

    @classmethod
    def of(cls, hit: Mapping[str, Any]) -> ClosestPassage:
        """From a hit dict (``Hit.to_dict``): the long text is cut to ``EXCERPT_CHARS``."""
        text = str(hit.get("text", ""))
        cut = text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
        return cls(str(hit["id"]), str(hit.get("label", "")), str(hit.get("source", "")), float(hit["score"]), cut)

    def to_dict(self) -> dict[str, Any]:
        """As JSON: id, label, source, score, text (the excerpt)."""
        return {"id": self.id, "label": self.label, "source": self.source, "score": self.score, "text": self.text}


@dataclass(frozen=True)
class GapGroup:
    """Questions of one meaning, ``count`` logged answers in all.

    ``questions`` are distinct after ``normalise``, each in its commonest wording, most frequent first.
    """

    count: int
    questions: tuple[str, ...]
    outcomes: tuple[tuple[str, int], ...]  # (outcome, how many), most frequent first
    down: int  # how many of the answers were rated down
    central: str  # the question nearest the group's mean: what ``closest`` was asked with
    last_at: float  # when one of them was last asked (Unix time)
    closest: ClosestPassage | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``citeqa gaps --json``: count, questions, outcomes, down, closest."""
        return {
            "count": self.count,
            "questions": list(self.questions),
            "outcomes": dict(self.outcomes),
            "down": self.down,
            "closest": None if self.closest is None else self.closest.to_dict(),
        }


def normalise(question: str) -> str:
    """The key under which exact duplicates collapse: ``normalise(" 臺北101有多高？？")`` → ``"台北101有多高"``.

    NFKC (full-width letters and digits), Traditional → Simplified and lower case (``text.fold``),
    whitespace squeezed, punctuation and symbols at either end dropped. Only for matching: the
    questions shown are the ones people typed.
    """
    text = fold(unicodedata.normalize("NFKC", question))
    return _EDGE.sub("", _SPACE.sub(" ", text).strip()) or text.strip()


def gap_answers(answers: Iterable[LoggedAnswer], feedback: Iterable[Feedback]) -> tuple[list[LoggedAnswer], set[str]]:
    """The answers that count as gaps (not found, uncertain, or rated down), and the ids rated down.

    A rating that was changed counts as it stands now (the latest ``at``).
    """
    latest: dict[str, Feedback] = {}
    for f in feedback:
        if f.answer_id not in latest or f.at >= latest[f.answer_id].at:
            latest[f.answer_id] = f
    down = {aid for aid, f in latest.items() if f.rating == "down"}
    return [a for a in answers if a.outcome in GAP_OUTCOMES or a.id in down], down


def find_gaps(
    answers: Iterable[LoggedAnswer],
    feedback: Iterable[Feedback],
    embed: Embed,
    closest: Closest | None = None,
    *,
    centre: np.ndarray | None,
    threshold: float = DEFAULT_THRESHOLD,
    limit: int | None = None,
    cache: Path | None = None,
) -> list[GapGroup]:
    """Group the unanswered and down-rated questions by meaning, biggest group first.

    ``embed`` is the engine's ``encode_queries`` (normalised vectors); ``closest(question)`` returns
    the best hit as a dict (``Hit.to_dict``) or None, and is called for the ``limit`` groups returned
    only. ``cache``: a ``.npz`` file of vectors by text hash (see ``embed_cached``). ``centre``: the
    vector subtracted from every question's before grouping (``centred``); required, because
    ``DEFAULT_THRESHOLD`` was chosen on centred e5 vectors (None: vectors used as they are).

    Example: 台北101有多高？ (twice), 台北101大樓高度是幾公尺 and 恐龍怎麼滅絕的 give two groups:
    count 3 with questions (台北101有多高？, 台北101大樓高度是幾公尺), then count 1.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    items, down = gap_answers(answers, feedback)
    if not items:
        return []
    keys: dict[str, int] = {}  # normalised question -> distinct index
    member: list[int] = []  # per item: its distinct question
    for a in items:
        member.append(keys.setdefault(normalise(a.resolved or a.question), len(keys)))
    weight = np.bincount(np.asarray(member), minlength=len(keys))
    shown = _shown_forms(items, member, len(keys))  # what each distinct question is embedded and shown as
    vectors = embed_cached([forms[0] for forms in shown], embed, cache)
    vectors = vectors if centre is None else centred(vectors, centre)
    labels = group_vectors(vectors, weight, threshold)
    groups = _assemble(items, member, shown, vectors, weight, labels, down)
    groups = groups[:limit] if limit is not None else groups
    if closest is None:
        return groups
    out = []
    for g in groups:
        hit = closest(g.central)
        out.append(g if hit is None else _with_closest(g, ClosestPassage.of(hit)))
    return out


def group_vectors(vectors: np.ndarray, weight: np.ndarray, threshold: float) -> np.ndarray:
    """A group label per row of ``vectors`` (normalised): greedy assignment to the nearest group mean.

    Rows are visited most frequent first (``weight``), so a group's mean starts at its commonest
    wording; a row joins the best of the groups its ``NEIGHBOURS`` nearest rows are already in when
    the cosine to that group's mean is at least ``threshold``. Work: one k-NN search plus n × k
    small dot products.
    """
    n = len(vectors)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    neighbours = knn(vectors, min(NEIGHBOURS, n))
    sums: list[np.ndarray] = []
    for i in np.argsort(-weight, kind="stable"):
        candidates = {int(labels[j]) for j in neighbours[i] if j >= 0 and labels[j] >= 0}
        best, best_cos = -1, threshold
        for g in candidates:
            s = sums[g]
            cos = float(vectors[i] @ s) / float(np.linalg.norm(s))
            if cos >= best_cos:
                best, best_cos = g, cos
        if best < 0:
            best = len(sums)
            sums.append(np.zeros(vectors.shape[1], dtype=np.float64))
        sums[best] += weight[i] * vectors[i]
        labels[i] = best
    return labels


def centred(vectors: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``vectors`` minus ``centre``, normalised again: the direction every question shares is removed.

    e5 gives any two questions a cosine of about 0.8 (NOTES.md), so unrelated questions sit in a
    narrow band just under paraphrases. Subtracting the mean of generic questions (the engine's
    background bank) spreads that band; ``benchmarks/bench_gaps.py`` compares both.
    """
    out = np.asarray(vectors, dtype=np.float32) - np.asarray(centre, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def knn(vectors: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` nearest rows of each row by inner product (itself included; -1 pads), via FAISS."""
    import faiss  # imported here: ``citeqa --help`` loads no FAISS

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index: faiss.Index
    if len(x) <= EXACT_UP_TO:
        index = faiss.IndexFlatIP(x.shape[1])
    else:  # approximate, ~n log n: a missed neighbour only costs a paraphrase its group
        hnsw = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 64
        hnsw.hnsw.efSearch = max(64, 2 * k)
        index = hnsw
    index.add(x)
    _, ids = index.search(x, k)
    return np.asarray(ids)


def embed_cached(texts: list[str], embed: Embed, cache: Path | None = None) -> np.ndarray:
    """Vectors for ``texts`` in batches; with ``cache``, reuse and keep vectors by sha256 of the text.

    The cache file is rewritten (atomically) with the vectors of this call's texts only, so it never
    holds more questions than the log did at the last run. The caller names the file per model.
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    hashes = [hashlib.sha256(t.encode("utf-8")).digest()[:16] for t in texts]
    known = _read_cache(cache) if cache is not None else {}
    todo = [i for i, h in enumerate(hashes) if h not in known]
    fresh = [embed([texts[i] for i in todo[s : s + EMBED_BATCH]]) for s in range(0, len(todo), EMBED_BATCH)]
    new = np.concatenate(fresh).astype(np.float32, copy=False) if fresh else None
    dim = new.shape[1] if new is not None else len(next(iter(known.values())))
    out = np.empty((len(texts), dim), dtype=np.float32)
    if new is not None:
        out[todo] = new
    for i, h in enumerate(hashes):
        if h in known:
            out[i] = known[h]
    if cache is not None and (todo or len(known) != len(set(hashes))):
        _write_cache(cache, hashes, out)
    return out


def _read_cache(path: Path) -> dict[bytes, np.ndarray]:
    """The cached vectors by text hash; a missing or damaged file is an empty cache (it is rebuilt)."""
    import zipfile

    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            keys, vecs = z["keys"], z["vectors"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return {}  # only a cost: every vector is computed again and the file rewritten
    if keys.shape[0] != vecs.shape[0] or vecs.ndim != 2:
        return {}
    return {bytes(k): v for k, v in zip(keys, vecs, strict=True)}


def _write_cache(path: Path, hashes: list[bytes], vectors: np.ndarray) -> None:
    from citeqa.files import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    keys = np.frombuffer(b"".join(hashes), dtype="S16")
    write_atomic(path, lambda f: np.savez(f, keys=keys, vectors=vectors))


def _shown_forms(items: list[LoggedAnswer], member: list[int], n: int) -> list[list[str]]:
    """Per distinct question, its typed forms, most frequent first (ties: first asked)."""
    counts: list[Counter[str]] = [Counter() for _ in range(n)]
    for a, m in zip(items, member, strict=True):
        counts[m][a.resolved or a.question] += 1
    return [[text for text, _ in c.most_common()] for c in counts]


def _assemble(
    items: list[LoggedAnswer],
    member: list[int],
    shown: list[list[str]],
    vectors: np.ndarray,
    weight: np.ndarray,
    labels: np.ndarray,
    down: set[str],
) -> list[GapGroup]:
    """Turn labels into groups: counts, outcome mix, ratings, central question; biggest first."""
    n_groups = int(labels.max()) + 1
    outcomes: list[Counter[str]] = [Counter() for _ in range(n_groups)]
    downs = np.zeros(n_groups, dtype=np.int64)
    last = np.zeros(n_groups, dtype=np.float64)
    for a, m in zip(items, member, strict=True):
        g = int(labels[m])
        outcomes[g][a.outcome] += 1
        downs[g] += a.id in down
        last[g] = max(last[g], a.at)
    rows_of: list[list[int]] = [[] for _ in range(n_groups)]
    for m in np.argsort(-weight, kind="stable"):
        rows_of[int(labels[m])].append(int(m))
    groups = []
    for g, rows in enumerate(rows_of):
        mean = (weight[rows, None] * vectors[rows]).sum(axis=0)
        central = rows[int(np.argmax(vectors[rows] @ mean))]
        groups.append(GapGroup(
            count=int(weight[rows].sum()),
            questions=tuple(shown[m][0] for m in rows),  # one wording per normalised question
            outcomes=tuple(outcomes[g].most_common()),
            down=int(downs[g]),
            central=shown[central][0],
            last_at=float(last[g]),
        ))
    groups.sort(key=lambda g: (-g.count, -g.down, -g.last_at))
    return groups


def _with_closest(g: GapGroup, c: ClosestPassage) -> GapGroup:
    from dataclasses import replace

    return replace(g, closest=c)


__all__ = ["DEFAULT_THRESHOLD", "GAP_OUTCOMES", "ClosestPassage", "GapGroup", "find_gaps", "normalise"]
