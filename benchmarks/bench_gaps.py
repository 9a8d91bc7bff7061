"""How well ``citeqa gaps`` groups questions by meaning, and how long it takes on a large log.

    CITEQA_DATA_DIR=/tmp/probe/data .venv/bin/python benchmarks/bench_gaps.py            # both parts
    CITEQA_DATA_DIR=… .venv/bin/python benchmarks/bench_gaps.py --skip-speed              # quality only
    CITEQA_DATA_DIR=… .venv/bin/python benchmarks/bench_gaps.py --embed-n 100000          # embed all 100k

(a) Quality. The topics are the ``unanswerable`` and ``offtopic`` eval questions named in
``tests/data/gap-paraphrases.jsonl``; each topic is its original question plus two hand-written
paraphrases (zh-Hant, zh-Hans, colloquial, typos, English). Topics alternate into a dev half (the
threshold is chosen there, by pairwise F1) and a held-out half (only reported). Each half is grouped
on its own, as a log holding just those questions would be, through ``find_gaps`` with the real
model's vectors. Figures: pairwise precision and recall of "same group", F1, topics split over
several groups, topics sharing a group with another topic. Two methods over the same k-NN
candidates: the library's (join the nearest group mean) and single linkage (connected components of
the threshold graph), to show why the library uses the first.

(b) Speed. ``--n`` logged questions (default 100,000) are drawn from every unanswerable and off-topic
eval question and the paraphrases, with 0-3 random edits each (characters dropped, doubled or swapped,
particles and punctuation added), so most are distinct. The real model embeds ``--embed-n`` of the
distinct ones (default 1,000: on 2 cores embedding all is ~20 min; the per-question cost is printed);
the rest get a synthetic vector: their base question's real vector plus gaussian noise scaled so
the cosine to the base matches the one measured between the embedded edits and their bases. Then
``find_gaps`` runs over all of them (normalising, k-NN, grouping), the closest passage is looked up
for the 20 biggest groups (``citeqa gaps --limit``), and the vector cache is timed on a repeat.
Prints times and peak RSS; the last stdout line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from _common import current_rss_mib, emit, log, machine, peak_rss_mib

from citeqa.eval.dataset import load_eval_set
from citeqa.eval.gaps import NEIGHBOURS, centred, embed_cached, find_gaps, knn
from citeqa.store.questions import LoggedAnswer

REPO = Path(__file__).resolve().parents[1]
PARAPHRASES = REPO / "tests" / "data" / "gap-paraphrases.jsonl"
THRESHOLDS = tuple(round(0.30 + 0.02 * i, 2) for i in range(33))  # 0.30 … 0.94
EDITS = ("請問", "啊", "呢", "？", "??", "！", "欸 ", "想問一下", " pls", "...")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="logged questions in the speed part")
    p.add_argument("--embed-n", type=int, default=1000, help="distinct questions the real model embeds there")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--seed", type=int, default=26)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from citeqa.qa.engine import Engine
    from citeqa.settings import Settings

    t0 = time.perf_counter()
    engine = Engine.open(Settings.from_env(), progress=False, log=log)
    log(f"engine loaded in {time.perf_counter() - t0:.1f} s ({engine.embedder.name})")
    embed = engine.embedder.inner.encode_queries  # type: ignore[attr-defined]  # past QueryCache: batches
    centre = engine.answerer.background.as_queries.mean(axis=0)  # what ``citeqa gaps`` subtracts
    result: dict[str, Any] = {"quality": quality(embed, centre)}
    if not args.skip_speed:
        result["speed"] = speed(engine, embed, centre, args)
    result["machine"] = machine()
    emit(result)
    return 0


# --- (a) quality ------------------------------------------------------------------------------------


def topics() -> dict[str, list[str]]:
    """Topic id → its questions (the eval question first, then the paraphrases), in file order."""
    originals = {q.id: q.question for q in load_eval_set()}
    out: dict[str, list[str]] = {}
    for line in PARAPHRASES.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out.setdefault(row["topic"], [originals[row["topic"]]]).append(row["question"])
    return out


def quality(embed: Any, centre: np.ndarray) -> dict[str, Any]:
    by_topic = topics()
    names = list(by_topic)
    halves = {"dev": names[0::2], "heldout": names[1::2]}
    texts = [q for t in names for q in by_topic[t]]
    t0 = time.perf_counter()
    vecs = embed(texts)
    log(f"embedded {len(texts)} questions of {len(names)} topics in {time.perf_counter() - t0:.1f} s")
    row = {q: i for i, q in enumerate(texts)}
    table: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for method in ("mean", "single", "mean-centred", "single-centred"):
        table[method] = {}
        for half, ts in halves.items():
            qs = [(t, q) for t in ts for q in by_topic[t]]
            v = vecs[[row[q] for _, q in qs]]
            v = centred(v, centre) if method.endswith("-centred") else v
            truth = [t for t, _ in qs]
            table[method][half] = {f"{th:.2f}": score(truth, group(method, qs, v, th)) for th in THRESHOLDS}
    chosen = {}
    for method in table:
        dev = table[method]["dev"]
        best = max(dev, key=lambda th: (dev[th]["f1"], th))
        chosen[method] = {"threshold": float(best), "dev": dev[best], "heldout": table[method]["heldout"][best]}
    print_quality(table, chosen)
    return {"topics": len(names), "questions": len(texts), "chosen": chosen, "table": table}


def group(method: str, qs: list[tuple[str, str]], v: np.ndarray, threshold: float) -> list[int]:
    """A group number per question: through ``find_gaps`` ("mean"), or single linkage over its k-NN."""
    if method.startswith("single"):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        ids = knn(v, min(NEIGHBOURS, len(v)))
        sims = v @ v.T  # small here (a few hundred rows): only for reading the neighbours' cosines
        r, c = np.nonzero((ids >= 0) & (np.take_along_axis(sims, np.maximum(ids, 0), 1) >= threshold))
        graph = coo_matrix((np.ones(len(r)), (r, ids[r, c])), shape=(len(v), len(v)))
        return list(connected_components(graph, directed=False)[1])
    lookup = {q: v[i] for i, (_, q) in enumerate(qs)}
    answers = [LoggedAnswer(str(i), 0.0, "cli", q, None, "not_found", None, ()) for i, (_, q) in enumerate(qs)]
    embed = lambda texts: np.stack([lookup[t] for t in texts])  # noqa: E731
    groups = find_gaps(answers, [], embed, centre=None, threshold=threshold)  # v is centred already where wanted
    label = {q: g for g, grp in enumerate(groups) for q in grp.questions}
    return [label[q] for _, q in qs]


def score(truth: list[str], pred: list[int]) -> dict[str, float]:
    """Pairwise precision/recall/F1 of "same group", topics split, topics merged, groups."""
    tp = fp = fn = 0
    for i, j in combinations(range(len(truth)), 2):
        same_t, same_p = truth[i] == truth[j], pred[i] == pred[j]
        tp += same_t and same_p
        fp += same_p and not same_t
        fn += same_t and not same_p
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    groups_of: dict[str, set[int]] = {}
    topics_in: dict[int, set[str]] = {}
    for t, g in zip(truth, pred, strict=True):
        groups_of.setdefault(t, set()).add(g)
        topics_in.setdefault(g, set()).add(t)
    split = sum(len(gs) > 1 for gs in groups_of.values())
    merged = sum(any(len(topics_in[g]) > 1 for g in gs) for gs in groups_of.values())
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "split": split, "merged": merged, "topics": len(groups_of), "groups": len(topics_in)}


def print_quality(table: dict[str, Any], chosen: dict[str, Any]) -> None:
    for method, halves in table.items():
        print(f"\n{method}: threshold | dev P R F1 split merged groups | held-out P R F1 split merged groups")
        for th in halves["dev"]:
            d, h = halves["dev"][th], halves["heldout"][th]
            print(f"  {th} | {d['precision']:.3f} {d['recall']:.3f} {d['f1']:.3f} {d['split']:>2} {d['merged']:>2} "
                  f"{d['groups']:>3} | {h['precision']:.3f} {h['recall']:.3f} {h['f1']:.3f} {h['split']:>2} "
                  f"{h['merged']:>2} {h['groups']:>3}")
    for method, c in chosen.items():
        h = c["heldout"]
        print(f"{method}: chosen on dev {c['threshold']:.2f} (dev F1 {c['dev']['f1']:.3f}); held-out "
              f"P {h['precision']:.3f} R {h['recall']:.3f} F1 {h['f1']:.3f}, {h['split']} of {h['topics']} topics "
              f"split, {h['merged']} merged")


# --- (b) speed --------------------------------------------------------------------------------------


def edit(q: str, rng: random.Random) -> str:
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        op = rng.randrange(4)
        i = rng.randrange(max(1, len(q)))
        if op == 0 and len(q) > 4:
            q = q[:i] + q[i + 1 :]  # a dropped character
        elif op == 1:
            q = q[:i] + q[i : i + 1] * 2 + q[i + 1 :]  # a doubled one
        elif op == 2 and len(q) > 3 and i + 1 < len(q):
            q = q[:i] + q[i + 1] + q[i] + q[i + 2 :]  # two swapped
        else:
            q = rng.choice(EDITS) + q if rng.random() < 0.5 else q + rng.choice(EDITS)
    return q


def speed(engine: Any, embed: Any, centre: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    base = sorted({q.question for q in load_eval_set() if q.kind in ("unanswerable", "offtopic")}
                  | {q for qs in topics().values() for q in qs})
    drawn = [(b, edit(b, rng)) for b in (rng.choice(base) for _ in range(args.n))]
    outcome = ("not_found", "not_found", "uncertain")
    answers = [LoggedAnswer(f"a{i}", float(i), "chat", q, None, rng.choice(outcome), 0.3, ())
               for i, (_, q) in enumerate(drawn)]
    base_of = {q: b for b, q in drawn}
    distinct = list(dict.fromkeys(q for _, q in drawn))
    log(f"{args.n} logged questions, {len(distinct)} distinct texts, {len(base)} base questions")

    out: dict[str, Any] = {"logged": args.n, "distinct_texts": len(distinct), "rss_start_mib": current_rss_mib()}
    sample = distinct[: min(args.embed_n, len(distinct))]
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "vectors.npz"
        t0 = time.perf_counter()
        real = embed_cached(sample, embed, cache)
        out["embed_s"] = round(time.perf_counter() - t0, 2)
        out["embedded"] = len(sample)
        out["embed_ms_per_question"] = round(out["embed_s"] / len(sample) * 1000, 2)
        t0 = time.perf_counter()
        embed_cached(sample, embed, cache)
        out["cached_repeat_s"] = round(time.perf_counter() - t0, 3)
    base_vec = dict(zip(base, embed(base), strict=True))
    vec = dict(zip(sample, real, strict=True))
    cos = np.array([float(vec[q] @ base_vec[base_of[q]]) for q in sample])
    out["edit_cosine_to_base_mean"] = round(float(cos.mean()), 4)
    noise = synthetic_noise(float(cos.mean()), real.shape[1])
    nrng = np.random.default_rng(args.seed)

    def lookup(texts: list[str]) -> np.ndarray:
        rows = []
        for t in texts:
            v = vec.get(t)
            if v is None:  # not embedded: its base's real vector plus calibrated noise
                v = base_vec[base_of.get(t, t)] + nrng.normal(0, noise, real.shape[1]).astype(np.float32)
                v = v / np.linalg.norm(v)
            rows.append(v)
        return np.stack(rows)

    def closest(q: str) -> dict[str, Any] | None:
        hits = engine.search(q, 1)
        return hits[0].to_dict() if hits else None

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    groups = find_gaps(answers, [], _timed(lookup, timings), centre=centre)
    total = time.perf_counter() - t0
    out["vectors_lookup_s"] = round(timings["embed"], 2)
    out["grouping_s"] = round(total - timings["embed"], 2)  # normalise + k-NN + assign + assemble
    out["distinct_after_normalise"] = sum(len(g.questions) for g in groups)
    out["groups"] = len(groups)
    out["groups_top"] = [(g.count, g.questions[0]) for g in groups[:5]]
    t0 = time.perf_counter()
    for g in groups[:20]:
        closest(g.central)
    out["closest_20_s"] = round(time.perf_counter() - t0, 2)
    embed_all = out["embed_ms_per_question"] / 1000 * out["distinct_after_normalise"]
    out["estimated_total_s_all_embedded"] = round(embed_all + out["grouping_s"] + out["closest_20_s"], 1)
    out["peak_rss_mib"] = peak_rss_mib()
    print(f"\nspeed: {args.n} logged, {len(distinct)} distinct; real model embeds {len(sample)} in {out['embed_s']} s "
          f"({out['embed_ms_per_question']} ms each; cached repeat {out['cached_repeat_s']} s); "
          f"{out['distinct_after_normalise']} distinct after normalising, {out['groups']} groups; grouping "
          f"{out['grouping_s']} s, closest passage of 20 groups {out['closest_20_s']} s; all embedded ≈ "
          f"{out['estimated_total_s_all_embedded']} s; peak RSS "
          f"{out['peak_rss_mib']} MiB", file=sys.stdout)
    return out


def synthetic_noise(target_cos: float, dim: int) -> float:
    """Per-coordinate sigma so a unit vector plus noise has cosine ``target_cos`` to it: cos ≈ 1/√(1+dσ²)."""
    return float(np.sqrt(max(1.0 / target_cos**2 - 1.0, 1e-6) / dim))


def _timed(fn: Any, into: dict[str, float]) -> Any:
    into["embed"] = 0.0

    def run(texts: list[str]) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return fn(texts)
        finally:
            into["embed"] += time.perf_counter() - t0

    return run


if __name__ == "__main__":
    sys.exit(main())
