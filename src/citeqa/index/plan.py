"""Which files an update embeds: added and changed ones; unchanged ones keep their vectors (both backends)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UpdatePlan:
    """Sources of the new corpus by what happens to them; ``full`` when nothing is reused."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    full: bool = True

    @property
    def embed(self) -> tuple[str, ...]:
        """Sources to embed, in corpus order of their kind (added, then changed)."""
        return self.added + self.changed

    def describe(self) -> list[str]:
        """Progress lines, e.g. ``unchanged: 2 files``, ``re-embedding 1 changed file: b.md``."""
        if self.full:
            return []
        lines = []
        if self.unchanged:
            lines.append(f"unchanged: {_count(len(self.unchanged), 'file')}")
        if self.changed:
            lines.append(f"re-embedding {_count(len(self.changed), 'changed file')}: {_names(self.changed)}")
        if self.added:
            lines.append(f"embedding {_count(len(self.added), 'added file')}: {_names(self.added)}")
        if self.removed:
            lines.append(f"removed: {_names(self.removed)}")
        if not (self.changed or self.added or self.removed):
            lines.append("no document changed: nothing to embed")
        return lines


def plan_update(
    sources: Sequence[str],
    recorded: Mapping[str, dict[str, Any]] | None,
    unchanged: Callable[[str, dict[str, Any]], bool],
) -> UpdatePlan:
    """Compare the corpus's ``sources`` with what an index ``recorded`` (None: a full build).

    ``unchanged(source, record)`` says whether a recorded file's stored vectors still fit it; each
    backend knows how it can tell (same bytes and the same passages and sentences).
    """
    if recorded is None:
        return UpdatePlan(added=tuple(sources))
    added = tuple(s for s in sources if s not in recorded)
    same = tuple(s for s in sources if s in recorded and unchanged(s, recorded[s]))
    changed = tuple(s for s in sources if s in recorded and s not in same)
    removed = tuple(s for s in recorded if s not in set(sources))
    return UpdatePlan(added, changed, same, removed, full=False)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _names(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} … and {len(names) - limit} more"
