"""What a question may be, and which questions lean on the previous one."""

from __future__ import annotations

import re
import unicodedata

from citeqa.errors import InputError, QuestionEmpty, QuestionTooLong
from citeqa.settings import MAX_TOP_K

_FOLLOW_UP = re.compile(
    r"^(那|那麼|那么|還有|还有|另外|而|至於|至于)|呢\s*[？?]?\s*$|^(what|how) about\b|^and\b", re.IGNORECASE
)


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
    """A question that leans on the last one ("那荷蘭呢？", "what about Japan?") is retrieved with it.

    Only explicit follow-up cues count: a short but self-contained question ("台北101有多高？")
    must not inherit the previous topic.
    """
    prev = previous.strip()
    if not prev or len(question) > 20 or not _FOLLOW_UP.search(question.strip()):
        return None
    return f"{prev} {question}"
