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
