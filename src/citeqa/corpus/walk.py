"""Find the documents in a folder: sorted, hidden names left out, nothing outside the folder read.

What looks like a document but cannot be read as one is reported, never dropped in silence: a
symlink that leads outside the folder, in a loop or nowhere; a FIFO, socket or device (never
opened: a FIFO would block); a sub-folder that cannot be listed. Symlinks to files inside the
folder are followed; symlinks to folders are not, so no walk can loop.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from citeqa.corpus.formats.text import file_kind
from citeqa.corpus.model import Skipped
from citeqa.errors import InputError

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUFFIXES = (*TEXT_SUFFIXES, ".pdf", ".docx")


@dataclass(frozen=True)
class FolderScan:
    """The document files found under a folder, sorted, and what was passed over, with the reason."""

    files: tuple[Path, ...]
    skipped: tuple[Skipped, ...]


def walk_documents(root: Path, *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> FolderScan:
    """Supported, non-hidden files under ``root`` passing the ``include``/``exclude`` globs.

    Raises InputError when ``root`` itself cannot be listed; a sub-folder that cannot be is skipped.
    """
    inside = root.resolve()
    files: list[Path] = []
    skipped: list[Skipped] = []
    todo = [root]
    while todo:
        folder = todo.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            reason = f"{folder}: cannot read this folder ({exc.strerror or exc})"
            if folder == root:
                raise InputError(reason) from exc
            skipped.append(Skipped(str(folder), reason))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            rel = path.relative_to(root).as_posix()
            is_folder, why = _look(entry, inside)
            if not (path_selected(rel, (), exclude) if is_folder else _wanted(rel, include, exclude)):
                continue  # an excluded folder is not walked: everything below it is excluded too
            if why is not None:
                skipped.append(Skipped(entry.path, f"{entry.path}: {why}"))
            elif is_folder:
                todo.append(path)
            else:
                files.append(path)
    return FolderScan(tuple(sorted(files)), tuple(sorted(skipped, key=lambda s: s.path)))


def _look(entry: os.DirEntry[str], inside: Path) -> tuple[bool, str | None]:
    """(whether ``entry`` is or leads to a folder, why it is passed over or None to use it)."""
    try:
        if entry.is_symlink():
            return _follow(Path(entry.path), inside)
        if entry.is_dir(follow_symlinks=False):
            return True, None
        if entry.is_file(follow_symlinks=False):
            return False, None
        return False, f"{file_kind(entry.stat(follow_symlinks=False).st_mode)}, not a document file"
    except OSError as exc:
        return False, f"cannot read ({exc.strerror or exc})"


def _follow(link: Path, inside: Path) -> tuple[bool, str | None]:
    """Where a symlink leads: a file inside the folder is read; anything else is passed over."""
    try:
        target = Path(os.path.realpath(link, strict=True))
        mode = target.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return False, "a symlink loop"
        if exc.errno == errno.ENOENT:
            return False, "a symlink to a file that does not exist"
        return False, f"cannot follow this symlink ({exc.strerror or exc})"
    if not target.is_relative_to(inside):
        return stat.S_ISDIR(mode), f"a symlink to {target}, outside the folder"
    if stat.S_ISDIR(mode):
        return True, "a symlink to a folder, not followed"
    if not stat.S_ISREG(mode):
        return False, f"a symlink to {file_kind(mode)}, not a document file"
    return False, None


def _wanted(rel: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    return PurePosixPath(rel).suffix.lower() in SUFFIXES and path_selected(rel, include, exclude)


def path_selected(rel: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Whether a folder-relative path passes the globs: matches an include (when any) and no exclude.

    ``*`` matches across ``/`` (fnmatch, case-sensitive), a leading ``**/`` may match nothing, and a
    folder matches everything below it: ``"drafts/a/b.md"`` matches ``drafts``, ``drafts/``,
    ``drafts/a``, ``*.md`` and ``**/b.md``; ``"b.md"`` matches ``**/b.md`` and ``*.md`` but not ``drafts``.
    """
    return (not include or any(_glob(rel, g) for g in include)) and not any(_glob(rel, g) for g in exclude)


def _glob(rel: str, pattern: str) -> bool:
    pattern = pattern.replace("\\", "/").removeprefix("./").rstrip("/")
    if not pattern:
        return False
    patterns = {pattern, pattern.removeprefix("**/")}
    candidates = [rel, *(p.as_posix() for p in PurePosixPath(rel).parents if p.as_posix() != ".")]
    return any(fnmatch.fnmatchcase(c, g) for c in candidates for g in patterns)
