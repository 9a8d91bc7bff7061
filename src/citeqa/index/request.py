"""What ``citeqa index`` indexes: the paths given, else the paths an index recorded, else the bundled document.

Shared by both backends, so "re-index from the recorded paths and globs" is decided in one place,
and an existing index is never refilled with the bundled document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citeqa.errors import IndexStateError


@dataclass(frozen=True)
class BuildRequest:
    """What to index: the paths given (files and folders) and the globs; no paths = the bundled document."""

    paths: tuple[Path, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


def build_request(
    paths: Sequence[Path],
    include: Sequence[str],
    exclude: Sequence[str],
    *,
    new: bool,
    recorded: dict[str, Any] | None,
    where: str,
) -> BuildRequest:
    """Decide what ``citeqa index`` indexes.

    Paths given win. Without paths, a new index holds the bundled document, and an existing one
    (``new`` false, ``recorded`` its manifest if one can be read) is rebuilt from the paths and globs
    its manifest recorded; globs given now replace the recorded ones. An index that records no paths
    is never refilled with the bundled document: IndexStateError tells the user to name the documents.
    """
    if paths:
        return BuildRequest(tuple(paths), tuple(include), tuple(exclude))
    if new:
        return BuildRequest((), tuple(include), tuple(exclude))
    found = recorded_request(recorded)
    if found is None:
        raise IndexStateError(
            f"the index at {where} cannot be read and records no paths to rebuild from; "
            "name your documents: `citeqa index PATH… --index …`"
        )
    return BuildRequest(found.paths, tuple(include) or found.include, tuple(exclude) or found.exclude)


def recorded_request(manifest: dict[str, Any] | None) -> BuildRequest | None:
    """The paths and globs a manifest recorded; None when it records none.

    Older manifests and the default index record no roots but each source's path (the bundled
    document by a flag, as it moves with the installation): those are what it was built from.
    """
    if not manifest:
        return None
    include = tuple(manifest.get("include") or ())
    exclude = tuple(manifest.get("exclude") or ())
    roots = manifest.get("roots")
    if roots:
        return BuildRequest(tuple(Path(r) for r in roots), include, exclude)
    sources = manifest.get("sources") or {}
    if sources and all(info.get("bundled") for info in sources.values()):
        return BuildRequest((), include, exclude)
    paths = [Path(info["path"]) for info in sources.values() if info.get("path") and not info.get("bundled")]
    if not paths or len(paths) < len(sources):
        return None
    return BuildRequest(tuple(paths), include, exclude)
