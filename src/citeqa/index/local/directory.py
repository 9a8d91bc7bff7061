"""What an index directory holds, who may write it, and what it was built from.

Three rules keep a user's index safe:

- only a *new* directory (absent, or holding nothing but a lock and leftovers of a killed build)
  is ever filled implicitly; a directory with generations whose pointer or manifest cannot be read
  is *broken* and is refused, never replaced;
- one writer at a time, for the whole read-plan-write cycle (``writer``): a second ``citeqa index``
  fails at once instead of silently deleting what the first one reported as written;
- a rebuild comes only from the paths a manifest recorded (``recorded_request``); when none
  survive, the user is told to name the documents.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from citeqa.errors import IndexStateError, InputError
from citeqa.index.request import recorded_request

LOCK_NAME = ".lock"
_LEFTOVERS = (".tmp-", ".CURRENT.")  # a killed build's temporary generation and pointer


class DirState(enum.Enum):
    """What an index directory holds.

    ``NEW``: nothing to lose; ``LIVE``: ``CURRENT`` names a generation; ``BROKEN``: an index is there
    but its pointer is missing or names no generation.
    """

    NEW = "new"
    LIVE = "live"
    BROKEN = "broken"


def inspect(index_dir: Path) -> DirState:
    """The state of ``index_dir``; InputError when it is a file or a folder of something else."""
    if not index_dir.exists():
        return DirState.NEW
    if not index_dir.is_dir():
        raise InputError(f"{index_dir} is a file, not an index directory; choose another --index")
    try:
        names = [p.name for p in index_dir.iterdir()]
    except OSError as exc:
        raise InputError(f"cannot read the index directory {index_dir} ({exc.strerror or exc})") from exc
    ours = [n for n in names if n != LOCK_NAME and not n.startswith(_LEFTOVERS)]
    if not ours:
        return DirState.NEW
    if not any(n == "CURRENT" or n.startswith("gen-") for n in ours):
        raise InputError(
            f"{index_dir} is not empty and holds no citeqa index ({', '.join(sorted(ours)[:3])} …); "
            "choose an empty or new directory for --index"
        )
    current = index_dir / "CURRENT"
    try:
        gen = current.read_text(encoding="utf-8").strip()
    except OSError:
        return DirState.BROKEN
    return DirState.LIVE if gen.startswith("gen-") and (index_dir / gen).is_dir() else DirState.BROKEN


def check_writable(index_dir: Path) -> None:
    """Fail before any work when ``index_dir`` cannot be created or written (InputError)."""
    inspect(index_dir)  # refuses a file or a foreign folder
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=index_dir, prefix=".tmp-probe-"):
            pass
    except OSError as exc:
        raise InputError(f"cannot write the index directory {index_dir} ({exc.strerror or exc})") from exc


@contextlib.contextmanager
def writer(index_dir: Path, *, wait: bool = False, log: Any = None) -> Iterator[None]:
    """Hold the directory's write lock for a whole build.

    Without ``wait`` a second writer fails at once with IndexStateError (the CLI's exit code 2);
    with it (the implicit first build of the default index by several servers) it waits its turn.
    """
    from filelock import FileLock, Timeout

    check_writable(index_dir)
    lock = FileLock(str(index_dir / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise IndexStateError(
                f"another `citeqa index` is writing {index_dir}; run this again when it has finished"
            ) from None
        if log is not None:
            log(f"waiting for another citeqa process to finish writing {index_dir}")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def ensure_unlocked(index_dir: Path) -> None:
    """Fail fast, before loading a model, when another writer holds ``index_dir`` (a hint, not a lock)."""
    if index_dir.is_dir():
        with writer(index_dir):
            pass


def recorded_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The live manifest, else the newest readable one of any generation left; None if none survives.

    Used only to find what to rebuild from: nothing here is trusted as an index.
    """
    candidates: list[Path] = []
    with contextlib.suppress(OSError):
        candidates.append(index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip())
    with contextlib.suppress(OSError):
        candidates += sorted((p for p in index_dir.glob("gen-*") if p.is_dir()), key=_mtime, reverse=True)
    for gen in candidates:
        try:
            manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict):
            return manifest
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def rebuild_hint(index_dir: Path) -> str:
    """The command that fixes a stale or damaged index, for the end of an error message.

    ``citeqa index --index DIR`` rebuilds from the recorded paths; when no manifest records any,
    the user has to name the documents again.
    """
    if recorded_request(recorded_manifest(index_dir)) is not None:
        return f"run `citeqa index --index {index_dir}` to rebuild it from the paths it was built from"
    return (
        f"its manifest records no paths to rebuild from: run `citeqa index PATH… --index {index_dir}` "
        "naming your documents"
    )


def remove_stale(index_dir: Path, keep: str) -> None:
    """Delete every generation and leftover but ``keep`` (called only after ``keep`` was verified)."""
    import shutil

    for old in index_dir.iterdir():
        if old.name == keep:
            continue
        if old.is_dir() and old.name.startswith(("gen-", ".tmp-")):
            shutil.rmtree(old, ignore_errors=True)
        elif old.name.startswith(".CURRENT."):
            with contextlib.suppress(OSError):
                os.unlink(old)
