"""Typed settings, read once from ``CITEQA_*`` environment variables (and CLI flags on top)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from citeqa.errors import InputError


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("citeqa"))


def _default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("citeqa"))


@dataclass(frozen=True)
class Settings:
    """Every knob in one place. Components receive only the fields they need."""

    index_dir: Path
    cache_dir: Path
    embed_model: str = ""  # "" = the bundled offline multilingual-e5-small
    allow_download: bool = False  # let sentence-transformers fetch a named model from the Hub
    torch_threads: int = 0  # 0 = torch's default; 1 suits serving on small, busy machines
    max_chars: int = 500
    max_doc_bytes: int = 50_000_000
    index_kind: str = "flat"  # flat | hnsw | ivf
    top_k: int = 5
    rrf_k: int = 20  # tuned on the dev split (README)
    dense_weight: float = 1.5
    bm25_weight: float = 1.0
    abstain_threshold: float = 0.8182  # `citeqa eval --calibrate` on the dev split, see README
    max_question_chars: int = 1000
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 20.0
    backend: str = "local"  # local (FAISS + BM25 files) | milvus
    milvus_uri: str = ""  # a *.db file (Milvus Lite) or http://host:19530
    milvus_token: str = ""
    milvus_db: str = ""
    milvus_collection: str = "citeqa"
    milvus_index_type: str = "FLAT"  # FLAT | HNSW | IVF_FLAT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``CITEQA_<FIELD>`` variables; ``overrides`` (non-None) win."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("CITEQA_DATA_DIR") or _default_data_dir())
        values: dict[str, Any] = {
            "index_dir": data_dir / "index",
            "cache_dir": Path(env.get("CITEQA_CACHE_DIR") or _default_cache_dir()),
        }
        for name, f in cls.__dataclass_fields__.items():
            raw = env.get(f"CITEQA_{name.upper()}")
            if raw is None or raw == "":
                continue
            values[name] = _convert(name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _convert(name: str, raw: str, type_name: Any) -> Any:
    kind = str(type_name)
    try:
        if kind == "Path":
            return Path(raw).expanduser()
        if kind == "bool":
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as exc:
        raise InputError(f"CITEQA_{name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw
