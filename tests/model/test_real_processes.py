"""The real model in processes of its own: `citeqa serve` from start to clean stop, a `citeqa index`
killed half-way, and the pipeline benchmark. Each reuses the session's converted model (``real_env``).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from citeqa.index.update import update_index
from citeqa.qa.engine import Engine
from citeqa.settings import Settings
from support import ARTIFACTS, assert_cited_quote, assert_latency, assert_machine, free_port, run_bench

CITEQA = [sys.executable, "-m", "citeqa"]


def _wait_for_healthz(proc: subprocess.Popen, base: str, log: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"citeqa serve exited with {proc.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.get(f"{base}/healthz", timeout=2)
            if r.status_code == 200:
                return r.json()
        if time.monotonic() > deadline:
            raise TimeoutError(f"citeqa serve did not answer /healthz in {timeout:.0f} s; see {log}")
        time.sleep(0.5)


def test_citeqa_serve_starts_answers_and_stops_cleanly(real_env):
    """The one `citeqa serve` process of the suite: the entry point, /healthz, a question, and on SIGTERM
    (what a process manager sends) uvicorn's graceful shutdown, then the signal's own exit status."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*CITEQA, "serve", "--port", str(port), "--log-level", "info"], env=real_env,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            health = _wait_for_healthz(proc, base, log)
            assert health["status"] == "ok" and health["passages"] == 27
            r = httpx.post(f"{base}/api/ask", json={"question": "拜登政府宣布對台軍售幾次？"}, timeout=60)
            assert r.status_code == 200 and r.json()["grounded"] and "19" in r.json()["answer"], r.text
            assert_cited_quote(r.json())
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after shutting down
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert f"serving 27 passages on http://127.0.0.1:{port}/" in text
    assert "Application shutdown complete" in text and "Finished server process" in text, text[-2000:]
    assert "Traceback" not in text


def _live_generation(index_dir: Path) -> str:
    return (index_dir / "CURRENT").read_text().strip()


def test_index_killed_half_way_leaves_previous_index_loadable(real_env, real_engine, tmp_path):
    idx = tmp_path / "idx"
    model = real_engine.embedder.inner
    settings = Settings.from_env(real_env)
    update_index(settings, [], index_dir=idx, embedder=model, progress=False, log=lambda _: None)  # `citeqa index`
    before = _live_generation(idx)
    cmd = [*CITEQA, "index", "--index", str(idx), "--quiet", "--full"]  # re-embed everything
    proc = subprocess.Popen(cmd, env=real_env, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # kill it while it is embedding: the new generation is half-written
        if "embedding" in line:
            time.sleep(1)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert _live_generation(idx) == before
    engine = Engine.open(settings, index_dir=idx, embedder=model, progress=False, log=lambda _: None)
    assert "孟買" in engine.search("孟買", 5)[0].passage.text


def test_bench_pipeline_quick(real_env):
    """The pipeline benchmark on the session's converted model (so it checks, not converts, the cache)."""
    _, out = run_bench("bench_pipeline.py", "--quick", "--cache-dir", real_env["CITEQA_CACHE_DIR"])
    assert out["benchmark"] == "pipeline" and out["quick"] is True
    assert_machine(out["machine_start"])
    for key in ("import_s", "prepare_s", "model_load_s", "index_build_s", "index_open_s"):
        assert out["timings_s"][key] >= 0
    assert out["converted"] is False  # the cache held the converted model: it was reused
    assert out["passages"] > 0 and out["sentences"] >= out["passages"]
    for name in ("encode", "dense", "bm25", "hybrid", "ask"):
        assert_latency(out["warm"][name])
    cold = out["cold_start"]
    assert cold["runs"] == len(cold["wall_s"]) >= 1 and cold["median_s"] > 0
    assert out["peak_rss_mib"] > 0 and out["peak_rss_children_mib"] > 0
