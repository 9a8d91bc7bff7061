"""Local (FAISS + BM25 files) vs Milvus Lite: ingest throughput and query latency at 100k synthetic passages.

    .venv/bin/python benchmarks/bench_backends.py               # 100k passages (see docs/benchmarks.md)
    .venv/bin/python benchmarks/bench_backends.py --quick       # smoke run: 1,000 passages, 10 queries

What is measured is the backend, not the model: passages are embedded by a synthetic embedder
(a unit vector seeded by a hash of the text, dim 384 like multilingual-e5-small: about 15 µs per
text), so "ingest" is tokenizing, writing and indexing passages and their sentence vectors.
Passages are 2–4 sentences drawn at random from the bundled corpus plus a unique serial, in 100
synthetic files. Both backends ingest through the library's own entry points (``build_index``,
``build_milvus``) with FLAT vectors; queries go through the same ``Engine`` calls the CLI uses
(``search`` per leg, ``ask``), one at a time. Milvus Lite runs in-process from a local file and is
a development server: its figures are not those of a Milvus cluster. The last stdout line is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import emit, log, machine, peak_rss_mib, summarize_ms

DIM = 384


class SyntheticEmbedder:
    """A deterministic unit vector per text; stands in for the model so the backends are what is timed."""

    name = "synthetic-384"
    dim = DIM
    fingerprint = "synthetic-v1"

    def _one(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


def synthetic_corpus(n: int, files: int, rng: random.Random) -> Any:
    """``n`` passages in ``files`` sources, built from the bundled corpus's sentences."""
    from citeqa.corpus import LoadedCorpus, Passage, load_corpus
    from citeqa.text import sentence_spans

    sentences = [p.text[s:e] for p in load_corpus().passages for s, e in sentence_spans(p.text)]
    passages = []
    for i in range(n):
        text = "".join(rng.sample(sentences, rng.randint(2, 4))) + f"（編號 {i}）"
        src = f"synthetic/file-{i % files:03d}.txt"
        passages.append(Passage(f"{src}#p{i}", src, ("一、合成段落",), f"合成 ¶{i}", text, 0, len(text)))
    passages.sort(key=lambda p: p.source)  # the local index keeps each file's passages together
    sha = {p.source: hashlib.sha256(p.source.encode()).hexdigest() for p in passages}
    return LoadedCorpus(documents=(), passages=tuple(passages), sha256=sha)


def queries(n: int, rng: random.Random) -> list[str]:
    from citeqa.eval.dataset import load_eval_set

    qs = [q.question for q in load_eval_set(None, None)]
    return rng.sample(qs, min(n, len(qs)))


def time_engine(engine: Any, qs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for leg in ("dense", "bm25", "hybrid"):
        samples = []
        for q in qs:
            t0 = time.perf_counter()
            engine.search(q, 5, leg)
            samples.append(time.perf_counter() - t0)
        out[f"search_{leg}"] = summarize_ms(samples)
    samples = []
    for q in qs:
        t0 = time.perf_counter()
        engine.ask(q)
        samples.append(time.perf_counter() - t0)
    out["ask"] = summarize_ms(samples)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--passages", type=int, default=100_000)
    p.add_argument("--files", type=int, default=100)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--quick", action="store_true", help="1,000 passages, 10 queries")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.quick:
        args.passages, args.queries = 1000, 10

    from citeqa.corpus import CorpusSettings
    from citeqa.index import build_index
    from citeqa.index.milvus.index import MilvusSettings
    from citeqa.index.milvus.ingest import build_milvus
    from citeqa.qa.engine import Engine
    from citeqa.settings import Settings

    rng = random.Random(args.seed)
    corpus = synthetic_corpus(args.passages, args.files, rng)
    qs = queries(args.queries, rng)
    embedder = SyntheticEmbedder()
    result: dict[str, Any] = {
        "benchmark": "backends",
        "quick": args.quick,
        "machine_start": machine(),
        "passages": args.passages,
        "files": args.files,
        "queries": len(qs),
    }
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for backend in ("local", "milvus"):
            log(f"{backend}: ingesting {args.passages:,} passages …")
            t0 = time.perf_counter()
            if backend == "local":
                index: Any = build_index(
                    corpus,
                    embedder,
                    base / "index",
                    corpus_settings=CorpusSettings(),
                    progress=False,
                    log=lambda _: None,
                )
            else:
                ms = MilvusSettings(uri=str(base / "citeqa.db"))
                index = build_milvus(
                    corpus, embedder, ms, corpus_settings=CorpusSettings(), progress=False, log=lambda _: None
                )
            ingest_s = time.perf_counter() - t0
            settings = Settings.from_env(
                {},
                index_dir=base / "index",
                cache_dir=base / "cache",
                backend=backend,
                milvus_uri=str(base / "citeqa.db"),
            )
            engine = Engine.assemble(settings, embedder, index)
            figures = {
                "ingest_s": round(ingest_s, 2),
                "ingest_passages_per_s": round(args.passages / ingest_s, 1),
                **time_engine(engine, qs),
                "peak_rss_mib_so_far": round(peak_rss_mib(), 1),
            }
            log(f"{backend}: {figures}")
            result[backend] = figures
    result["machine_end"] = machine()
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
