"""The one definition of a sentence: what chunking splits at, what an answer quotes, what the LLM check reads."""

from __future__ import annotations

import re

# A sentence or ；-clause, with the closing quotes and brackets that follow its end mark.
SENTENCE = re.compile(r"[^。！？；!?;]*[。！？；!?;]+[」』”’）)]*|[^。！？；!?;]+$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or ；-clause of ``text``, surrounding whitespace excluded.

    ``"甲。乙；丙"`` → ``[(0, 2), (2, 4), (4, 5)]``. Clauses are the unit an answer quotes.
    """
    spans = []
    for m in SENTENCE.finditer(text):
        s, e = m.span()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans
