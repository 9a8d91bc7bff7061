"""End-to-end timings of citeqa on the bundled corpus: model preparation, load, index build, cold start,
warm search/ask latency, peak RSS.

    .venv/bin/python benchmarks/bench_pipeline.py            # full: every eval question, 5 cold starts
    .venv/bin/python benchmarks/bench_pipeline.py --quick    # smoke run: 12 questions, 1 cold start

Uses a private temporary CITEQA_CACHE_DIR / CITEQA_DATA_DIR (removed at the end) unless --cache-dir /
--data-dir are given, so it never touches the user's model cache or index. With a --cache-dir that
already holds the converted model, "prepare" measures the check only (``converted`` says which).
Warm timings clear the query-vector cache before each call, so query encoding is always included.
Figures go to stderr as they come; the last stdout line is one JSON object with all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, log, machine, peak_rss_mib, summarize_ms, timed

LEGS = ("dense", "bm25", "hybrid")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: few questions, one cold start")
    p.add_argument("--questions", type=int, help="eval questions to time (default: all; --quick: 12)")
    p.add_argument("--cold-runs", type=int, help="fresh `citeqa ask` processes to time (default 5; --quick 1)")
    p.add_argument("--cache-dir", type=Path, help="CITEQA_CACHE_DIR to use (default: a private temp dir)")
    p.add_argument("--data-dir", type=Path, help="CITEQA_DATA_DIR to use (default: a private temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (its path is printed)")
    args = p.parse_args(argv)
    args.questions = args.questions or (12 if args.quick else None)
    args.cold_runs = args.cold_runs if args.cold_runs is not None else (1 if args.quick else 5)
    return args


def child_env(cache_dir: Path, data_dir: Path) -> dict[str, str]:
    """The environment of the benchmark's citeqa: the user's CITEQA_* variables removed, so defaults apply
    and no CITEQA_INDEX_DIR or CITEQA_EMBED_MODEL can point it at the user's own index or model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env["CITEQA_CACHE_DIR"] = str(cache_dir)
    env["CITEQA_DATA_DIR"] = str(data_dir)
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "pipeline", "quick": args.quick, "machine_start": machine()}
    tmp = Path(tempfile.mkdtemp(prefix="citeqa-bench-pipeline-"))
    cache_dir = args.cache_dir or tmp / "cache"
    data_dir = args.data_dir or tmp / "data"
    env = child_env(cache_dir, data_dir)
    try:
        run(args, result, env, cache_dir, data_dir)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result["peak_rss_mib"] = peak_rss_mib()
    result["peak_rss_children_mib"] = peak_rss_mib(resource.RUSAGE_CHILDREN)
    result["total_s"] = round(time.perf_counter() - started, 2)
    result["machine_end"] = machine()
    emit(result)
    return 0


def run(args: argparse.Namespace, result: dict[str, Any], env: dict[str, str], cache_dir: Path, data_dir: Path) -> None:
    t: dict[str, float] = {}
    with timed(t, "import_s"):  # torch + sentence-transformers dominate; counted apart from the model load
        import sentence_transformers  # noqa: F401
        import torch

        from citeqa.corpus import bundled_corpus_path, load_corpus
        from citeqa.eval.dataset import load_eval_set
        from citeqa.index import build_index, load_embedder, open_index
        from citeqa.index.e5model import default_model_dir, ensure_default_model
        from citeqa.qa.engine import Engine, corpus_settings
        from citeqa.settings import Settings
    result["torch_threads"] = torch.get_num_threads()
    log(f"imports: {t['import_s']:.2f} s (torch threads {torch.get_num_threads()})")

    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("CITEQA_")})
    models_dir = settings.cache_dir / "models"  # where load_embedder looks
    result["converted"] = not default_model_dir(models_dir).exists()
    with timed(t, "prepare_s"):
        ensure_default_model(models_dir, progress=False)
    log(f"model preparation ({'conversion' if result['converted'] else 'already prepared'}): {t['prepare_s']:.2f} s")

    with timed(t, "model_load_s"):
        embedder = load_embedder(settings.embed_model, cache_dir=settings.cache_dir, progress=False)
    log(f"model load: {t['model_load_s']:.2f} s")

    csettings = corpus_settings(settings)
    with timed(t, "corpus_load_s"):
        corpus = load_corpus(None, csettings)
    quiet = lambda _msg: None  # noqa: E731
    with timed(t, "index_build_s"):  # the same call Engine.open makes on first run
        build_index(
            corpus, embedder, settings.index_dir, corpus_settings=csettings,
            source_paths={corpus.documents[0].source: bundled_corpus_path()},
            kind=settings.index_kind, progress=False, log=quiet,
        )
    with timed(t, "index_open_s"):
        index = open_index(settings.index_dir, embedder, corpus_settings=csettings)
    engine = Engine.assemble(settings, embedder, index)
    result["passages"] = len(index.passages)
    result["sentences"] = int(index.sentences.shape[0])
    log(
        f"index build: {t['index_build_s']:.2f} s for {len(index.passages)} passages + "
        f"{index.sentences.shape[0]} sentences (corpus load {t['corpus_load_s']:.2f} s, open {t['index_open_s']:.2f} s)"
    )
    result["timings_s"] = t

    questions = [q.question for q in load_eval_set()]
    if args.questions:
        questions = questions[: args.questions]
    result["warm"] = warm_latency(engine, questions)
    result["cold_start"] = cold_start(env, questions, args.cold_runs)


def warm_latency(engine: Any, questions: list[str]) -> dict[str, Any]:
    """Per question, time encode, each leg, hybrid and ask, clearing the query cache before each call."""
    cache = engine.embedder
    for q in questions[:3]:  # warm-up: first calls pay for lazy init (jieba dictionary, torch kernels)
        engine.ask(q)
        for leg in LEGS:
            engine.search(q, retriever=leg)
    samples: dict[str, list[float]] = {"encode": [], **{leg: [] for leg in LEGS}, "ask": []}
    for q in questions:
        cache.clear()
        t0 = time.perf_counter()
        cache.encode_queries([q])
        samples["encode"].append(time.perf_counter() - t0)
        for leg in LEGS:
            cache.clear()
            t0 = time.perf_counter()
            engine.search(q, retriever=leg)
            samples[leg].append(time.perf_counter() - t0)
        cache.clear()
        t0 = time.perf_counter()
        engine.ask(q)
        samples["ask"].append(time.perf_counter() - t0)
    out = {name: summarize_ms(s) for name, s in samples.items()}
    for name, s in out.items():
        log(f"warm {name:7s}: p50 {s['p50_ms']:8.2f} ms  p95 {s['p95_ms']:8.2f} ms  p99 {s['p99_ms']:8.2f} ms  (n={s['n']})")
    return out


def cold_start(env: dict[str, str], questions: list[str], runs: int) -> dict[str, Any]:
    """Wall time of fresh `python -m citeqa ask --json Q` processes, from spawn to exit with the answer."""
    walls: list[float] = []
    for i in range(runs):
        q = questions[i % len(questions)]
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "citeqa", "ask", "--json", q],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"cold start {i + 1} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
        answer = json.loads(proc.stdout)
        if "answer" not in answer:
            raise RuntimeError(f"cold start {i + 1} printed no answer: {proc.stdout[:500]}")
        walls.append(wall)
        log(f"cold start {i + 1}/{runs}: {wall:.2f} s")
    ordered = sorted(walls)
    return {
        "runs": len(walls),
        "wall_s": [round(w, 3) for w in walls],
        "min_s": round(ordered[0], 3) if walls else None,
        "median_s": round(ordered[(len(ordered) - 1) // 2], 3) if walls else None,
        "max_s": round(ordered[-1], 3) if walls else None,
    }


if __name__ == "__main__":
    sys.exit(main())
