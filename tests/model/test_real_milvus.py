"""The Milvus backend on Milvus Lite with the real model: eval within tolerance of the local index,
the CLI and the web app on it, and a Lite file another process holds.

The bundled corpus is ingested once, in this process, with the session's model.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend is an extra: pip install 'citeqa[milvus]'")

from citeqa.corpus import CorpusSettings
from citeqa.eval.dataset import load_eval_set
from citeqa.eval.run import run_eval
from citeqa.index.milvus.client import MilvusSettings
from citeqa.index.milvus.ingest import build_milvus
from citeqa.qa.engine import Engine
from citeqa.settings import Settings
from support import ANSWER_KEYS, live_server, same_answer


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("mv") / "m.db")


@pytest.fixture(scope="module")
def milvus_real(real_engine, real_env, bundled, milvus_uri) -> Engine:
    """The bundled corpus in a Milvus Lite file, embedded by the real model; this process holds the file."""
    model = real_engine.embedder.inner
    index = build_milvus(
        bundled, model, MilvusSettings(uri=milvus_uri), corpus_settings=CorpusSettings(), progress=False,
        log=lambda _: None,
    )
    settings = Settings.from_env(real_env, backend="milvus", milvus_uri=milvus_uri)
    return Engine.assemble(settings, model, index)


def test_eval_on_milvus_stays_within_tolerance_of_local(milvus_real, real_test_split_eval):
    """The hybrid retriever on Milvus vs the local index on the test split: ΔR@5 ≤ 0.01, ΔMRR@10 ≤ 0.02."""
    questions = load_eval_set(None, "test")
    assert len(questions) >= 100
    milvus = run_eval(milvus_real, questions, ("hybrid",), progress=False)["hybrid"].metrics()
    local = real_test_split_eval["hybrid"].metrics()
    assert milvus["questions"] == local["questions"] == len(questions)
    assert abs(milvus["R@5"] - local["R@5"]) <= 0.01, (milvus["R@5"], local["R@5"])
    assert abs(milvus["MRR@10"] - local["MRR@10"]) <= 0.02, (milvus["MRR@10"], local["MRR@10"])


def _ask_lines(cli, capsys, monkeypatch, questions: str, *flags: str) -> list[dict]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(questions))
    code = cli(["ask", "-", "--json", *flags])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_cli_ask_on_milvus_lite_cites_what_the_local_backend_cites(milvus_real, milvus_uri, real_cli, capsys,
                                                                   monkeypatch):
    """The issue's done-when, through the CLI (in process) and the real model."""
    questions = "拜登政府宣布對台軍售幾次？\n台北101有多高？\n駐孟買辦事處何時揭牌？\n"
    milvus = _ask_lines(real_cli, capsys, monkeypatch, questions, "--backend", "milvus", "--milvus-uri", milvus_uri)
    local = _ask_lines(real_cli, capsys, monkeypatch, questions)
    assert [a["grounded"] for a in milvus] == [True, False, True]
    assert "19" in milvus[0]["answer"]
    for m, loc in zip(milvus, local, strict=True):
        assert set(m) == ANSWER_KEYS
        assert (m["answer"], m["grounded"]) == (loc["answer"], loc["grounded"])
        if m["grounded"]:
            assert [c["id"] for c in m["citations"]] == [c["id"] for c in loc["citations"]]


@pytest.fixture(scope="module")
def milvus_server(milvus_real) -> Iterator[str]:
    from citeqa.ui.server.app import create_app

    with live_server(create_app(milvus_real)) as base:
        yield base


def test_serve_on_milvus_answers_like_the_cli(milvus_server, milvus_uri, real_cli, capsys):
    """The web app on the Milvus backend: /healthz counts the passages, /api/ask returns the `ask --json` object."""
    question = "拜登政府宣布對台軍售幾次？"
    assert real_cli(["ask", question, "--json", "--backend", "milvus", "--milvus-uri", milvus_uri]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert httpx.get(f"{milvus_server}/healthz", timeout=10).json()["passages"] == 27
    r = httpx.post(f"{milvus_server}/api/ask", json={"question": question}, timeout=60)
    assert r.status_code == 200, r.text
    assert same_answer(r.json()) == same_answer(expected)
    r = httpx.get(f"{milvus_server}/api/search", params={"q": "孟買", "k": 2, "retriever": "hybrid"}, timeout=60)
    assert r.status_code == 200 and len(r.json()["hits"]) == 2, r.text
    assert "孟買" in r.json()["hits"][0]["text"]


def test_lite_file_in_use_is_a_clear_error(milvus_real, milvus_uri, real_env):
    """Milvus Lite opens a file from one process at a time: while this process holds it, a `citeqa`
    process gets a clear one-line message and exit 2."""
    assert milvus_real.search("孟買", 1)  # this process has the file open and answering
    env = {**real_env, "CITEQA_BACKEND": "milvus", "CITEQA_MILVUS_URI": milvus_uri}
    p = subprocess.run([sys.executable, "-m", "citeqa", "search", "孟買"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 2 and "one process at a time" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
