"""Shared fixtures. Unit tests use a tiny deterministic fake embedder; `slow` tests use the real model."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from citeqa.corpus import CorpusSettings, bundled_corpus_path, load_corpus
from citeqa.index import build_index, open_index
from citeqa.qa.engine import Engine
from citeqa.settings import Settings

REPO = Path(__file__).resolve().parents[1]


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


@pytest.fixture(scope="session")
def corpus_text() -> str:
    return bundled_corpus_path().read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def bundled():
    return load_corpus()


@pytest.fixture(scope="session")
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def fake_index_dir(tmp_path_factory, bundled, fake_embedder) -> Path:
    d = tmp_path_factory.mktemp("fake-index")
    build_index(
        bundled, fake_embedder, d, corpus_settings=CorpusSettings(), progress=False, log=lambda _: None,
    )
    return d


@pytest.fixture(scope="session")
def fake_engine(fake_index_dir, fake_embedder, tmp_path_factory) -> Engine:
    settings = Settings.from_env({}, index_dir=fake_index_dir, cache_dir=tmp_path_factory.mktemp("cache"))
    index = open_index(fake_index_dir, fake_embedder, corpus_settings=CorpusSettings())
    return Engine.assemble(settings, fake_embedder, index)


@pytest.fixture(scope="session")
def real_env(tmp_path_factory) -> dict[str, str]:
    """Environment for a `citeqa` process using the real model and a default index built once."""
    base = tmp_path_factory.mktemp("real")
    env = {**os.environ, "CITEQA_CACHE_DIR": str(base / "cache"), "CITEQA_DATA_DIR": str(base / "data")}
    subprocess.run([sys.executable, "-m", "citeqa", "index", "--quiet"], env=env, check=True, timeout=900)
    return env


@pytest.fixture(scope="session")
def real_engine(real_env) -> Engine:
    return Engine.open(Settings.from_env(real_env), progress=False, log=lambda _: None)


@pytest.fixture(scope="session")
def fake_milvus_engine(bundled, fake_embedder, tmp_path_factory) -> Engine:
    """The bundled corpus in Milvus Lite (a file in tmp), with the fake embedder."""
    pytest.importorskip("pymilvus", reason="the Milvus backend is an extra: pip install 'citeqa[milvus]'")
    from citeqa.index.milvus.index import MilvusSettings
    from citeqa.index.milvus.ingest import build_milvus

    uri = str(tmp_path_factory.mktemp("milvus") / "citeqa.db")
    ms = MilvusSettings(uri=uri)
    index = build_milvus(
        bundled, fake_embedder, ms, corpus_settings=CorpusSettings(), progress=False, log=lambda _: None,
    )
    settings = Settings.from_env(
        {}, index_dir=tmp_path_factory.mktemp("unused"), cache_dir=tmp_path_factory.mktemp("c"),
        backend="milvus", milvus_uri=uri,
    )
    return Engine.assemble(settings, fake_embedder, index)


@pytest.fixture(scope="session", params=["local", "milvus"])
def any_engine(request) -> Engine:
    """The fake-model engine on each backend: the shared retriever and answer suites run on both."""
    return request.getfixturevalue("fake_engine" if request.param == "local" else "fake_milvus_engine")


@contextlib.contextmanager
def live_server(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on a free 127.0.0.1 port in a thread; yield its base URL.

    A real server (sockets, HTTP parsing, streaming) without a subprocess or a model: the fast tests
    of the web layer run against the fake engine through it.
    """
    import threading

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
