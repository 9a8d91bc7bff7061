"""What ``citeqa search`` and ``citeqa ask`` import against a built index, each in a fresh interpreter.

The index and the converted model are the session's (``real_env``). A question needs onnxruntime
only: never torch (~7-11 s to import), never the onnx package (the graph was written beside the
model once), never Hugging Face tokenizers (the fast tokenizer reads its tables). A BM25 search
needs no model engine at all. ``--help`` and ``chunks`` are in tests/integration/test_lazy_imports.py.
"""

from __future__ import annotations

import json

import pytest

from support import heavy_imports

TORCH_STACK = {"torch", "sentence_transformers", "transformers"}


def test_bm25_search_imports_no_model_engine(real_env, tmp_path):
    proc, heavy = heavy_imports("search", "--retriever", "bm25", "--json", "駐孟買辦事處何時揭牌？",
                                env=real_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)["hits"]
    assert hits and "孟買" in hits[0]["text"]
    assert heavy == set(), f"a BM25 search imported {sorted(heavy)}"


@pytest.mark.parametrize(
    "argv",
    [["ask", "--json", "拜登政府宣布對台軍售幾次？"], ["search", "--json", "駐孟買辦事處何時揭牌？"]],
    ids=["ask", "hybrid search"],
)
def test_a_question_imports_onnxruntime_and_not_torch(real_env, tmp_path, argv):
    proc, heavy = heavy_imports(*argv, env=real_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    if argv[0] == "ask":
        assert result["grounded"] and "19" in result["answer"], result
    else:
        assert "孟買" in result["hits"][0]["text"]
    assert heavy == {"onnxruntime"}, f"citeqa {argv[0]} imported {sorted(heavy)}"
    assert not heavy & TORCH_STACK
