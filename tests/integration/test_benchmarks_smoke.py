"""The benchmark scripts run (--quick) and print a final JSON line with their figures; no timing asserted.

``bench_pipeline.py`` needs the real model: tests/model/test_real_bench_pipeline.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import BENCH, assert_latency, assert_machine, run_bench


def test_bench_scale_quick() -> None:
    _, out = run_bench("bench_scale.py", "--quick")
    assert out["benchmark"] == "scale" and out["quick"] is True
    assert_machine(out["machine_start"])
    sizes = out["faiss"]["sizes"]
    assert list(sizes) == ["10000"]
    for kind in ("flat", "hnsw", "ivf"):
        row = sizes["10000"][kind]
        assert row["build_s"] >= 0 and row["index_mib"] > 0 and "rss_delta_mib" in row
        assert_latency(row["search"])
        assert_latency(row["search_1thread"])
        assert 0.0 <= row["recall_at_10"] <= 1.0
    assert sizes["10000"]["flat"]["recall_at_10"] == 1.0  # flat is its own reference
    bm25 = out["bm25"]
    assert bm25["docs"] == 10_000 and bm25["build_s"] >= 0
    assert_latency(bm25["query_top50"])


def test_bench_load_self_test() -> None:
    """The load generator against its in-process stub: bounded, stops by itself, counts every request."""
    args = ("--self-test", "--quick", "--clients", "3", "--duration", "2")
    _, out = run_bench("bench_load.py", *args, timeout=120)
    assert out["benchmark"] == "load" and out["stub"] is True
    assert out["errors"] == 0 and out["ok"] == out["requests"] > 0
    assert out["throughput_rps"] > 0
    assert_latency(out["latency"])


@pytest.mark.parametrize("url", ["http://10.0.0.1:7860", "http://example.com", "http://127.0.0.2:7860", "file:///x"])
def test_bench_load_refuses_non_loopback(url: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_load.py"), "--url", url, "--quick"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert "loopback" in proc.stderr or "http(s)" in proc.stderr


def test_bench_backends_quick() -> None:
    pytest.importorskip("pymilvus", reason="the Milvus backend is an extra: pip install 'citeqa[milvus]'")
    _, out = run_bench("bench_backends.py", "--quick")
    assert out["benchmark"] == "backends" and out["quick"] is True
    assert_machine(out["machine_start"])
    assert out["passages"] == 1000
    for backend in ("local", "milvus"):
        figures = out[backend]
        assert figures["ingest_s"] > 0 and figures["ingest_passages_per_s"] > 0
        for name in ("search_dense", "search_bm25", "search_hybrid", "ask"):
            assert_latency(figures[name])
