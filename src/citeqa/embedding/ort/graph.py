"""The BERT encoder of a sentence-transformers folder as an ONNX graph, built from its weights once.

Why a graph of our own: questions are encoded by onnxruntime (``ort.encoder``), which imports in
~0.15 s where sentence-transformers needs torch (~7-11 s), and runs the same fp32 arithmetic
(cosine ≥ 0.99999 with sentence-transformers on every eval question). The graph is written with
``onnx.helper`` straight from ``model.safetensors``, so building it needs no torch either.

What is in it: the embedding LayerNorm and the transformer layers, for inputs ``embeds``
(batch × tokens × hidden: word + position + token-type embeddings, summed by the caller) and
``bias`` (batch × 1 × 1 × tokens: 0 for a token, a large negative number for padding), giving
``hidden`` (batch × tokens × hidden). What is not: the word-embedding table (250k × 384, 384 MB of
the model's 470 MB), which the caller memory-maps and indexes, so a process touches only the rows
of the tokens it sees; and pooling, done by the caller as sentence-transformers does it.

The file is written beside the weights (``GRAPH_NAME``) by ``ensure_file``: under a file lock,
through a temp file renamed into place, so concurrent processes build it once and never read half
a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.errors import ModelError
from citeqa.files import write_atomic

# The version is in the name: a graph written by another layout of this module is never read.
GRAPH_NAME = "citeqa_query_encoder.v1.onnx"
_OPSET = 17  # LayerNormalization is a standard op from opset 17
_LOCK_TIMEOUT_S = 600.0  # another process building: ~3 s, so this only bounds a hang


def read_config(folder: Path) -> dict[str, Any]:
    """The folder's BERT config.json, refused unless it is an encoder this graph reproduces exactly."""
    try:
        config: dict[str, Any] = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the model config in {folder}: {exc}") from exc
    wanted = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
    for key, value in wanted.items():
        if config.get(key, value) != value:
            raise ModelError(f"the ONNX query encoder needs {key}={value!r}; {folder} has {config.get(key)!r}")
    if config["hidden_size"] % config["num_attention_heads"]:
        raise ModelError(f"hidden size {config['hidden_size']} is not a multiple of the head count")
    return config


def ensure_file(folder: Path, name: str, build: Callable[[Path], bytes]) -> Path | bytes:
    """Return the path of ``folder/name``, writing ``build(folder)`` there once; the bytes if it cannot be saved.

    Used for the encoder graph and the tokenizer tables. A model folder that cannot be written (a
    read-only shared cache) still works: every process then builds them in memory (~2 s).
    """
    path = folder / name
    if path.is_file():
        return path
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(folder / f".{name}.lock"), timeout=_LOCK_TIMEOUT_S):
            if path.is_file():  # another process wrote it while we waited
                return path
            data = build(folder)
            write_atomic(path, data)
    except Timeout as exc:
        raise ModelError(f"timed out waiting for another process writing {path}") from exc
    except OSError:
        return build(folder)
    return path


def build_graph(folder: Path) -> bytes:
    """The serialised ONNX model of the folder's encoder (see the module docstring for its inputs)."""
    try:
        import onnx
        from safetensors.numpy import load_file
    except ImportError as exc:
        raise ModelError(f"the ONNX query encoder needs the onnx package: pip install onnx ({exc})") from exc
    config = read_config(folder)
    weights = load_file(str(folder / "model.safetensors"))
    builder = _Builder(weights, float(config["layer_norm_eps"]))
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    x = builder.layer_norm("embeds", "embeddings.LayerNorm")
    for i in range(int(config["num_hidden_layers"])):
        x = builder.layer(x, f"encoder.layer.{i}.", hidden, heads)
    builder.nodes[-1].output[0] = "hidden"
    h = onnx.TensorProto.FLOAT
    graph = onnx.helper.make_graph(
        builder.nodes,
        "citeqa_query_encoder",
        [
            onnx.helper.make_tensor_value_info("embeds", h, ["batch", "tokens", hidden]),
            onnx.helper.make_tensor_value_info("bias", h, ["batch", 1, 1, "tokens"]),
        ],
        [onnx.helper.make_tensor_value_info("hidden", h, ["batch", "tokens", hidden])],
        builder.initializers,
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", _OPSET)])
    model.ir_version = 8  # readable by onnxruntime 1.14 and later
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


class _Builder:
    """Appends nodes and initialisers; each method returns the name of the tensor it made."""

    def __init__(self, weights: dict[str, np.ndarray], eps: float) -> None:
        import onnx

        self.onnx = onnx
        self.weights = weights
        self.eps = eps
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()

    def const(self, name: str, value: np.ndarray) -> str:
        if name not in self._names:  # shared scalars are stored once
            self._names.add(name)
            self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        out = f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], **attrs))
        return out

    def weight(self, name: str) -> np.ndarray:
        try:
            return np.asarray(self.weights[name], dtype=np.float32)
        except KeyError:
            raise ModelError(f"the model has no tensor {name}") from None

    def layer_norm(self, x: str, prefix: str) -> str:
        w = self.const(f"{prefix}.weight", self.weight(f"{prefix}.weight"))
        b = self.const(f"{prefix}.bias", self.weight(f"{prefix}.bias"))
        return self.node("LayerNormalization", [x, w, b], axis=-1, epsilon=self.eps)

    def linear(self, x: str, prefix: str) -> str:
        """The product ``x @ W.T + b``, as torch's Linear computes it (W stored transposed once, here)."""
        w = self.const(f"{prefix}.weight.T", self.weight(f"{prefix}.weight").T)
        b = self.const(f"{prefix}.bias", self.weight(f"{prefix}.bias"))
        return self.node("Add", [self.node("MatMul", [x, w]), b])

    def layer(self, x: str, p: str, hidden: int, heads: int) -> str:
        """One BertLayer: self-attention, residual + LayerNorm, GELU feed-forward, residual + LayerNorm."""
        head_dim = hidden // heads
        split = self.const("shape.split", np.array([0, 0, heads, head_dim], np.int64))  # 0 keeps batch, tokens
        merge = self.const("shape.merge", np.array([0, 0, hidden], np.int64))

        def heads_of(name: str, perm: list[int]) -> str:
            return self.node("Transpose", [self.node("Reshape", [self.linear(x, p + name), split])], perm=perm)

        q = heads_of("attention.self.query", [0, 2, 1, 3])  # batch, head, token, dim
        k = heads_of("attention.self.key", [0, 2, 3, 1])  # batch, head, dim, token
        v = heads_of("attention.self.value", [0, 2, 1, 3])
        scale = self.const("attention.scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
        scores = self.node("Add", [self.node("Mul", [self.node("MatMul", [q, k]), scale]), "bias"])
        probs = self.node("Softmax", [scores], axis=-1)
        context = self.node("MatMul", [probs, v])
        context = self.node("Reshape", [self.node("Transpose", [context], perm=[0, 2, 1, 3]), merge])
        attended = self.node("Add", [x, self.linear(context, p + "attention.output.dense")])
        x = self.layer_norm(attended, p + "attention.output.LayerNorm")
        inner = self.gelu(self.linear(x, p + "intermediate.dense"))
        return self.layer_norm(self.node("Add", [x, self.linear(inner, p + "output.dense")]), p + "output.LayerNorm")

    def gelu(self, x: str) -> str:
        """The exact (erf) GELU of BERT: 0.5 · x · (1 + erf(x / √2))."""
        half = self.const("gelu.half", np.array(0.5, np.float32))
        one = self.const("gelu.one", np.array(1.0, np.float32))
        inv_sqrt2 = self.const("gelu.rsqrt2", np.array(1.0 / np.sqrt(2.0), np.float32))
        erf = self.node("Erf", [self.node("Mul", [x, inv_sqrt2])])
        return self.node("Mul", [self.node("Mul", [x, half]), self.node("Add", [erf, one])])


__all__ = ["GRAPH_NAME", "build_graph", "ensure_file", "read_config"]
