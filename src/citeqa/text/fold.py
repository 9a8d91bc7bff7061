"""Script folding and the CJK test: the one definition of "the same text" across stages.

Traditional and Simplified Chinese are folded to one script (OpenCC t2s) for matching only; what
users see is never converted.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Traditional → Simplified and lower case, for matching only: ``fold("臺灣 WHO")`` → ``"台湾 who"``."""
    return str(_t2s().convert(text)).lower()  # type: ignore[attr-defined]


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a CJK ideograph (U+4E00-U+9FFF): ``has_cjk("When did 孟買")`` → True."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
