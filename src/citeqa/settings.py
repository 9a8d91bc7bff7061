"""Typed settings, read once from ``CITEQA_*`` environment variables (and CLI flags on top), checked as they enter.

Every value is checked when a ``Settings`` is made, whether it came from the environment, a flag
or code: a typo such as ``CITEQA_INDEX_KIND=hsnw`` fails at once with the variable and the allowed
values, before any model is loaded or any document read.
"""

from __future__ import annotations

import enum
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from citeqa.errors import SettingError


class Backend(enum.StrEnum):
    """Where the index lives."""

    LOCAL = "local"  # FAISS + BM25 files in a directory
    MILVUS = "milvus"  # Milvus Lite (a *.db file) or a Milvus server


class IndexKind(enum.StrEnum):
    """The FAISS index of the local backend."""

    FLAT = "flat"
    HNSW = "hnsw"
    IVF = "ivf"


class MilvusIndexType(enum.StrEnum):
    """The vector index of the Milvus backend."""

    FLAT = "FLAT"
    HNSW = "HNSW"
    IVF_FLAT = "IVF_FLAT"


class RetrieverName(enum.StrEnum):
    """The retrievers every interface offers (CLI, API, eval); hybrid, the fusion of the other two, is the default."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


RETRIEVERS = tuple(r.value for r in RetrieverName)
MAX_TOP_K = 100  # passages one request may ask for
# The flag that sets a field too, for messages: "CITEQA_INDEX_KIND (--kind)".
FLAGS = {
    "embed_model": "--model", "max_chars": "--max-chars", "index_kind": "--kind", "top_k": "--top-k",
    "backend": "--backend", "milvus_uri": "--milvus-uri",
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_ON_OFF = {"on": True, "off": False}  # CITEQA_QUESTION_LOG: said in words, so "1" or "yes" is no accident
MAX_LOG_DAYS = 3650
_COLLECTION = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,200}$")


def default_data_dir() -> Path:
    """The user's data directory for citeqa (platformdirs): the index, and the chat's conversations, by default."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("citeqa"))


def data_dir_from(env: Mapping[str, str]) -> Path:
    """``CITEQA_DATA_DIR`` (``~`` expanded; blank means unset), else ``default_data_dir()``.

    The one rule for the data directory: ``Settings.data_dir`` (the index, the question log of
    ``citeqa ask``) and ``ServeSettings.data_dir`` (the server's store) both come from here, so the
    CLI and the server write to the same database.
    """
    raw = env.get("CITEQA_DATA_DIR", "").strip()
    return Path(raw).expanduser() if raw else default_data_dir()


def _default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("citeqa"))


@dataclass(frozen=True)
class Settings:
    """Every knob in one place. Components receive only the fields they need."""

    index_dir: Path
    cache_dir: Path
    data_dir: Path  # the index (by default) and the SQLite store: conversations, the question log
    embed_model: str = ""  # "" = the bundled offline multilingual-e5-small
    allow_download: bool = False  # let sentence-transformers fetch a named model from the Hub
    torch_threads: int = 0  # 0 = torch's default; 1 suits serving on small, busy machines
    max_chars: int = 500
    max_doc_bytes: int = 50_000_000
    index_kind: IndexKind = IndexKind.FLAT
    top_k: int = 5
    rrf_k: int = 20  # tuned on the dev split (README)
    dense_weight: float = 1.5
    bm25_weight: float = 1.0
    # None: the values `citeqa eval --calibrate` chose on the dev split, written once in
    # ``qa.decision.score.AbstainSettings``. Under abstain_threshold: not found; at or above
    # answer_threshold: answered; between the two: uncertain (a quote shown as possibly not the answer).
    abstain_threshold: float | None = None
    answer_threshold: float | None = None
    max_question_chars: int = 1000
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 20.0  # one deadline per call: connecting and reading the whole reply, not per read
    backend: Backend = Backend.LOCAL
    milvus_uri: str = ""  # a *.db file (Milvus Lite) or http://host:19530
    milvus_token: str = ""
    milvus_db: str = ""
    milvus_collection: str = "citeqa"
    milvus_index_type: MilvusIndexType = MilvusIndexType.FLAT
    # Off by default: with it on, every question asked (chat, REST API, ``citeqa ask``) is kept in the
    # store of ``data_dir`` for ``question_log_days`` days (``citeqa.store.questions``).
    question_log: bool = False
    question_log_days: int = 90  # = citeqa.store.questions.DEFAULT_LOG_DAYS (a test checks)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: values are normalised once, here
        for name, kind, norm in (
            ("index_kind", IndexKind, str.lower), ("backend", Backend, str.lower),
            ("milvus_index_type", MilvusIndexType, str.upper),
        ):
            set_(self, name, _choice(name, getattr(self, name), kind, norm))
        for name, low, high in (
            ("torch_threads", 0, 1024), ("max_chars", 20, 1_000_000), ("max_doc_bytes", 1024, 1 << 40),
            ("top_k", 1, MAX_TOP_K), ("rrf_k", 1, 10_000), ("max_question_chars", 1, 1_000_000),
        ):
            _in_range(name, getattr(self, name), low, high)
        for name in ("dense_weight", "bm25_weight"):
            _in_range(name, getattr(self, name), 0.0, 1000.0)
        if self.dense_weight + self.bm25_weight <= 0:
            raise SettingError(_name("bm25_weight"), self.bm25_weight, "the two weights must not both be 0")
        for name in ("abstain_threshold", "answer_threshold"):
            if getattr(self, name) is not None:
                _in_range(name, getattr(self, name), 0.0, 1.0)  # thresholds on the confidence
        if None not in (self.abstain_threshold, self.answer_threshold) and (
            self.answer_threshold < self.abstain_threshold  # type: ignore[operator]
        ):
            raise SettingError(_name("answer_threshold"), self.answer_threshold,
                               f"a number at least CITEQA_ABSTAIN_THRESHOLD ({self.abstain_threshold})")
        _in_range("llm_timeout", self.llm_timeout, 0.1, 3600.0)
        if not isinstance(self.question_log, bool):
            raise SettingError(_name("question_log"), self.question_log, "on or off")
        days = self.question_log_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LOG_DAYS:
            raise SettingError(_name("question_log_days"), days, f"a whole number of days from 1 to {MAX_LOG_DAYS}")
        if self.llm_base_url and not self.llm_base_url.startswith(("http://", "https://")):
            raise SettingError(_name("llm_base_url"), self.llm_base_url, "an http:// or https:// URL")
        if bool(self.llm_base_url) != bool(self.llm_model):
            missing = "llm_model" if self.llm_base_url else "llm_base_url"
            raise SettingError(_name(missing), "", "set both CITEQA_LLM_BASE_URL and CITEQA_LLM_MODEL, or neither")
        if not _COLLECTION.match(self.milvus_collection):
            raise SettingError(
                _name("milvus_collection"), self.milvus_collection, "letters, digits and _, starting with a letter"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``CITEQA_<FIELD>`` variables; ``overrides`` (non-None) win."""
        env = os.environ if env is None else env
        data_dir = data_dir_from(env)
        values: dict[str, Any] = {
            "index_dir": Path(env.get("CITEQA_INDEX_DIR") or data_dir / "index").expanduser(),
            "cache_dir": Path(env.get("CITEQA_CACHE_DIR") or _default_cache_dir()).expanduser(),
            "data_dir": data_dir,
        }
        for f in fields(cls):
            raw = env.get(f"CITEQA_{f.name.upper()}")
            if raw is None or raw.strip() == "" or f.name in ("index_dir", "cache_dir", "data_dir"):
                continue
            if f.name == "question_log":
                values[f.name] = _on_off(f.name, raw.strip())
                continue
            values[f.name] = _convert(f.name, raw.strip(), str(f.type))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored), checked like any other."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _name(field: str) -> str:
    flag = FLAGS.get(field)
    return f"CITEQA_{field.upper()}" + (f" ({flag})" if flag else "")


def _choice(field: str, value: object, kind: type[enum.StrEnum], norm: Any) -> Any:
    try:
        return kind(norm(str(value)))
    except ValueError:
        raise SettingError(_name(field), value, "one of " + ", ".join(m.value for m in kind)) from None


def _in_range(field: str, value: object, low: float, high: float) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:  # type: ignore[operator]
        raise SettingError(_name(field), value, f"a number from {low:g} to {high:g}")


def _on_off(name: str, raw: str) -> bool:
    """``on`` or ``off`` (any case); anything else names the variable and the two words."""
    try:
        return _ON_OFF[raw.lower()]
    except KeyError:
        raise SettingError(_name(name), raw, "one of off, on") from None


def _convert(name: str, raw: str, kind: str) -> Any:
    """Parse one variable by its field's type; anything unparseable names the variable and the type."""
    if kind == "bool":
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise SettingError(_name(name), raw, "one of " + ", ".join(_TRUE + _FALSE))
    try:
        if kind == "int":
            return int(raw)
        if kind in ("float", "float | None"):
            return float(raw)
    except ValueError:
        raise SettingError(_name(name), raw, "a whole number" if kind == "int" else "a number") from None
    return raw
