"""What a question may be, and which questions lean on the previous one."""

from __future__ import annotations

import unicodedata

from citeqa.errors import InputError, QuestionEmpty, QuestionTooLong
from citeqa.qa.followup import FollowUp, resolve_follow_up
from citeqa.settings import MAX_TOP_K


def clean_query(text: object, max_chars: int, what: str = "question") -> str:
    """Validate a question (or search ``query``): text, not empty, within the limit, no control characters.

    A bell or zero-width mark becomes a space: ``" 孟買<BEL>辦事處 "`` → ``"孟買 辦事處"``.
    """
    if not isinstance(text, str):
        raise InputError(f"the {what} must be text, got {type(text).__name__}")
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs") else c for c in text).strip()
    if not cleaned:
        raise QuestionEmpty(what)
    if len(cleaned) > max_chars:
        raise QuestionTooLong(len(cleaned), max_chars, what)
    return " ".join(cleaned.split())


def check_top_k(k: int) -> int:
    """A per-request number of passages: 1 to 100."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_TOP_K:
        raise InputError(f"top-k must be between 1 and {MAX_TOP_K}, got {k}")
    return k


def follow_up_query(question: str, previous: str) -> str | None:
    """The retrieval query of a question that leans on the last one ("那荷蘭呢？"), or None.

    None says ``question`` stands on its own ("台北101有多高？"): it must not inherit the previous
    topic. ``resolve_follow_up`` also gives the standalone question to answer.
    """
    follow = resolve_follow_up(question, previous)
    return follow.query if follow else None


__all__ = ["FollowUp", "check_top_k", "clean_query", "follow_up_query", "resolve_follow_up"]
