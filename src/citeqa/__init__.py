"""citeqa: question answering over Chinese documents with a cited source paragraph for every claim.

The library in five lines::

    from citeqa import Settings, open_engine

    engine = open_engine(Settings.from_env(top_k=3))  # the bundled corpus on first use
    answer = engine.ask("駐孟買辦事處何時揭牌？")
    print(answer.answer, [c.passage.label for c in answer.citations])

``Engine``, ``Answer`` and ``Hit`` are imported on first use, so ``import citeqa`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citeqa.errors import (
    CiteqaError,
    IndexStateError,
    InputError,
    MissingExtraError,
    ModelError,
    Overloaded,
    QuestionEmpty,
    QuestionTooLong,
    SettingError,
)
from citeqa.settings import Settings

if TYPE_CHECKING:
    from citeqa.qa.engine import Engine
    from citeqa.qa.types import Answer, Hit

__version__ = "0.1.0"
__all__ = [
    "Answer",
    "CiteqaError",
    "Engine",
    "Hit",
    "IndexStateError",
    "InputError",
    "MissingExtraError",
    "ModelError",
    "Overloaded",
    "QuestionEmpty",
    "QuestionTooLong",
    "SettingError",
    "Settings",
    "__version__",
    "open_engine",
]
_LAZY = {"Engine": "citeqa.qa.engine", "Answer": "citeqa.qa.types", "Hit": "citeqa.qa.types"}


def open_engine(settings: Settings | None = None, *, index_dir: Path | None = None, progress: bool = False) -> Engine:
    """Load the model and index the settings name (default: ``Settings.from_env()``) into an ``Engine``."""
    from citeqa.qa.engine import Engine

    return Engine.open(settings or Settings.from_env(), index_dir=index_dir, progress=progress)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'citeqa' has no attribute {name!r}")
