"""Warm latency of a loaded engine: encode, each retriever and ask, per question, query cache cleared each time.

In process (``bench_pipeline.py``) or as a worker of a side-by-side run, in the side's own process:

    PYTHONPATH=<side>/src CITEQA_CACHE_DIR=... CITEQA_DATA_DIR=... python benchmarks/_warm.py QUESTIONS.json

prints one JSON line: the samples (seconds) of each call, wall and CPU. The worker uses only what every
version of citeqa since d7b5632 has: ``Engine.open``, ``search``, ``ask``, ``embedder.clear()``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

LEGS = ("dense", "bm25", "hybrid")
CALLS = ("encode", *LEGS, "ask")


def time_calls(engines: Sequence[Any], questions: Sequence[str], warmup: int = 2) -> list[dict[str, dict[str, list]]]:
    """For each engine, the wall and CPU seconds of every call on every question.

    Each question is timed on every engine in turn (interleaved), so a change in the machine's load
    during the run affects them alike. The query-vector cache is cleared before each call, so each
    includes encoding the question.
    """

    def calls(engine: Any, q: str) -> list[tuple[str, Callable[[], object]]]:
        return [
            ("encode", lambda: engine.embedder.encode_queries([q])),
            *[(leg, lambda leg=leg: engine.search(q, retriever=leg)) for leg in LEGS],
            ("ask", lambda: engine.ask(q)),
        ]

    samples: list[dict[str, dict[str, list]]] = [{"wall": {c: [] for c in CALLS}, "cpu": {c: [] for c in CALLS}}
                                                 for _ in engines]
    for engine in engines:  # first calls pay for lazy set-up (jieba, thread pools, kernels)
        for q in questions[:warmup]:
            for _, call in calls(engine, q):
                engine.embedder.clear()
                call()
    for q in questions:
        for engine, out in zip(engines, samples, strict=True):
            for name, call in calls(engine, q):
                engine.embedder.clear()
                c0, t0 = time.process_time(), time.perf_counter()
                call()
                out["wall"][name].append(time.perf_counter() - t0)
                out["cpu"][name].append(time.process_time() - c0)
    return samples


def main(argv: list[str]) -> int:
    from citeqa.qa.engine import Engine
    from citeqa.settings import Settings

    questions = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    engine = Engine.open(Settings.from_env(), progress=False)
    opened = time.perf_counter() - t0
    (samples,) = time_calls([engine], questions)
    print(json.dumps({"open_s": opened, **samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
