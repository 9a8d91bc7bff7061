"""What a document is about, in a few words: its title and top-level sections, from its headings.

Used to tell a user what the indexed documents cover (a greeting's reply) and to suggest questions.
Works for any document: an unnumbered first heading followed by other top-level headings is the
title (``以「總合外交」打造…`` before ``一、…``); a document under one top heading (a Markdown ``#``
title) lists its second-level headings; a document without headings is named by its file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from citeqa.corpus.model import Passage

_NUMBERED = re.compile(r"^([一二三四五六七八九十百]+、|[(（][一二三四五六七八九十百]+[)）]|\d{1,2}[.．、])\s*")
_SUBTITLE = re.compile(r"[：:]")
MAX_SECTIONS = 8


def outline_of(passages: Iterable[Passage]) -> dict[str, dict[str, object]]:
    """Source → ``{"title": str, "sections": [str, …]}``, headings in document order.

    ``sections`` are the headings one level below the title (at most ``MAX_SECTIONS``).
    """
    paths: dict[str, list[tuple[str, ...]]] = {}
    for p in passages:
        seen = paths.setdefault(p.source, [])
        if not seen or seen[-1] != p.section:
            seen.append(p.section)
    return {source: _outline(source, sections) for source, sections in paths.items()}


def _outline(source: str, paths: list[tuple[str, ...]]) -> dict[str, object]:
    tops = _distinct(path[0] for path in paths if path)
    if not tops:
        return {"title": source.rsplit("/", 1)[-1].rsplit(".", 1)[0], "sections": []}
    if len(tops) == 1:
        title, sections = tops[0], _distinct(path[1] for path in paths if len(path) > 1)
    elif not _NUMBERED.match(tops[0]):
        title, sections = tops[0], tops[1:]
    else:
        title, sections = source.rsplit("/", 1)[-1].rsplit(".", 1)[0], tops
    return {"title": title, "sections": sections[:MAX_SECTIONS]}


def _distinct(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def topic(heading: str, limit: int = 24) -> str:
    """The topic a heading names: its numbering and subtitle dropped.

    ``"一、以民主為基礎的價值外交：持續鞏固邦交關係…"`` → ``"以民主為基礎的價值外交"``.
    """
    core = _NUMBERED.sub("", heading.strip()).rstrip("。.")
    core = _SUBTITLE.split(core, maxsplit=1)[0].strip()
    return core if len(core) <= limit else core[:limit] + "…"
