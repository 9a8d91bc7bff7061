"""Typed settings from CITEQA_* variables, and the opt-in torch thread count."""

from __future__ import annotations

import pytest

from citeqa.errors import InputError, ModelError
from citeqa.settings import Settings


def test_env_values_are_typed_and_overrides_win(tmp_path):
    s = Settings.from_env(
        {"CITEQA_TOP_K": "7", "CITEQA_DENSE_WEIGHT": "2.5", "CITEQA_ALLOW_DOWNLOAD": "yes",
         "CITEQA_DATA_DIR": str(tmp_path), "CITEQA_TORCH_THREADS": "1"},
        top_k=3,
    )
    assert (s.top_k, s.dense_weight, s.allow_download, s.torch_threads) == (3, 2.5, True, 1)
    assert s.index_dir == tmp_path / "index"


def test_bad_env_value_is_a_clear_error():
    with pytest.raises(InputError, match="CITEQA_TOP_K"):
        Settings.from_env({"CITEQA_TOP_K": "many"})


def test_torch_threads_is_applied_only_on_request(tmp_path):
    import torch

    from citeqa.embedding import load_embedder

    before = torch.get_num_threads()
    try:
        with pytest.raises(ModelError):
            load_embedder(str(tmp_path / "missing-model"), cache_dir=tmp_path, torch_threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ModelError):
        load_embedder(str(tmp_path / "missing-model"), cache_dir=tmp_path)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    ("env", "named", "allowed"),
    [
        ({"CITEQA_INDEX_KIND": "hsnw"}, "CITEQA_INDEX_KIND (--kind)", "one of flat, hnsw, ivf"),
        ({"CITEQA_BACKEND": "milvs"}, "CITEQA_BACKEND (--backend)", "one of local, milvus"),
        ({"CITEQA_MILVUS_INDEX_TYPE": "ivf"}, "CITEQA_MILVUS_INDEX_TYPE", "one of FLAT, HNSW, IVF_FLAT"),
        ({"CITEQA_TOP_K": "0"}, "CITEQA_TOP_K (--top-k)", "from 1 to 100"),
        ({"CITEQA_ALLOW_DOWNLOAD": "maybe"}, "CITEQA_ALLOW_DOWNLOAD", "one of 1, true"),
        ({"CITEQA_MAX_CHARS": "5"}, "CITEQA_MAX_CHARS (--max-chars)", "from 20"),
        ({"CITEQA_DENSE_WEIGHT": "0", "CITEQA_BM25_WEIGHT": "0"}, "CITEQA_BM25_WEIGHT", "not both be 0"),
        ({"CITEQA_LLM_BASE_URL": "localhost:8080"}, "CITEQA_LLM_BASE_URL", "http:// or https://"),
        ({"CITEQA_LLM_BASE_URL": "http://127.0.0.1:8080/v1"}, "CITEQA_LLM_MODEL", "or neither"),
        ({"CITEQA_MILVUS_COLLECTION": "a-b"}, "CITEQA_MILVUS_COLLECTION", "letters, digits and _"),
        ({"CITEQA_RRF_K": "nan"}, "CITEQA_RRF_K", "whole number"),
    ],
)
def test_every_setting_is_checked_where_it_enters(env, named, allowed, tmp_path):
    from citeqa.errors import SettingError

    with pytest.raises(SettingError) as err:
        Settings.from_env({**env, "CITEQA_DATA_DIR": str(tmp_path)})
    assert str(err.value).startswith(named) and allowed in str(err.value)


def test_a_bad_setting_ends_the_cli_before_any_work(monkeypatch, capsys, tmp_path):
    """`CITEQA_INDEX_KIND=hsnw citeqa index` used to embed the whole corpus, then die with a traceback."""
    from citeqa import cli
    from citeqa.index import update

    monkeypatch.setenv("CITEQA_INDEX_KIND", "hsnw")
    monkeypatch.setenv("CITEQA_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(update, "update_index", lambda *a, **kw: pytest.fail("no work before the settings"))
    assert cli.main(["index", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["citeqa: error: CITEQA_INDEX_KIND (--kind)='hsnw' is not allowed: one of flat, hnsw, ivf"]


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, capsys, tmp_path):
    """`CITEQA_BACKEND=milvus citeqa ask x` without the [milvus] extra printed a traceback."""
    import importlib.util

    from citeqa import cli
    from citeqa.index import registry

    real = importlib.util.find_spec
    monkeypatch.setattr(registry, "find_spec", lambda name: None if name == "pymilvus" else real(name))
    monkeypatch.setattr("citeqa.qa.engine.embedder_for", lambda *a, **kw: pytest.fail("no model before the extra"))
    monkeypatch.setenv("CITEQA_BACKEND", "milvus")
    monkeypatch.setenv("CITEQA_DATA_DIR", str(tmp_path))
    assert cli.main(["ask", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["citeqa: error: the milvus backend needs: pip install 'citeqa[milvus]'"]
