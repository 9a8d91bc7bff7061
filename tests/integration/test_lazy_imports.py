"""Commands that need no model load none: ``citeqa --help`` and ``citeqa chunks`` in fresh interpreters.

Why in a subprocess: what a command imports is only visible in a process that has imported nothing
else (this one has loaded half the package). The commands that open an index need one built with the
real model: tests/model/test_real_lazy_imports.py.
"""

from __future__ import annotations

import json
import os

import pytest

from support import HEAVY, heavy_imports


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """No CITEQA_* variable of the caller; a private, empty cache and data folder."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    return {**clean, "CITEQA_CACHE_DIR": str(tmp_path / "cache"), "CITEQA_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize("argv", [["--help"], ["ask", "--help"], ["serve", "--help"]], ids=" ".join)
def test_help_imports_no_model_engine(tmp_path, env, argv):
    proc, heavy = heavy_imports(*argv, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: citeqa")
    assert heavy == set(), f"citeqa {' '.join(argv)} imported {sorted(heavy)}"


def test_chunks_imports_no_model_engine(tmp_path, env, bundled):
    proc, heavy = heavy_imports("chunks", "--json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [p["id"] for p in json.loads(proc.stdout)["passages"]] == [p.id for p in bundled.passages]
    assert heavy == set(), f"citeqa chunks imported {sorted(heavy)}"
    assert not (tmp_path / "cache").exists()  # nor converted the model


def test_the_probe_sees_a_heavy_import(tmp_path, env):
    """The check itself can fail: a command that does load onnxruntime is reported."""
    probe = tmp_path / "sitecustomize.py"
    probe.write_text("import onnxruntime\n", encoding="utf-8")
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))}
    proc, heavy = heavy_imports("--help", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert heavy == {"onnxruntime"} and heavy <= HEAVY


def test_gaps_with_the_log_off_loads_no_model_and_writes_nothing(tmp_path, env):
    """``citeqa gaps`` with ``CITEQA_QUESTION_LOG`` off: an empty list, one line saying why, no model, no files."""
    proc, heavy = heavy_imports("gaps", "--json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"groups": []} and "CITEQA_QUESTION_LOG=on" in proc.stderr
    assert heavy == set(), f"citeqa gaps imported {sorted(heavy)}"
    assert not (tmp_path / "data").exists() and not (tmp_path / "cache").exists()
