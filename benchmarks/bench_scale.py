"""How the index legs scale: FAISS flat vs HNSW vs IVF at 10k / 100k / 1M vectors, and BM25 at 100k passages.

    .venv/bin/python benchmarks/bench_scale.py                 # full: 10k, 100k, 1M (see docs/benchmarks.md)
    .venv/bin/python benchmarks/bench_scale.py --max-n 100000  # skip 1M
    .venv/bin/python benchmarks/bench_scale.py --quick         # smoke run: 10k vectors, 10k passages

Vectors are synthetic stand-ins for multilingual-e5-small embeddings (dim 384): a two-level mixture of
gaussians (topics, subtopics) around a shared direction, normalised, so cosines are compressed like
e5's (about 0.5 between topics, 0.7 within a topic, 0.8 within a subtopic). Queries are fresh draws
from the same mixture. FAISS indexes are built by ``citeqa.index.dense.build_dense`` with the
library's own parameters (HNSW M=32, efConstruction=80, efSearch=64; IVF nlist=4·sqrt(n),
nprobe=nlist/8), except that IVF is trained on a sample of ``--ivf-train-per-list`` × nlist vectors
(the library trains on all of them, which at 1M takes far too long on 2 cores; ``--ivf-train all``
uses the library as is). Figures per size and kind: build time, index bytes (faiss.serialize_index),
RSS delta, single-query search p50 (at FAISS's default threads and at one thread), recall@10 against
flat. BM25 (``citeqa.index.bm25.BM25``): build time and query p50 over passages whose tokens follow a
Zipf law over a synthetic vocabulary. The last stdout line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
from _common import current_rss_mib, emit, log, machine, peak_rss_mib, release_free_memory, summarize_ms

DIM = 384
KINDS = ("flat", "hnsw", "ivf")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 10k vectors, 10k passages, 50 queries")
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated vector counts")
    p.add_argument("--max-n", type=int, help="skip sizes above this (e.g. 100000 to skip 1M)")
    p.add_argument("--kinds", default=",".join(KINDS), help="FAISS kinds to build (flat is always built)")
    p.add_argument("--queries", type=int, help="queries timed one by one (default 200; 50 at 1M)")
    p.add_argument("--recall-queries", type=int, default=200, help="queries for recall@10 (batch search)")
    p.add_argument("--ivf-train-per-list", default="39", help="IVF training sample per list, or 'all'")
    p.add_argument("--bm25-docs", type=int, help="BM25 passages (default 100000; --quick 10000)")
    p.add_argument("--bm25-vocab", type=int, default=50_000, help="synthetic vocabulary size")
    p.add_argument("--bm25-queries", type=int, default=200, help="BM25 queries timed one by one")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        sizes = [min(sizes)]
        args.queries = args.queries or 50
        args.recall_queries = min(args.recall_queries, 50)
        args.bm25_queries = min(args.bm25_queries, 50)
    if args.max_n:
        sizes = [s for s in sizes if s <= args.max_n]
    args.sizes = sizes
    args.kinds = [k for k in args.kinds.split(",") if k.strip()]
    unknown = set(args.kinds) - set(KINDS)
    if unknown:
        p.error(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    if "flat" not in args.kinds:
        args.kinds.insert(0, "flat")  # the recall reference
    args.bm25_docs = args.bm25_docs or (10_000 if args.quick else 100_000)
    return args


def clustered_unit_vectors(n: int, rng: np.random.Generator, mixture: dict[str, np.ndarray]) -> np.ndarray:
    """``n`` normalised draws from the topic/subtopic mixture, generated in chunks to bound memory."""
    topics, subs, shared = mixture["topics"], mixture["subs"], mixture["shared"]
    out = np.empty((n, DIM), dtype=np.float32)
    chunk = 100_000
    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        t = rng.integers(0, topics.shape[0], m)
        s = rng.integers(0, subs.shape[1], m)
        noise = rng.standard_normal((m, DIM), dtype=np.float32) / np.float32(np.sqrt(DIM))
        x = 0.7 * shared + 0.45 * topics[t] + 0.35 * subs[t, s] + 0.4 * noise
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[lo : lo + m] = x
    return out


def make_mixture(rng: np.random.Generator, n_topics: int = 256, n_subs: int = 16) -> dict[str, np.ndarray]:
    def unit(*shape: int) -> np.ndarray:
        v = rng.standard_normal((*shape, DIM), dtype=np.float32)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    return {"shared": unit(1)[0], "topics": unit(n_topics), "subs": unit(n_topics, n_subs)}


def build(kind: str, x: np.ndarray, train_per_list: str, rng: np.random.Generator) -> tuple[Any, dict]:
    """Build one index as the library does (IVF: optionally trained on a sample)."""
    import faiss

    from citeqa.index.local.dense import build_dense

    n = x.shape[0]
    info: dict[str, Any] = {}
    if kind != "ivf" or train_per_list == "all":
        index = build_dense(x, kind)
    else:  # the library's nlist and nprobe, k-means on a sample
        nlist = max(1, min(int(4 * np.sqrt(max(n, 1))), n // 39 or 1))
        sample = min(n, int(train_per_list) * nlist)
        train = x[np.sort(rng.choice(n, sample, replace=False))] if sample < n else x
        quantizer = faiss.IndexFlatIP(DIM)
        index = faiss.IndexIVFFlat(quantizer, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(train)
        index.nprobe = min(nlist, max(8, nlist // 8))
        index.add(x)
        info["train_sample"] = sample
    if kind == "ivf":
        info.update(nlist=int(index.nlist), nprobe=int(index.nprobe))
    if kind == "hnsw":
        info.update(M=int(index.hnsw.nb_neighbors(1)), ef_construction=int(index.hnsw.efConstruction),
                    ef_search=int(index.hnsw.efSearch))
    return index, info


def single_query_p50(index: Any, queries: np.ndarray, k: int = 10) -> dict[str, Any]:
    samples = []
    index.search(queries[:1], k)  # warm-up
    for i in range(queries.shape[0]):
        t0 = time.perf_counter()
        index.search(queries[i : i + 1], k)
        samples.append(time.perf_counter() - t0)
    return summarize_ms(samples)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return round(hits / truth.size, 4)


def bench_faiss(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, Any]:
    import faiss

    default_threads = faiss.omp_get_max_threads()
    mixture = make_mixture(rng)
    max_n = max(args.sizes)
    t0 = time.perf_counter()
    data = clustered_unit_vectors(max_n, rng, mixture)  # sizes are prefixes of one draw
    n_q = max(args.queries or 200, args.recall_queries)
    queries = clustered_unit_vectors(n_q, rng, mixture)
    gen_s = time.perf_counter() - t0
    sample = data[rng.choice(max_n, min(max_n, 2000), replace=False)]
    cos = sample @ sample.T
    log(
        f"generated {max_n:,} × {DIM} vectors in {gen_s:.1f} s; pairwise cosine p5/p50/p95 "
        f"{np.percentile(cos, 5):.2f}/{np.percentile(cos, 50):.2f}/{np.percentile(cos, 95):.2f}; "
        f"faiss threads {default_threads}"
    )
    out: dict[str, Any] = {
        "dim": DIM,
        "generate_s": round(gen_s, 2),
        "cosine_p5_p50_p95": [round(float(np.percentile(cos, p)), 3) for p in (5, 50, 95)],
        "faiss_threads": default_threads,
        "sizes": {},
    }
    for n in args.sizes:
        x = data[:n]
        timed_q = args.queries or (50 if n >= 1_000_000 else 200)
        per_kind: dict[str, Any] = {}
        truth = None
        for kind in args.kinds:
            release_free_memory()
            rss0 = current_rss_mib()
            t0, c0 = time.perf_counter(), time.process_time()
            index, info = build(kind, x, args.ivf_train_per_list, rng)
            build_s, build_cpu_s = time.perf_counter() - t0, time.process_time() - c0
            rss_delta = current_rss_mib() - rss0
            nbytes = int(faiss.serialize_index(index).nbytes)
            _, found = index.search(queries[: args.recall_queries], 10)
            if kind == "flat":
                truth = found
            faiss.omp_set_num_threads(default_threads)
            search = single_query_p50(index, queries[:timed_q])
            faiss.omp_set_num_threads(1)
            search_1t = single_query_p50(index, queries[:timed_q])
            faiss.omp_set_num_threads(default_threads)
            assert truth is not None
            row = {
                "build_s": round(build_s, 3),
                "build_cpu_s": round(build_cpu_s, 3),
                "index_mib": round(nbytes / 2**20, 1),
                "rss_delta_mib": round(rss_delta, 1),
                "search": search,
                "search_1thread": search_1t,
                "recall_at_10": recall_at_10(found, truth),
                **info,
            }
            per_kind[kind] = row
            log(
                f"n={n:>9,} {kind:5s} build {build_s:8.2f} s (cpu {build_cpu_s:8.2f} s)  "
                f"index {row['index_mib']:8.1f} MiB  "
                f"rss +{rss_delta:8.1f} MiB  p50 {search['p50_ms']:8.3f} ms "
                f"(1 thread {search_1t['p50_ms']:8.3f} ms)  recall@10 {row['recall_at_10']:.3f}  "
                f"load {machine()['loadavg']}"
            )
            del index
        out["sizes"][str(n)] = per_kind
    return out


def zipf_corpus(n_docs: int, vocab: int, rng: np.random.Generator) -> tuple[list[list[str]], np.ndarray]:
    """Passages of 40-400 tokens (about what jieba makes of the bundled corpus' paragraphs) drawn from
    a Zipf-Mandelbrot law p(r) ∝ 1/(r + 2.7)."""
    words = np.array([f"w{i}" for i in range(vocab)], dtype=object)
    p = 1.0 / (np.arange(vocab) + 2.7)
    p /= p.sum()
    lengths = np.clip(rng.lognormal(np.log(130), 0.5, n_docs).astype(int), 40, 400)
    flat = rng.choice(vocab, int(lengths.sum()), p=p)
    docs = []
    pos = 0
    for length in lengths:
        docs.append(words[flat[pos : pos + length]].tolist())
        pos += length
    return docs, p


def bench_bm25(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, Any]:
    from citeqa.index.local.bm25 import BM25

    t0 = time.perf_counter()
    docs, p = zipf_corpus(args.bm25_docs, args.bm25_vocab, rng)
    gen_s = time.perf_counter() - t0
    release_free_memory()
    rss0 = current_rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    bm25 = BM25(docs)
    build_s, build_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    rss_delta = current_rss_mib() - rss0
    # Queries: 4-10 terms from the same law, like a question's jieba tokens (a few common words).
    queries = [
        [f"w{i}" for i in rng.choice(args.bm25_vocab, int(rng.integers(4, 11)), p=p)]
        for _ in range(args.bm25_queries)
    ]
    bm25.top(queries[0], 50)
    samples = []
    for q in queries:
        t0 = time.perf_counter()
        bm25.top(q, 50)  # the hybrid retriever asks each leg for 50
        samples.append(time.perf_counter() - t0)
    out = {
        "docs": args.bm25_docs,
        "vocab": args.bm25_vocab,
        "tokens": int(sum(len(d) for d in docs)),
        "generate_s": round(gen_s, 2),
        "build_s": round(build_s, 3),
        "build_cpu_s": round(build_cpu_s, 3),
        "rss_delta_mib": round(rss_delta, 1),
        "query_top50": summarize_ms(samples),
    }
    log(
        f"BM25 {args.bm25_docs:,} passages ({out['tokens']:,} tokens): build {build_s:.2f} s, "
        f"rss +{rss_delta:.1f} MiB, query p50 {out['query_top50']['p50_ms']:.2f} ms "
        f"p95 {out['query_top50']['p95_ms']:.2f} ms"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "scale", "quick": args.quick, "machine_start": machine()}
    rng = np.random.default_rng(args.seed)
    result["faiss"] = bench_faiss(args, rng)
    result["bm25"] = bench_bm25(args, rng)
    result["peak_rss_mib"] = peak_rss_mib()
    result["total_s"] = round(time.perf_counter() - started, 2)
    result["total_cpu_s"] = round(time.process_time(), 2)  # both cores: idle-machine wall ≥ half of it
    result["machine_end"] = machine()
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
