"""``bench_pipeline.py --compare A B``: cold starts and warm latency of two sides, interleaved, with B / A.

Cold: fresh ``citeqa ask --json Q`` processes, A then B, then B then A, and so on. Warm: every question
through encode, each retriever and ask (``_warm.py``) in a fresh process of each side, at one thread
(``CITEQA_TORCH_THREADS=1``) and at the side's default, in alternating order, ``--rounds`` times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import emit, log, machine, summarize_ms
from _sides import Side, compared, parse_side, prepare, ratio
from _warm import CALLS

HERE = Path(__file__).resolve().parent


def compare_pipeline(args: argparse.Namespace) -> int:
    from citeqa.eval.dataset import load_eval_set

    result: dict[str, Any] = {"benchmark": "pipeline-compare", "quick": args.quick, "machine_start": machine()}
    questions = [q.question for q in load_eval_set()][: args.questions]
    work = Path(tempfile.mkdtemp(prefix="citeqa-bench-compare-"))
    try:
        sides = [parse_side(spec, work) for spec in args.compare]
        result["sides"] = [side.describe() for side in sides]
        for side in sides:
            prepare(side, questions[0], log)
        result["cold_start"] = cold(sides, questions, args.cold_runs)
        qfile = work / "questions.json"
        qfile.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
        result["warm"] = warm(sides, qfile, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["machine_end"] = machine()
    emit(result)
    return 1 if any(result["cold_start"][s.name]["failures"] for s in sides) else 0


def cold(sides: list[Side], questions: list[str], runs: int) -> dict[str, Any]:
    """``runs`` cold starts of each side, alternating which goes first; medians and B / A."""
    from bench_pipeline import cold_once, spread

    walls: dict[str, list[float]] = {s.name: [] for s in sides}
    failures: dict[str, list[str]] = {s.name: [] for s in sides}
    for i in range(runs):
        for side in sides if i % 2 == 0 else sides[::-1]:
            wall, why = cold_once(side.env(), questions[i % len(questions)], cwd=side.home)
            if wall is None:
                failures[side.name].append(why)
            else:
                walls[side.name].append(wall)
            log(f"cold {i + 1}/{runs} {side.name}: " + (f"{wall:.2f} s" if wall is not None else f"FAILED {why[:200]}"))
    out: dict[str, Any] = {s.name: {"failures": failures[s.name], **spread(walls[s.name])} for s in sides}
    a, b = (out[s.name]["median_s"] for s in sides)
    out["median_b_over_a"] = ratio(b, a)
    log(f"cold start median: {sides[0].name} {a} s, {sides[1].name} {b} s, B/A {out['median_b_over_a']}")
    return out


def warm(sides: list[Side], qfile: Path, rounds: int) -> dict[str, Any]:
    """Per thread setting ("1" and "default"), each side's percentiles of every call, pooled over rounds."""
    out: dict[str, Any] = {}
    for label, threads in (("1", {"CITEQA_TORCH_THREADS": "1"}), ("default", {})):
        pooled: dict[str, dict[str, dict[str, list[float]]]] = {
            s.name: {"wall": {c: [] for c in CALLS}, "cpu": {c: [] for c in CALLS}} for s in sides
        }
        for r in range(rounds):
            for side in sides if r % 2 == 0 else sides[::-1]:
                samples = _worker(side, qfile, threads)
                for kind in ("wall", "cpu"):
                    for call in CALLS:
                        pooled[side.name][kind][call].extend(samples[kind][call])
                log(f"warm threads={label} round {r + 1}/{rounds} {side.name}: "
                    f"ask p50 {summarize_ms(samples['wall']['ask'])['p50_ms']} ms")
        figures = {name: {c: _figures(p, c) for c in CALLS} for name, p in pooled.items()}
        a, b = (figures[s.name] for s in sides)
        out[label] = {
            **figures,
            "p50_b_over_a": {c: ratio(b[c]["p50_ms"], a[c]["p50_ms"]) for c in CALLS},
        }
        for c in CALLS:
            row = compared([a[c]], [b[c]], lambda f: f["p50_ms"])
            log(f"warm {c:7s} threads={label:7s} p50 {sides[0].name} {row['a']} ms, {sides[1].name} {row['b']} ms, "
                f"B/A {row['b_over_a']}")
    return out


def _figures(pooled: dict[str, dict[str, list[float]]], call: str) -> dict[str, Any]:
    figures = summarize_ms(pooled["wall"][call])
    figures["cpu_p50_ms"] = summarize_ms(pooled["cpu"][call])["p50_ms"]
    return figures


def _worker(side: Side, qfile: Path, threads: dict[str, str]) -> dict[str, Any]:
    """One fresh process of ``side`` timing every question (``_warm.py``); its samples."""
    env = {**side.env(), **threads}
    proc = subprocess.run(
        [sys.executable, str(HERE / "_warm.py"), str(qfile)], env=env, capture_output=True, text=True,
        timeout=3600, check=False, cwd=side.home,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"side {side.name}: the warm worker exited {proc.returncode}: {proc.stderr[-1500:]}")
    samples: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return samples
