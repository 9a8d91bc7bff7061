"""Helpers the tests import: fake embedders, a daemon-thread runner, a probe of what a command imports, an
in-process server, and the shared assertions.

Fixtures live in ``conftest.py``; what a test module imports by name lives here
(``from support import live_server``), never in another test module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import httpx
import numpy as np
import pytest

from citeqa.errors import InputError
from citeqa.qa.types import Answer
from citeqa.ui.api.routes import AnswerOut, HitOut

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"

# The web app behind a proxy sub-path, with an access token and one allowed CORS origin.
TOKEN = "s3cret-token"
PREFIX = "/citeqa"
ALLOWED = "http://intranet.example"
# The keys every hit and answer carries, derived from the HTTP contract's models (ui.api.routes); the stable
# keys other tools rely on are checked against them in tests/fast/test_api_contract.py.
HIT_KEYS = {k for k, f in HitOut.model_fields.items() if f.is_required()}
ANSWER_KEYS = {k for k, f in AnswerOut.model_fields.items() if f.is_required()}


def same_answer(d: dict) -> dict:
    """An answer's JSON without its ``id``: random per answer, so two askings of one question differ only there."""
    assert re.fullmatch(r"[0-9a-f]{32}", d["id"]), d["id"]
    return {k: v for k, v in d.items() if k != "id"}
MARKER = re.compile(r"\[(\d+)\]")


# --- embedders ------------------------------------------------------------------------------------


class HashEmbedder:
    """Character-bigram hashing into 256 dims: deterministic, instant, and similar texts get similar vectors."""

    name = "hash-bigram-test"
    dim = 256
    fingerprint = "hash-v1"

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        grams = [text[i : i + 2] for i in range(max(1, len(text) - 1))]
        for g in grams:
            h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little")
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


class CountingEmbedder:
    """Wraps an embedder and records every passage text it is asked to embed.

    ``name`` poses as another model; ``dim`` (smaller than the inner one) cuts the vectors to size.
    """

    def __init__(self, inner, name: str | None = None, dim: int | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.fingerprint = inner.fingerprint
        self.dim = dim or inner.dim
        self.texts: list[str] = []

    @property
    def count(self) -> int:
        return len(self.texts)

    def encode_queries(self, texts):
        return self._fit(self.inner.encode_queries(texts))

    def encode_passages(self, texts, *, progress=False):
        self.texts.extend(texts)
        return self._fit(self.inner.encode_passages(texts))

    def _fit(self, v: np.ndarray) -> np.ndarray:
        return v[:, : self.dim] if v.shape[1] > self.dim else v


# --- threads -------------------------------------------------------------------------------------


def in_thread(fn: Callable[..., object], *args: object) -> Future:
    """Run ``fn(*args)`` in a daemon thread; its result or exception in the returned future.

    A call that never returns fails the test at ``result(timeout)`` and never holds up the run at exit
    (a ThreadPoolExecutor would join its threads).
    """
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


# --- what a command imports ----------------------------------------------------------------------

# The heavy packages a command may or may not load: torch and its stack (seconds), the ONNX question
# engine (onnxruntime; onnx only to build its graph), Hugging Face tokenizers (~0.8 s to load a model's).
HEAVY = frozenset({"torch", "sentence_transformers", "transformers", "onnxruntime", "onnx", "tokenizers"})
_REPORT_IMPORTS = """
import atexit, json, sys
out = sys.argv.pop(1)

def report():
    with open(out, "w", encoding="utf-8") as f:
        json.dump(sorted({name.split(".")[0] for name in sys.modules}), f)

atexit.register(report)
from citeqa.cli import main
sys.exit(main(sys.argv[1:]))
"""


def heavy_imports(
    *argv: str, env: dict[str, str], cwd: Path, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``citeqa ARGV`` in a fresh interpreter; its result and which of ``HEAVY`` it imported."""
    out = cwd / "imported.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", _REPORT_IMPORTS, str(out), *argv], capture_output=True, text=True,
        encoding="utf-8", cwd=cwd, env={**env, "PYTHONIOENCODING": "utf-8"}, timeout=timeout, check=False,
    )
    assert out.is_file(), f"citeqa {' '.join(argv)} exited {proc.returncode} before reporting:\n{proc.stderr[-3000:]}"
    return proc, HEAVY & set(json.loads(out.read_text(encoding="utf-8")))


# --- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_server(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on a free 127.0.0.1 port in a thread; yield its base URL.

    A real server (sockets, HTTP parsing, streaming) without a subprocess: the web tests run against
    it with the fake engine (tests/fast) and with the real one (tests/model, tests/browser).
    """
    import uvicorn

    sock = socket.socket()
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", proxy_headers=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def gradio_event(base: str, fn_index: int, session_hash: str, data: list, timeout: float = 30) -> dict:
    """Run one chat event as the page does (``queue/join``, then its ``queue/data`` stream) → the final message.

    A refused join returns ``{"status": code, "error": …}`` instead.
    """
    with httpx.Client(base_url=base, timeout=timeout) as c:
        r = c.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session_hash})
        if r.status_code != 200:
            return {"status": r.status_code, "error": r.json().get("error")}
        with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return dict(message)
    raise AssertionError("the event stream closed before the event completed")


def chat_fn(app, name: str) -> int:
    """The index of the chat event bound to a trigger ``name`` ("submit", "load", "example_select", ...)."""
    return next(fn._id for fn in app.state.chat.fns.values() if any(n == name for _, n in fn.targets))


class HostSite:
    """Another origin (an intranet page on another port) serving the pages put in ``pages``."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- assertions -----------------------------------------------------------------------------------


def assert_markers_verified(a: Answer) -> None:
    """Markers number citations in order; the text before each marker is verbatim in the quote it cites.

    A marker stands before the sentence's closing mark ("……19 次[1]。"), and two sentences of one
    paragraph share its marker, so each piece is checked inside its citation's quoted span.
    """
    from citeqa.qa.decision.verdict import UNCERTAIN_NOTE
    from citeqa.qa.types import Outcome

    markers = [int(m) for m in MARKER.findall(a.answer)]
    if a.outcome not in (Outcome.ANSWERED, Outcome.UNCERTAIN):
        assert markers == [], a.answer
        return
    quoted = a.answer
    if a.outcome == Outcome.UNCERTAIN:  # the quote comes after a note saying it may not answer the question
        note = next((n for n in UNCERTAIN_NOTE.values() if quoted.startswith(n)), None)
        assert note is not None and not a.grounded, a.answer
        quoted = quoted[len(note):]
    assert sorted(set(markers)) == list(range(1, len(a.citations) + 1)), (a.answer, len(a.citations))
    assert markers == sorted(markers), a.answer  # first cited first
    pieces = MARKER.split(quoted)  # text, number, text, number, …, tail
    for piece, n in zip(pieces[0::2], pieces[1::2], strict=False):
        cite = a.citations[int(n) - 1]
        text = cite.passage.text
        assert cite.quote_start is not None and cite.quote_end is not None
        assert 0 <= cite.quote_start < cite.quote_end <= len(text)
        said = piece.lstrip("。！？!?")
        assert said and said in text[cite.quote_start : cite.quote_end], (said, text)
    assert pieces[-1] in ("", "。", "！", "？", "!", "?"), a.answer
    d = a.to_dict()
    assert set(d) >= ANSWER_KEYS, d.keys()


def assert_error(r: httpx.Response, *statuses: int) -> None:
    """A 4xx (one of ``statuses`` when given) with a JSON body ``{"error": "<non-empty>"}``."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if statuses:
        assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body


def assert_hit(h: dict) -> None:
    """One hit of the JSON contract: the keys, their types, and a non-empty span."""
    assert set(h) >= HIT_KEYS, h.keys()
    assert isinstance(h["section"], list) and all(isinstance(s, str) for s in h["section"])
    assert isinstance(h["score"], float)
    assert isinstance(h["start"], int) and isinstance(h["end"], int) and h["start"] < h["end"]
    assert h["text"] and h["label"] and h["source"]


def assert_cited_quote(body: dict) -> None:
    """The first citation's quote (``text[quote_start:quote_end]``) stands verbatim in the answer."""
    first = body["citations"][0]
    assert_hit(first)
    qs, qe = first["quote_start"], first["quote_end"]
    assert 0 <= qs < qe <= len(first["text"])
    assert first["text"][qs:qe] in body["answer"]


# --- the shared retriever suite -------------------------------------------------------------------

RETRIEVERS = ["dense", "bm25", "hybrid"]


class RetrieverSuite:
    """The retriever contract, run on each backend: subclass it in a test module with an ``engine`` fixture."""

    @pytest.mark.parametrize("name", RETRIEVERS)
    def test_hits_are_ranked_unique_and_bounded(self, engine, name):
        hits = engine.search("台美經濟繁榮夥伴對話", 5, name)
        assert 1 <= len(hits) <= 5
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert len({h.id for h in hits}) == len(hits)

    @pytest.mark.parametrize("name", RETRIEVERS)
    def test_finds_the_mumbai_passage(self, engine, name):
        hits = engine.search("駐孟買辦事處何時揭牌", 3, name)
        assert any("孟買" in h.passage.text for h in hits)

    @pytest.mark.parametrize("name", RETRIEVERS)
    def test_hit_dict_follows_the_contract(self, engine, name):
        d = engine.search("WHO", 1, name)[0].to_dict()
        assert set(d) == HIT_KEYS
        assert isinstance(d["section"], list) and isinstance(d["score"], float)

    @pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", 42])
    def test_bad_queries_are_refused(self, engine, bad):
        with pytest.raises(InputError):
            engine.search(bad, 5)

    @pytest.mark.parametrize("k", [0, -1, 101])
    def test_bad_k_is_refused(self, engine, k):
        with pytest.raises(InputError, match="top-k"):
            engine.search("外交", k)


# --- the benchmark scripts ------------------------------------------------------------------------

BENCH = REPO / "benchmarks"


def run_bench(script: str, *args: str, timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run ``benchmarks/<script>``; it must exit 0 and end stdout with one JSON line of figures."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO,
    )
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"{script} printed nothing on stdout"
    return proc, json.loads(lines[-1])


def assert_latency(summary: dict) -> None:
    assert summary["n"] > 0
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        assert math.isfinite(summary[key]) and summary[key] >= 0
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"]


def assert_machine(m: dict) -> None:
    assert m["nproc"] >= 1 and m["cpu_model"] and len(m["loadavg"]) == 3
